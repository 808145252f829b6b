"""Celery tasks of the notifications app. They take ids and plain values, call a
service, and are idempotent: a redelivered task (acks_late, a killed worker)
notifies nobody twice. Their registered names keep the ``workers.`` prefix:
PeriodicTask rows and other services' ``send_task`` calls store them.
"""

import json
import logging

from celery import shared_task

from notifications import services
from notifications.errors import InvalidNotification
from notifications.models import Broadcast
from notifications.serializers import NotificationCreateSerializer
from workers.retrying import RETRY_MAX, RETRYABLE_ERRORS
from workers.retrying import RETRY_ON_DATABASE_ERRORS as _retrying

logger = logging.getLogger(__name__)


@shared_task(name="workers.notify_users", **_retrying)
def notify_users(
    *,
    recipient_ids: list[int],
    title: str,
    idempotency_key: str,
    body: str = "",
    level: str = "info",
    category: str = "general",
    data: dict | None = None,
    url: str | None = None,
) -> int:
    """Notify users from anywhere that can reach the broker; returns rows created.

    The input is checked as ``POST /api/notifications/`` checks it (the same
    serializer); a refusal raises :class:`InvalidNotification`, which is not
    retried. ``idempotency_key`` is required: a redelivered task skips
    recipients who already have a notification with that key.
    """
    checked = NotificationCreateSerializer(
        data={
            "recipients": recipient_ids,
            "title": title,
            "body": body,
            "level": level,
            "category": category,
            "data": {} if data is None else data,
            "url": url,
        }
    )
    if not checked.is_valid():
        # Plain data, so the result backend can store the exception.
        raise InvalidNotification(json.loads(json.dumps(checked.errors)))
    content = checked.validated_data
    created = services.notify(
        recipients=content.pop("recipients"),
        idempotency_key=idempotency_key,
        **content,
    )
    return len(created)


@shared_task(name="workers.fan_out_broadcast", bind=True, **_retrying)
def fan_out_broadcast(self, broadcast_id: int) -> int:
    """Write and push a broadcast's notifications; returns its recipient count."""
    try:
        return services.broadcast_fan_out(broadcast_id=broadcast_id).recipients
    except Broadcast.DoesNotExist:
        logger.warning("broadcast %s no longer exists; nothing to send", broadcast_id)
        return 0
    except RETRYABLE_ERRORS:
        if self.request.retries >= RETRY_MAX:
            services.broadcast_fail(
                broadcast_id=broadcast_id, reason="database unavailable after retries"
            )
        raise
    except Exception as exc:
        logger.exception("broadcast %s failed", broadcast_id)
        services.broadcast_fail(broadcast_id=broadcast_id, reason=repr(exc))
        raise


@shared_task(name="workers.dispatch_due_broadcasts", **_retrying)
def dispatch_due_broadcasts() -> int:
    """Queue scheduled broadcasts whose time has come (Beat, every few seconds)."""
    return len(services.broadcasts_dispatch_due())


@shared_task(name="workers.requeue_stalled_broadcasts", **_retrying)
def requeue_stalled_broadcasts() -> int:
    """Queue again broadcasts stuck in queued or sending (the outbox sweeper)."""
    return len(services.broadcasts_requeue_stalled())


@shared_task(name="workers.purge_old_notifications", **_retrying)
def purge_old_notifications() -> int:
    """Delete read notifications past the retention period (Beat, nightly)."""
    return services.notifications_purge()
