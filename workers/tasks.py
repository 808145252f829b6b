"""Celery tasks. They take ids and plain values, call a service, and are
idempotent: a redelivered task (acks_late, a killed worker) notifies nobody twice.
"""

from celery import shared_task

from notifications import services


@shared_task(name="workers.notify_users")
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

    ``idempotency_key`` is required: a redelivered task skips recipients who
    already have a notification with that key.
    """
    created = services.notify(
        recipients=recipient_ids,
        title=title,
        body=body,
        level=level,
        category=category,
        data=data,
        url=url,
        idempotency_key=idempotency_key,
    )
    return len(created)


# Email tasks live in their own module; importing them here registers them
# wherever this module is (autodiscovery imports workers.tasks only).
from workers.email_tasks import (  # noqa: E402, F401
    email_deliver,
    email_digest_sweep,
    email_missed_sweep,
)
