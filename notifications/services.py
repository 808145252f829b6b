"""Writes of notifications: notify users, mark read, archive.

Every function here stores first and publishes after the commit, through
:mod:`hub.publish`. Call them from views, consumers, signals, management commands
and Celery tasks alike.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from hub import metrics, publish
from notifications import selectors
from notifications.models import Level, Notification, Topic, lock_recipients
from notifications.serializers import notification_payload


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
        if idempotency_key is not None:
            done = set(
                Notification.objects.filter(
                    recipient_id__in=user_ids, idempotency_key=idempotency_key
                ).values_list("recipient_id", flat=True)
            )
            user_ids = [uid for uid in user_ids if uid not in done]
        created = Notification.objects.bulk_create(
            Notification(
                recipient_id=uid,
                title=title,
                body=body,
                level=level,
                category=category,
                topic=topic,
                data=data or {},
                url=url or None,
                idempotency_key=idempotency_key,
            )
            for uid in user_ids
        )
        publish.on_commit(lambda: publish_created(created))
    return created


def publish_created(notifications: list[Notification]) -> None:
    """Push stored notifications to their recipients' sockets (after commit)."""
    if not notifications:
        return
    metrics.NOTIFICATIONS_CREATED.inc(len(notifications))
    by_user: dict[int, list[dict]] = defaultdict(list)
    for n in notifications:
        by_user[n.recipient_id].append(notification_payload(n))
    counts = selectors.notification_unread_counts(user_ids=list(by_user))
    for user_id, payloads in by_user.items():
        publish.notifications_created(user_id, payloads, counts[user_id])


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
