"""Reads for emails: preferences, who is due an email, what goes in it."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from emails.models import Digest, Preference, SentEmail
from notifications.models import Notification


def preference_get(*, user_id: int) -> Preference:
    """The user's preferences: the stored row, or unsaved defaults if none yet."""
    try:
        return Preference.objects.get(user_id=user_id)
    except Preference.DoesNotExist:
        return Preference(user_id=user_id)


def notification_categories(*, user_id: int, limit: int) -> list[str]:
    """The categories of the user's notifications (at most ``limit``, by name):
    the rows the preferences page offers channels for."""
    return list(
        Notification.objects.filter(recipient_id=user_id)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()[:limit]
    )


def user_exists(*, user_id: int) -> bool:
    return get_user_model().objects.filter(pk=user_id).exists()


def _reachable_users() -> QuerySet:
    """Active users with an email address: the only ones the hub ever mails."""
    return get_user_model().objects.filter(is_active=True).exclude(email="")


def missed_watermark(*, user_id: int) -> int:
    """The last notification id a missed-notification email covered, 0 if none."""
    return (
        SentEmail.objects.filter(user_id=user_id, kind=SentEmail.Kind.MISSED)
        .order_by("-last_notification_id")
        .values_list("last_notification_id", flat=True)
        .first()
        or 0
    )


def missed_candidate_user_ids(
    *, due_before: datetime, not_before: datetime
) -> list[int]:
    """Users who may be due a missed-notification email: one query.

    They have email on (or no preferences yet: on is the default), an address,
    and an unread notification created in [not_before, due_before] after their
    watermark. Muted categories and quiet hours are per-user rules, applied by
    the claim.
    """
    watermark = (
        SentEmail.objects.filter(
            user_id=OuterRef("recipient_id"), kind=SentEmail.Kind.MISSED
        )
        .order_by("-last_notification_id")
        .values("last_notification_id")[:1]
    )
    return list(
        Notification.objects.filter(
            read_at__isnull=True,
            archived_at__isnull=True,
            created_at__lte=due_before,
            created_at__gte=not_before,
            recipient__in=_reachable_users(),
        )
        .exclude(recipient__email_preference__email=False)
        .alias(watermark=Coalesce(Subquery(watermark), Value(0)))
        .filter(id__gt=F("watermark"))
        .values_list("recipient_id", flat=True)
        .distinct()
        .order_by("recipient_id")
    )


def missed_unread(
    *, user_id: int, after_id: int, not_before: datetime
) -> list[Notification]:
    """A user's unread notifications after a watermark, oldest first (id, category
    and created_at only)."""
    return list(
        Notification.objects.filter(
            recipient_id=user_id,
            read_at__isnull=True,
            archived_at__isnull=True,
            id__gt=after_id,
            created_at__gte=not_before,
        )
        .order_by("id")
        .only("id", "category", "created_at")
    )


def missed_email_notifications(
    *, user_id: int, first_id: int, last_id: int, muted: list[str]
) -> QuerySet[Notification]:
    """What a missed-notification email shows: still unread, not muted, newest first."""
    return (
        Notification.objects.filter(
            recipient_id=user_id,
            id__gte=first_id,
            id__lte=last_id,
            read_at__isnull=True,
            archived_at__isnull=True,
        )
        .exclude(category__in=muted)
        .select_related("topic")
        .order_by("-id")
    )


def digest_preferences() -> QuerySet[Preference]:
    """Preferences of reachable users who asked for a digest."""
    return (
        Preference.objects.exclude(digest=Digest.OFF)
        .filter(user__in=_reachable_users())
        .select_related("user")
        .order_by("user_id")
    )


def sent_keys(*, user_ids: list[int], keys: set[str]) -> set[tuple[int, str]]:
    """Which (user id, key) pairs among these users and keys already have a row."""
    return set(
        SentEmail.objects.filter(user_id__in=user_ids, key__in=keys).values_list(
            "user_id", "key"
        )
    )


def digest_notifications(
    *, user_id: int, start: datetime, end: datetime, muted: list[str]
) -> QuerySet[Notification]:
    """A period's notifications for a digest: unread first, then newest first."""
    return (
        Notification.objects.filter(
            recipient_id=user_id,
            archived_at__isnull=True,
            created_at__gte=start,
            created_at__lt=end,
        )
        .exclude(category__in=muted)
        .select_related("topic")
        .order_by(
            Case(
                When(read_at__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "-id",
        )
    )


def category_counts(notifications: QuerySet[Notification]) -> list[dict]:
    """[{category, total, unread}] of a set of notifications, largest first."""
    return list(
        notifications.order_by()
        .values("category")
        .annotate(total=Count("id"), unread=Count("id", filter=Q(read_at__isnull=True)))
        .order_by("-total", "category")
    )


def outbox_due(*, now: datetime) -> QuerySet[SentEmail]:
    """Unsent rows whose (re)send time has come: the outbox sweep's work."""
    return SentEmail.objects.filter(
        status__in=[SentEmail.Status.PENDING, SentEmail.Status.SENDING],
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at")
