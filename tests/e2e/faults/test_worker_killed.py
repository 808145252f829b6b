"""A Celery worker killed with SIGKILL in the middle of a broadcast fan-out.

The fan-out runs in chunks of BROADCAST_CHUNK_USERS (small here, so it takes a
while); the test kills the worker and its pool once some chunks are stored and
before all are, starts a new worker, lets the sweeper re-queue the broadcast,
and counts rows per recipient and frames per socket.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from notifications import services
from notifications.models import Broadcast, Notification, Topic
from tests.support.audience import make_audience
from tests.support.sockets import Socket
from tests.support.stack import api, kill_group, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

AUDIENCE = 4000
CHUNK_USERS = 20
CONNECTED = 15  # fewer than a chunk: all are pushed in the first (online) chunk


def rows_of(broadcast_id: int):
    key = Broadcast.objects.get(pk=broadcast_id).notification_key
    return Notification.objects.filter(idempotency_key=key)


async def test_worker_killed_mid_fan_out__every_recipient_once_every_socket_once(
    hub_factory, staff, settings
):
    hub = hub_factory(BROADCAST_CHUNK_USERS=str(CHUNK_USERS))
    topic = await sync_to_async(Topic.objects.create)(slug="big", name="Big")
    users = await sync_to_async(make_audience)(
        topic, size=AUDIENCE, connected=CONNECTED, prefix="f"
    )
    sockets = [Socket(hub.ws_url, u) for u in users[:CONNECTED]]
    for s in sockets:
        await s.open()

    response = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/broadcasts/",
        {"topic": "big", "title": "Mid-way"},
    )
    assert response.status_code == 202
    broadcast_id = response.json()["id"]
    rows = await sync_to_async(rows_of)(broadcast_id)
    # Some chunks of the full walk are stored, not all: kill now.
    stored = await sync_to_async(wait_for)(
        lambda: (n := rows.count()) >= 3 * CHUNK_USERS and n,
        "the fan-out to be under way",
    )
    await sync_to_async(kill_group)(hub, "worker")
    stored_at_kill = await sync_to_async(rows.count)()
    item = await sync_to_async(Broadcast.objects.get)(pk=broadcast_id)
    print(f"killed the worker with {stored_at_kill}/{AUDIENCE} rows stored")
    assert stored <= stored_at_kill < AUDIENCE, "the fan-out finished before the kill"
    assert item.status == Broadcast.Status.SENDING

    start_worker(hub, "worker2")
    # The killed task sits unacknowledged until the broker's visibility timeout
    # (an hour); the sweeper re-queues a broadcast with no progress for
    # BROADCAST_STALL_SECS. Let that period pass without waiting for it.
    await sync_to_async(Broadcast.objects.filter(pk=broadcast_id).update)(
        progress_at=item.progress_at - timedelta(seconds=settings.BROADCAST_STALL_SECS)
    )
    assert await sync_to_async(services.broadcasts_requeue_stalled)() == [broadcast_id]
    await sync_to_async(wait_for)(
        lambda: Broadcast.objects.get(pk=broadcast_id).status == "sent",
        "the broadcast to be sent",
    )

    assert await sync_to_async(rows.count)() == AUDIENCE
    per_recipient = rows.values("recipient").distinct().count
    assert await sync_to_async(per_recipient)() == AUDIENCE
    # A marker sent after the broadcast finished: once it arrives, every frame of
    # the broadcast that was ever going to arrive has (Redis keeps order).
    marker = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users[:CONNECTED]], "title": "marker"},
    )
    assert marker.status_code == 201
    for s in sockets:
        await s.until_title("marker")
        mid_way = [i for i, t in s.titles.items() if t == "Mid-way"]
        assert len(mid_way) == 1 and s.live[mid_way[0]] == 1, s.live
        await s.close()
