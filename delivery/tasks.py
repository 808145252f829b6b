"""Celery tasks of the delivery app: the push sweep (Beat, every second) and one
send per claimed push.

The sweep claims pushes coming due (delivery.escalation) and queues each for
its due time; the rows make it idempotent, and ``push_deliver`` sends a row at
most once (delivery.services).
"""

from celery import shared_task

from delivery import services
from workers.retrying import RETRY_ON_DATABASE_ERRORS as _retrying


@shared_task(name="workers.push_sweep", **_retrying)
def push_sweep() -> int:
    """Queue the pushes coming due and the overdue ones; returns how many."""
    claimed, overdue = services.push_sweep()
    for delivery_id, due in claimed:
        push_deliver.apply_async(args=[delivery_id], eta=due)
    for delivery_id in overdue:
        push_deliver.delay(delivery_id)
    return len(claimed) + len(overdue)


@shared_task(name="workers.push_deliver", **_retrying)
def push_deliver(delivery_id: int) -> str:
    """Decide and send one claimed push (a no-op if done or being sent)."""
    return services.push_deliver(delivery_id=delivery_id)
