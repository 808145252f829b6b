"""Writes of notifications: notify users, mark read, archive.

Every function here stores first and publishes after the commit, through
:mod:`realtime.publish`. Call them from views, consumers, signals, management commands
and Celery tasks alike.
"""

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from delivery import escalation
from hub import metrics
from notifications import selectors
from notifications.errors import BroadcastNotCancellable, TopicForbidden
from notifications.models import (
    Broadcast,
    Level,
    Notification,
    Subscription,
    Topic,
    lock_recipients,
)
from notifications.serializers import notification_payload
from realtime import publish

logger = logging.getLogger(__name__)

# notifications.tasks.fan_out_broadcast, queued by name (tasks import services).
FAN_OUT_BROADCAST_TASK = "workers.fan_out_broadcast"


def notify(
    *,
    recipients: Iterable[AbstractBaseUser | int],
    title: str,
    body: str = "",
    level: str = Level.INFO,
    category: str = "general",
    topic: Topic | None = None,
    data: dict | None = None,
    url: str | None = None,
    idempotency_key: str | None = None,
) -> list[Notification]:
    """Store one notification per recipient and push each to its user's sockets.

    With ``idempotency_key``, a recipient who already has a notification with
    that key is skipped, so a retried task or request notifies nobody twice.
    Returns the rows created by this call. Input is trusted: validate user input
    with ``NotificationContentSerializer`` first.
    """
    user_ids = sorted({getattr(r, "pk", r) for r in recipients})
    with transaction.atomic():
        lock_recipients(user_ids)
        # PostgreSQL skips existing (recipient, key) rows in the INSERT itself.
        if idempotency_key is not None and connection.vendor != "postgresql":
            done = set(
                Notification.objects.filter(
                    recipient_id__in=user_ids, idempotency_key=idempotency_key
                ).values_list("recipient_id", flat=True)
            )
            user_ids = [uid for uid in user_ids if uid not in done]
        created = _insert(
            user_ids,
            title=title,
            body=body,
            level=level,
            category=category,
            topic=topic,
            data=data or {},
            url=url or None,
            idempotency_key=idempotency_key,
        )
        publish.on_commit(lambda: publish_created(created))
    return created


def _insert(user_ids: list[int], **fields) -> list[Notification]:
    """Insert one notification per user with the same content; ids ascend by user.

    On PostgreSQL one ``INSERT ... SELECT unnest(...)`` statement, about three
    times faster than ``bulk_create`` for a broadcast chunk (docs/ARCHITECTURE.md).
    """
    if not user_ids:
        return []
    if connection.vendor != "postgresql":
        return Notification.objects.bulk_create(
            Notification(recipient_id=uid, **fields) for uid in user_ids
        )
    topic = fields["topic"]
    with connection.cursor() as cursor:
        cursor.execute(
            _PG_INSERT,
            [
                fields["title"],
                fields["body"],
                fields["level"],
                fields["category"],
                topic.pk if topic else None,
                json.dumps(fields["data"]),
                fields["url"],
                fields["idempotency_key"],
                list(user_ids),
            ],
        )
        rows = cursor.fetchall()
    created = []
    for pk, recipient_id, created_at in rows:
        n = Notification(
            pk=pk, recipient_id=recipient_id, created_at=created_at, **fields
        )
        n._state.adding = False
        created.append(n)
    return created


_PG_INSERT = """
INSERT INTO notifications_notification
    (recipient_id, title, body, level, category, topic_id, data, url,
     idempotency_key, created_at)
SELECT r, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, now()
FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(r, n) ORDER BY n
ON CONFLICT (recipient_id, idempotency_key) WHERE idempotency_key IS NOT NULL
DO NOTHING
RETURNING id, recipient_id, created_at
"""


def publish_created(notifications: list[Notification]) -> None:
    """Push stored notifications to their recipients' sockets (after commit).

    For many recipients (a broadcast chunk), only users with a socket open
    somewhere are pushed to: the rest would cost encoding and a Redis publish
    each and reach nobody (they find the rows in their feed or by resuming).
    """
    if not notifications:
        return
    metrics.NOTIFICATIONS_CREATED.inc(len(notifications))
    recipients = {n.recipient_id for n in notifications}
    if len(recipients) >= settings.ONLINE_CHECK_MIN_USERS:
        recipients = publish.online_user_ids(sorted(recipients))
        if not recipients:
            return
    by_user: dict[int, list[dict]] = defaultdict(list)
    pushed = [n for n in notifications if n.recipient_id in recipients]
    for n in pushed:
        by_user[n.recipient_id].append(notification_payload(n))
    # Each push carries its user's previous id: a socket that has not delivered
    # that one yet fetches it first. Read after the commit, and only for the
    # rows pushed: rows commit in id order per user (lock_recipients), so the
    # newest row below this one is the one before it, whenever it is asked.
    prev_ids = selectors.notification_ids_before(
        notification_ids=[n.pk for n in pushed]
    )
    counts = selectors.notification_unread_counts(user_ids=list(by_user))
    quiet = escalation.quiet_ids(pushed)
    publish.notifications_created(by_user, counts, prev_ids, quiet)


def notification_mark_read(*, user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's notifications read; every socket of the user hears.

    Raises ``Notification.DoesNotExist`` for an unknown id or anyone else's.
    """
    notification = selectors.notification_get_own(
        user_id=user_id, notification_id=notification_id
    )
    if notification.read_at is None:
        notification.read_at = timezone.now()
        changed = Notification.objects.filter(
            pk=notification.pk, read_at__isnull=True
        ).update(read_at=notification.read_at)
        if changed:
            publish.on_commit(lambda: _publish_read(user_id, [notification.pk]))
    return notification


def notifications_mark_all_read(*, user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many."""
    with transaction.atomic():
        ids = list(
            Notification.objects.filter(
                recipient_id=user_id, read_at__isnull=True, archived_at__isnull=True
            ).values_list("id", flat=True)
        )
        if ids:
            Notification.objects.filter(id__in=ids).update(read_at=timezone.now())
            publish.on_commit(lambda: _publish_read(user_id, ids))
    return len(ids)


def notifications_mark_seen(
    *, user_id: int, notification_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Record that a socket of the user showed these notifications on a visible
    page; returns how many were newly seen.

    Only the first report counts (``seen_at`` never moves), and ids of other
    users' notifications are ignored rather than refused: a tab may report a
    notification archived meanwhile. A seen notification is not pushed
    (delivery.escalation).
    """
    return Notification.objects.filter(
        recipient_id=user_id, pk__in=set(notification_ids), seen_at__isnull=True
    ).update(seen_at=now or timezone.now())


def notification_archive(*, user_id: int, notification_id: int) -> None:
    """Hide one of the user's notifications from the feed and the count."""
    notification = selectors.notification_get_own(
        user_id=user_id, notification_id=notification_id
    )
    Notification.objects.filter(pk=notification.pk).update(archived_at=timezone.now())
    if notification.read_at is None:
        publish.on_commit(lambda: _publish_read(user_id, []))


def _publish_read(user_id: int, ids: list[int]) -> None:
    publish.notifications_read(
        user_id, ids, selectors.notification_unread_count(user_id=user_id)
    )


# --- Topics -----------------------------------------------------------------------


def topic_subscribe(*, user, slug: str) -> Topic:
    """Follow a topic; the user's open sockets join its group at once.

    Raises ``TopicNotFound`` or ``TopicForbidden``. Following twice is a no-op.
    """
    topic = selectors.topic_get(slug=slug)
    if not selectors.topic_may_follow(user=user, topic=topic):
        raise TopicForbidden(slug)
    Subscription.objects.get_or_create(user=user, topic=topic)
    publish.on_commit(lambda: publish.subscription_changed(user.pk, slug, True))
    return topic


def topic_unsubscribe(*, user, slug: str) -> Topic:
    """Stop following a topic; the user's open sockets leave its group at once."""
    topic = selectors.topic_get(slug=slug)
    Subscription.objects.filter(user=user, topic=topic).delete()
    publish.on_commit(lambda: publish.subscription_changed(user.pk, slug, False))
    return topic


def topic_event_send(*, slug: str, event: dict) -> None:
    """Push an ephemeral event to the topic's sockets; nothing is stored."""
    topic = selectors.topic_get(slug=slug)
    publish.topic_event(topic.slug, event)


# --- Broadcasts -------------------------------------------------------------------


def broadcast(
    *,
    topic: Topic | None,
    title: str,
    body: str = "",
    level: str = Level.INFO,
    category: str = "general",
    data: dict | None = None,
    url: str | None = None,
    send_at: datetime | None = None,
    created_by=None,
    idempotency_key: str | None = None,
) -> tuple[Broadcast, bool]:
    """Accept a broadcast to a topic's followers (or everyone, ``topic=None``).

    The row is committed first (the outbox); the fan-out task is queued after the
    commit, or by the dispatcher when ``send_at`` comes. With an
    ``idempotency_key`` already used by ``created_by``, nothing new is accepted
    and the first broadcast is returned. Returns (broadcast, created).
    """
    if idempotency_key is not None:
        existing = Broadcast.objects.filter(
            created_by=created_by, idempotency_key=idempotency_key
        ).first()
        if existing:
            return existing, False
    scheduled = send_at is not None and send_at > timezone.now()
    try:
        with transaction.atomic():
            item = Broadcast.objects.create(
                topic=topic,
                title=title,
                body=body,
                level=level,
                category=category,
                data=data or {},
                url=url or None,
                send_at=send_at,
                status=Broadcast.Status.SCHEDULED
                if scheduled
                else Broadcast.Status.QUEUED,
                created_by=created_by,
                idempotency_key=idempotency_key,
                progress_at=timezone.now(),
            )  # queued after the commit by notifications.signals, if not scheduled
    except IntegrityError:  # a concurrent retry with the same key won the race
        return Broadcast.objects.get(
            created_by=created_by, idempotency_key=idempotency_key
        ), False
    return item, True


def enqueue_fan_out(broadcast_id: int) -> None:
    """Queue a broadcast's fan-out task; if the broker is down, the sweeper will."""
    try:
        current_app.send_task(FAN_OUT_BROADCAST_TASK, args=[broadcast_id])
    except Exception:  # the broker is down: the row stays queued for the sweeper
        logger.exception("could not queue broadcast %s; the sweeper will", broadcast_id)


def broadcast_cancel(*, broadcast_id: int) -> Broadcast:
    """Cancel a scheduled broadcast; raises ``BroadcastNotCancellable`` otherwise."""
    changed = Broadcast.objects.filter(
        pk=broadcast_id, status=Broadcast.Status.SCHEDULED
    ).update(status=Broadcast.Status.CANCELLED)
    item = Broadcast.objects.get(pk=broadcast_id)
    if not changed:
        raise BroadcastNotCancellable(item.status)
    return item


def broadcast_fan_out(*, broadcast_id: int) -> Broadcast:
    """Write one notification per recipient, in chunks, and push each live.

    Idempotent: every row carries the broadcast's key and ``notify`` skips
    recipients who already have it, so a redelivered or re-queued run (a worker
    killed mid-way) completes the audience without writing or pushing twice.
    """
    item = Broadcast.objects.select_related("topic").get(pk=broadcast_id)
    claimable = (Broadcast.Status.QUEUED, Broadcast.Status.SENDING)
    claimed = Broadcast.objects.filter(pk=item.pk, status__in=claimable).update(
        status=Broadcast.Status.SENDING, progress_at=timezone.now()
    )
    if not claimed:  # sent, cancelled, failed, or still scheduled
        return item
    content = {
        "title": item.title,
        "body": item.body,
        "level": item.level,
        "category": item.category,
        "topic": item.topic,
        "data": item.data,
        "url": item.url,
        "idempotency_key": item.notification_key,
    }
    # Connected followers first, so live delivery ends after their few chunks,
    # not after the whole audience; the full walk then skips them (same key).
    online = _online_audience(item.topic_id)
    for start in range(0, len(online), settings.BROADCAST_CHUNK_USERS):
        notify(
            recipients=online[start : start + settings.BROADCAST_CHUNK_USERS], **content
        )
        Broadcast.objects.filter(pk=item.pk).update(progress_at=timezone.now())
    after_user_id = 0
    while chunk := selectors.broadcast_audience_chunk(
        topic_id=item.topic_id,
        after_user_id=after_user_id,
        limit=settings.BROADCAST_CHUNK_USERS,
    ):
        after_user_id = chunk[-1]
        notify(recipients=chunk, **content)
        Broadcast.objects.filter(pk=item.pk).update(progress_at=timezone.now())
    recipients = Notification.objects.filter(
        idempotency_key=item.notification_key
    ).count()
    Broadcast.objects.filter(pk=item.pk, status=Broadcast.Status.SENDING).update(
        status=Broadcast.Status.SENT, recipients=recipients, sent_at=timezone.now()
    )
    item.refresh_from_db()
    return item


def _online_audience(topic_id: int | None) -> list[int]:
    online = publish.online_users()
    if not online:  # nobody, or unknown: the full walk pushes to whoever is there
        return []
    return selectors.broadcast_audience_among(topic_id=topic_id, user_ids=online)


def broadcast_fail(*, broadcast_id: int, reason: str) -> None:
    Broadcast.objects.filter(pk=broadcast_id).exclude(
        status__in=(Broadcast.Status.SENT, Broadcast.Status.CANCELLED)
    ).update(status=Broadcast.Status.FAILED, failure_reason=reason[:2000])


def broadcasts_dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Queue every scheduled broadcast whose ``send_at`` has come; returns ids."""
    now = now or timezone.now()
    due = list(
        Broadcast.objects.filter(
            status=Broadcast.Status.SCHEDULED, send_at__lte=now
        ).values_list("pk", flat=True)
    )
    queued = []
    for broadcast_id in due:
        with transaction.atomic():
            changed = Broadcast.objects.filter(
                pk=broadcast_id, status=Broadcast.Status.SCHEDULED
            ).update(status=Broadcast.Status.QUEUED, progress_at=now)
            if changed:  # another dispatcher did not get there first
                queued.append(broadcast_id)
                publish.on_commit(lambda b=broadcast_id: enqueue_fan_out(b))
    return queued


def broadcasts_requeue_stalled(*, now: datetime | None = None) -> list[int]:
    """Queue again broadcasts whose fan-out shows no progress for a while.

    Covers a broker that was down when the request came in (still ``queued``)
    and a worker that died mid-fan-out (still ``sending``).
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.BROADCAST_STALL_SECS)
    # No progress time at all (a row written past Broadcast.save, by bulk_create
    # or SQL): its age counts from its creation.
    ids = list(
        Broadcast.objects.filter(
            Q(progress_at__lt=stale)
            | Q(progress_at__isnull=True, created_at__lt=stale),
            status__in=(Broadcast.Status.QUEUED, Broadcast.Status.SENDING),
        ).values_list("pk", flat=True)
    )
    for broadcast_id in ids:
        Broadcast.objects.filter(pk=broadcast_id).update(progress_at=now)
        enqueue_fan_out(broadcast_id)
    return ids


def notifications_purge(*, now: datetime | None = None) -> int:
    """Delete read or archived notifications older than the retention period."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    old = Notification.objects.filter(created_at__lt=cutoff).exclude(
        read_at__isnull=True, archived_at__isnull=True
    )
    deleted = 0
    while True:
        ids = list(old.values_list("pk", flat=True)[: settings.PURGE_BATCH_ROWS])
        if not ids:
            return deleted
        deleted += Notification.objects.filter(pk__in=ids).delete()[0]
