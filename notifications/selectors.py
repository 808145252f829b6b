"""Reads of notifications and topics."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from notifications.errors import TopicNotFound
from notifications.models import Notification, Subscription, Topic, UnreadCount


def notification_feed(
    *,
    user_id: int,
    unread: bool | None = None,
    topic: str | None = None,
    category: str | None = None,
) -> QuerySet[Notification]:
    """A user's visible (not archived) notifications, newest first."""
    qs = Notification.objects.filter(recipient_id=user_id, archived_at__isnull=True)
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    if topic:
        qs = qs.filter(topic__slug=topic)
    if category:
        qs = qs.filter(category=category)
    return qs.select_related("topic").order_by("-id")


# Fixed SQL rather than the ORM: this runs on every unread-count request and every
# socket's hello, and building the query was most of its cost
# (docs/PERFORMANCE.md).
# The table name is the one migration 0003's triggers write.
_UNREAD_COUNT_SQL = "SELECT unread FROM notifications_unreadcount WHERE user_id = %s"


def notification_unread_count(*, user_id: int) -> int:
    """The user's unread (and not archived) notifications: one primary-key read.

    The database triggers of migration 0003 keep ``UnreadCount`` right on every
    write, so this costs the same for 10 rows or 100,000.
    """
    with connection.cursor() as cursor:
        cursor.execute(_UNREAD_COUNT_SQL, [user_id])
        row = cursor.fetchone()
    return row[0] if row else 0


# A socket's first frame in one round trip: the unread count, the resume
# point and the topics followed and still allowed (the rule of
# subscription_allowed; one row per topic; a user with none gets the first row
# alone, with a NULL slug). {user_groups} is the user model's group table.
_SOCKET_STATE_SQL = """
SELECT
    (SELECT unread FROM notifications_unreadcount WHERE user_id = %s),
    (SELECT id FROM notifications_notification
        WHERE recipient_id = %s AND archived_at IS NULL ORDER BY id DESC LIMIT 1),
    followed.slug
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT t.slug FROM notifications_subscription s
    JOIN notifications_topic t ON t.id = s.topic_id
    WHERE s.user_id = %s AND (%s OR (NOT t.staff_only AND (
        t.group_id IS NULL
        OR t.group_id IN (SELECT g.group_id FROM {user_groups} g WHERE g.user_id = %s)
    )))
) AS followed ON TRUE
ORDER BY followed.slug
"""


@dataclass(frozen=True)
class SocketState:
    unread: int
    last_id: int
    topics: list[str]


def socket_state(*, user) -> SocketState:
    """What a socket's ``hello`` carries, in one query: a connect storm's
    cost is mostly round trips to the database (docs/PERFORMANCE.md). The
    topics are those the user follows and may still follow (a follow row
    outlives the access that made it): what the socket joins."""
    sql = _SOCKET_STATE_SQL.format(
        user_groups=get_user_model().groups.through._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, user.pk, user.is_staff, user.pk])
        rows = cursor.fetchall()
    unread, last_id, _ = rows[0]
    return SocketState(
        unread=unread or 0,
        last_id=last_id or 0,
        topics=[slug for _, _, slug in rows if slug is not None],
    )


def notification_unread_counts(*, user_ids: list[int]) -> dict[int, int]:
    """Unread counts of many users in one query (users with none map to 0)."""
    counts = dict.fromkeys(user_ids, 0)
    counts.update(
        UnreadCount.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "unread"
        )
    )
    return counts


def notification_ids_before(*, notification_ids: list[int]) -> dict[int, int]:
    """For each notification, its recipient's newest visible notification id
    below it (0 if none), in one query. Rows commit in id order per user, so
    after a row's commit this is the id that came before it, whenever it is
    asked."""
    if not notification_ids:
        return {}
    before = Notification.objects.filter(
        recipient_id=OuterRef("recipient_id"),
        archived_at__isnull=True,
        id__lt=OuterRef("pk"),
    ).order_by("-id")
    return {
        pk: prev or 0
        for pk, prev in Notification.objects.filter(pk__in=notification_ids)
        .annotate(prev=Subquery(before.values("id")[:1]))
        .values_list("pk", "prev")
    }


def notifications_after(
    *, user_id: int, last_id: int, limit: int
) -> list[Notification]:
    """A user's visible notifications with id > last_id, oldest first, at most limit."""
    return list(
        Notification.objects.filter(
            recipient_id=user_id, archived_at__isnull=True, id__gt=last_id
        )
        .select_related("topic")
        .order_by("id")[:limit]
    )


def notifications_unseen_exist(*, user_id: int, notification_ids: list[int]) -> bool:
    """Whether any of these ids is a notification of the user not seen yet."""
    return Notification.objects.filter(
        recipient_id=user_id, pk__in=notification_ids, seen_at__isnull=True
    ).exists()


def notification_get_own(*, user_id: int, notification_id: int) -> Notification:
    """One visible notification of the user; DoesNotExist for anyone else's."""
    return Notification.objects.select_related("topic").get(
        pk=notification_id, recipient_id=user_id, archived_at__isnull=True
    )


# --- Topics -----------------------------------------------------------------------


def subscription_allowed() -> Q:
    """Subscription rows whose user may follow their topic now (the rule of
    :func:`topic_may_follow`, as a filter). A row outlives the access that let
    it be made (the user left the topic's group, or lost staff): every audience
    query applies this, so such a row reaches nobody until access comes back."""
    in_group = Exists(
        get_user_model().groups.through.objects.filter(
            user_id=OuterRef("user_id"), group_id=OuterRef("topic__group_id")
        )
    )
    return Q(user__is_staff=True) | (
        Q(topic__staff_only=False) & (Q(topic__group__isnull=True) | Q(in_group))
    )


def _followable_by(user) -> Q:
    """Topics ``user`` may follow (the rule of :func:`topic_may_follow`)."""
    if user.is_staff:
        return Q()
    return Q(staff_only=False) & (
        Q(group__isnull=True) | Q(group__in=user.groups.all())
    )


def topic_slugs_may_follow(*, user, slugs: list[str]) -> set[str]:
    """Which of ``slugs`` name topics that exist and ``user`` may follow."""
    return set(
        Topic.objects.filter(_followable_by(user), slug__in=slugs).values_list(
            "slug", flat=True
        )
    )


def topic_may_follow(*, user, topic: Topic) -> bool:
    """Staff may follow anything; others what is neither staff-only nor in a group
    they are not in."""
    if user.is_staff:
        return True
    if topic.staff_only:
        return False
    return topic.group_id is None or user.groups.filter(pk=topic.group_id).exists()


def topics_visible(*, user) -> QuerySet[Topic]:
    """Topics the user may follow, each annotated with ``subscribed``."""
    return (
        Topic.objects.filter(_followable_by(user))
        .annotate(
            subscribed=Exists(
                Subscription.objects.filter(topic=OuterRef("pk"), user_id=user.pk)
            )
        )
        .order_by("slug")
    )


def topic_get(*, slug: str) -> Topic:
    try:
        return Topic.objects.get(slug=slug)
    except Topic.DoesNotExist as exc:
        raise TopicNotFound(slug) from exc


def topic_followed(*, user_id: int, slug: str) -> bool:
    """Whether the user follows the topic; TopicNotFound for no such topic."""
    found = (
        Topic.objects.filter(slug=slug)
        .annotate(
            followed=Exists(
                Subscription.objects.filter(topic=OuterRef("pk"), user_id=user_id)
            )
        )
        .values_list("followed", flat=True)
        .first()
    )
    if found is None:
        raise TopicNotFound(slug)
    return found


def topic_slugs_followed(*, user_id: int) -> list[str]:
    """Every topic the user follows, whether or not they may still follow it."""
    return list(
        Subscription.objects.filter(user_id=user_id)
        .order_by("topic__slug")
        .values_list("topic__slug", flat=True)
    )


def broadcast_audience_chunk(
    *, topic_id: int | None, after_user_id: int, limit: int
) -> list[int]:
    """The next ``limit`` user ids a broadcast reaches, ascending, after one id.

    A topic's active followers who may still follow it
    (:func:`subscription_allowed`), or every active user when ``topic_id`` is
    None.
    Keyset pagination: each chunk is one short index range query, and a re-run
    walks the same order.
    """
    if topic_id is None:
        qs = (
            get_user_model()
            .objects.filter(is_active=True, pk__gt=after_user_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    else:
        qs = (
            Subscription.objects.filter(
                subscription_allowed(),
                topic_id=topic_id,
                user__is_active=True,
                user_id__gt=after_user_id,
            )
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )
    return list(qs[:limit])


def broadcast_audience_among(*, topic_id: int | None, user_ids: set[int]) -> list[int]:
    """Which of ``user_ids`` a broadcast reaches, ascending."""
    found: list[int] = []
    ordered = sorted(user_ids)
    for start in range(0, len(ordered), 1000):
        part = ordered[start : start + 1000]
        if topic_id is None:
            qs = get_user_model().objects.filter(is_active=True, pk__in=part)
            found += qs.values_list("pk", flat=True)
        else:
            qs = Subscription.objects.filter(
                subscription_allowed(),
                topic_id=topic_id,
                user__is_active=True,
                user_id__in=part,
            )
            found += qs.values_list("user_id", flat=True)
    return sorted(found)
