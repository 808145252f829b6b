"""Reads of the delivery app: subscriptions, the pushes to decide, and the
per-category channels of the people a notification goes to."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from delivery.models import PushDelivery, PushSubscription
from emails.models import Preference
from notifications.models import Notification

# Notifications one sweep claims at most; the next sweep takes the rest.
PUSH_CLAIM_BATCH = 1000


def subscriptions_of(*, user_id: int) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user_id=user_id).order_by("id")


def channel_preferences(*, user_ids: Iterable[int]) -> dict[int, Preference]:
    """user id -> preferences, for those of ``user_ids`` who turned a channel
    on or off for some category (the others have every channel on for every
    category)."""
    rows = Preference.objects.filter(user_id__in=list(user_ids)).exclude(
        category_channels={}
    )
    return {p.user_id: p for p in rows}


def push_candidates(
    *, created_before: datetime, created_after: datetime
) -> list[tuple[int, int, datetime]]:
    """(id, recipient id, created_at) of notifications that may need a push:
    created in the window, not seen, read or archived, for a user with a push
    subscription, and not yet claimed. The decision itself is taken when due."""
    return list(
        Notification.objects.filter(
            created_at__lte=created_before,
            created_at__gt=created_after,
            seen_at__isnull=True,
            read_at__isnull=True,
            archived_at__isnull=True,
            recipient_id__in=PushSubscription.objects.values("user_id"),
            push_delivery__isnull=True,
        )
        .order_by("id")
        .values_list("id", "recipient_id", "created_at")[:PUSH_CLAIM_BATCH]
    )


def push_outbox_due(*, now: datetime) -> QuerySet[PushDelivery]:
    """Unfinished pushes whose queued task is overdue (lost, worker killed)."""
    return PushDelivery.objects.filter(
        status__in=(PushDelivery.Status.SCHEDULED, PushDelivery.Status.SENDING),
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at")
