"""The admin's broadcasts go out like the API's: queued after the commit (or
scheduled), watched by the sweeper."""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from notifications import services
from notifications.models import Broadcast, Topic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(make_user, client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def deploys(db):
    return Topic.objects.create(slug="deploys", name="Deploys")


def form(topic: Topic, **fields) -> dict:
    return {
        "topic": topic.pk,
        "title": "From the admin",
        "body": "",
        "level": "info",
        "category": "general",
        "data": "{}",
        "url": "",
        "send_at_0": "",
        "send_at_1": "",
        "idempotency_key": "",
        **fields,
    }


def fan_outs_queued(broadcast_id: int) -> int:
    """Fan-out messages for this broadcast waiting in the real broker's queue."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = broker.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)
    headers = [json.loads(raw)["headers"] for raw in messages]
    return sum(
        1
        for h in headers
        if h["task"] == "workers.fan_out_broadcast"
        and h["argsrepr"] == f"[{broadcast_id}]"
    )


def test_admin_broadcast__queued_for_fan_out_once(admin_client, deploys):
    response = admin_client.post("/admin/notifications/broadcast/add/", form(deploys))

    assert response.status_code == 302, response.content[:2000]
    item = Broadcast.objects.get()
    assert item.status == "queued"
    assert item.progress_at is not None  # the sweeper watches it
    assert item.created_by.username == "root"
    assert fan_outs_queued(item.pk) == 1


def test_admin_broadcast__future_send_at_is_scheduled_not_queued(admin_client, deploys):
    later = timezone.localtime() + timedelta(hours=1)
    response = admin_client.post(
        "/admin/notifications/broadcast/add/",
        form(
            deploys,
            send_at_0=later.strftime("%Y-%m-%d"),
            send_at_1=later.strftime("%H:%M:%S"),
        ),
    )

    assert response.status_code == 302, response.content[:2000]
    item = Broadcast.objects.get()
    assert item.status == "scheduled"
    assert fan_outs_queued(item.pk) == 0
    assert services.broadcasts_dispatch_due(now=later + timedelta(seconds=1)) == [
        item.pk
    ]


def test_api_broadcast__queued_once_not_twice(staff, deploys, api_client):
    response = api_client(staff).post(
        "/api/broadcasts/", {"topic": "deploys", "title": "x"}, format="json"
    )

    assert fan_outs_queued(response.json()["id"]) == 1


def test_sweeper__requeues_a_queued_row_without_progress_time(deploys, settings):
    # bulk_create skips Broadcast.save: no progress time, no fan-out queued.
    [item] = Broadcast.objects.bulk_create([Broadcast(topic=deploys, title="raw")])
    stale = timezone.now() + timedelta(seconds=settings.BROADCAST_STALL_SECS + 1)

    assert services.broadcasts_requeue_stalled(now=stale) == [item.pk]
    assert fan_outs_queued(item.pk) == 1
