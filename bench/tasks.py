"""Celery tasks that only `make bench` loads (its worker runs with ``-I bench.tasks``).

They time the hub's own publish paths inside a real worker process and leave the
figures in the cache, where the bench reads them; the product never imports them.
"""

import time

from celery import shared_task
from django.core.cache import cache

from realtime import groups, publish

RESULT_TTL_SECS = 600


@shared_task(name="bench.publish_probe")
def publish_probe(*, key: str, user_ids: list[int], events: int) -> dict:
    """Publish ``events`` events through :mod:`realtime.publish` two ways; time them.

    batched: one ``notifications_created`` call carrying one notification per
    event, as a broadcast chunk publishes (encoding and the pipelined PUBLISH).
    single: one ``topic_event`` call per event, as views and tasks publish one
    event at a time through the process's long-lived publisher loop.
    """
    publish.send(groups.topic("bench-probe"), publish.message(groups.TOPIC_EVENT, []))
    by_user: dict[int, list[dict]] = {}
    for i in range(events):
        user_id = user_ids[i % len(user_ids)]
        by_user.setdefault(user_id, []).append(
            {"id": -1 - i, "title": "probe", "data": {}, "topic": None}
        )
    unread = dict.fromkeys(by_user, 0)
    started = time.perf_counter()
    publish.notifications_created(by_user, unread)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(events):
        publish.topic_event("bench-probe", {"seq": i})
    single = time.perf_counter() - started
    result = {
        "events": events,
        "batched_ms_per_event": batched * 1000 / events,
        "single_ms_per_event": single * 1000 / events,
    }
    cache.set(key, result, RESULT_TTL_SECS)
    return result


@shared_task(name="bench.push_probe")
def push_probe(*, key: str, user_ids: list[int]) -> dict:
    """Time the push path inside a worker: the escalation's claim per notification
    (what the push sweep costs) and push_deliver end to end, one push at a time,
    to each user's one subscription (the bench's push service)."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from delivery import escalation, services
    from notifications import services as notification_services
    from notifications.models import Notification

    created = notification_services.notify(recipients=user_ids, title="push probe")
    past = timezone.now() - timedelta(seconds=settings.PUSH_AFTER_SECS + 1)
    Notification.objects.filter(pk__in=[n.pk for n in created]).update(created_at=past)
    started = time.perf_counter()
    claimed = escalation.push_claim_due(now=timezone.now())
    claim = time.perf_counter() - started
    started = time.perf_counter()
    statuses = [services.push_deliver(delivery_id=i) for i, _ in claimed]
    deliver = time.perf_counter() - started
    result = {
        "notifications": len(created),
        "claimed": len(claimed),
        "sent": statuses.count("sent"),
        "claim_ms_per_notification": claim * 1000 / max(1, len(claimed)),
        "pushes_per_sec": statuses.count("sent") / deliver if deliver else None,
    }
    cache.set(key, result, RESULT_TTL_SECS)
    return result
