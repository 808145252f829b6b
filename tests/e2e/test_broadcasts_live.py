"""Broadcasts through the real worker: exactly once per recipient and per socket."""

import asyncio
import contextlib
import json
import time
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from hub.celery import app as celery_app
from notifications import services
from notifications.models import Broadcast, Notification, Subscription, Topic
from tests.e2e.test_live_stack import FRAME_TIMEOUT_SECS, open_socket, post, recv
from tests.support.audience import make_audience

pytestmark = pytest.mark.django_db(transaction=True)

AUDIENCE = 1000
CONNECTED = 20


def wait_status(live_hub, staff, broadcast_id: int, status: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{live_hub.base_url}/api/broadcasts/{broadcast_id}/",
            headers={"Authorization": f"Token {staff.auth_token.key}"},
            timeout=5,
        ).json()
        if body["status"] == status:
            return body
        time.sleep(0.05)  # polling an HTTP resource, not synchronising threads
    raise TimeoutError(f"broadcast {broadcast_id} never reached {status}: {body}")


async def test_broadcast__every_follower_one_row_every_socket_one_frame(
    live_hub, staff
):
    topic = await sync_to_async(Topic.objects.create)(slug="deploys", name="Deploys")
    users = await sync_to_async(make_audience)(
        topic, size=AUDIENCE, connected=CONNECTED, prefix="sub"
    )
    sockets = [(await open_socket(live_hub, u))[0] for u in users[:CONNECTED]]

    started = time.perf_counter()
    response = await sync_to_async(post)(
        live_hub, staff, "/api/broadcasts/", {"topic": "deploys", "title": "Deployed"}
    )
    assert response.status_code == 202
    for ws in sockets:
        frame = await recv(ws)
        assert frame["type"] == "notification"
        assert frame["notification"]["title"] == "Deployed"
        assert frame["notification"]["topic"] == "deploys"
    elapsed_ms = (time.perf_counter() - started) * 1e3
    print(f"202 to last of {CONNECTED} sockets: {elapsed_ms:.0f} ms")

    body = await sync_to_async(wait_status)(
        live_hub, staff, response.json()["id"], "sent"
    )
    assert body["recipients"] == AUDIENCE
    rows = Notification.objects.filter(title="Deployed")
    assert await sync_to_async(rows.count)() == AUDIENCE
    assert await sync_to_async(rows.values("recipient").distinct().count)() == AUDIENCE
    for ws in sockets:  # after the unread frame, nothing more: one frame each
        assert (await recv(ws))["type"] == "unread"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        await ws.close()


@contextlib.contextmanager
def broker_unreachable():
    """Point this process's Celery at a port where nothing listens."""
    saved = (
        celery_app.conf.broker_url,
        celery_app.conf.task_publish_retry,
        celery_app._pool,
        celery_app.amqp._producer_pool,
    )
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app.conf.task_publish_retry = False
    celery_app._pool = celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        (
            celery_app.conf.broker_url,
            celery_app.conf.task_publish_retry,
            celery_app._pool,
            celery_app.amqp._producer_pool,
        ) = saved


async def test_broadcast__accepted_while_broker_down_goes_out_after_sweep(
    live_hub, staff, settings
):
    topic = await sync_to_async(Topic.objects.create)(slug="ops", name="Ops")
    users = await sync_to_async(make_audience)(
        topic, size=AUDIENCE, connected=CONNECTED, prefix="sub"
    )
    ws, _ = await open_socket(live_hub, users[0])

    with broker_unreachable():
        item, _ = await sync_to_async(services.broadcast)(topic=topic, title="Outage")
    await sync_to_async(item.refresh_from_db)()
    assert item.status == "queued"  # stored, though nothing could be queued

    # Let the stall period pass without waiting for it.
    await sync_to_async(Broadcast.objects.filter(pk=item.pk).update)(
        progress_at=item.created_at - timedelta(seconds=settings.BROADCAST_STALL_SECS)
    )
    assert await sync_to_async(services.broadcasts_requeue_stalled)() == [item.pk]

    frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS))
    assert frame["notification"]["title"] == "Outage"
    body = await sync_to_async(wait_status)(live_hub, staff, item.pk, "sent")
    assert body["recipients"] == AUDIENCE
    await ws.close()


async def test_admin_broadcast__goes_out_through_the_worker(live_hub, staff, alice):
    """A broadcast added in the admin reaches `sent` and its follower's socket."""
    topic = await sync_to_async(Topic.objects.create)(slug="news", name="News")
    await sync_to_async(Subscription.objects.create)(user=alice, topic=topic)
    ws, _ = await open_socket(live_hub, alice)
    root = await sync_to_async(get_user_model().objects.create_superuser)("root")
    browser = Client()
    await sync_to_async(browser.force_login)(root)

    response = await sync_to_async(browser.post)(
        "/admin/notifications/broadcast/add/",
        {
            "topic": topic.pk,
            "title": "From the admin",
            "level": "info",
            "category": "general",
            "data": "{}",
        },
    )
    assert response.status_code == 302
    item = await sync_to_async(Broadcast.objects.get)(title="From the admin")

    body = await sync_to_async(wait_status)(live_hub, staff, item.pk, "sent")
    assert body["recipients"] == 1
    frame = await recv(ws)
    while frame["type"] != "notification":
        frame = await recv(ws)
    assert frame["notification"]["title"] == "From the admin"
    await ws.close()
