"""``/ws/dashboard/`` over the full ASGI stack and the real Redis channel layer."""

import pytest
from channels.db import database_sync_to_async

from dashboard import services
from dashboard.consumers import DashboardConsumer
from dashboard.tasks import dashboard_stats_push
from realtime import groups
from tests.conftest import communicator, receive_until

# Each test runs on the hub's consumer loop and on channels' stock loop.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("consumer_loop"),
]

FRAME_TIMEOUT_SECS = 3.0


async def dashboard_socket(user):
    comm = communicator("/ws/dashboard/", user)
    ok, _ = await comm.connect()
    assert ok
    return comm


async def closed_with(user) -> int:
    comm = communicator("/ws/dashboard/", user)
    ok, _ = await comm.connect()
    assert ok  # accepted, then closed with a code browsers can read
    message = await comm.receive_output(timeout=FRAME_TIMEOUT_SECS)
    assert message["type"] == "websocket.close"
    return message["code"]


def test_event_types__dashboard_consumer_handles_its_events():
    for event_type in (groups.DASHBOARD_STATS, groups.DASHBOARD_METRIC):
        assert callable(getattr(DashboardConsumer, event_type.replace(".", "_")))


async def test_connect__staff_gets_the_snapshot_at_once(staff):
    comm = await dashboard_socket(staff)

    frame = await comm.receive_json_from(timeout=FRAME_TIMEOUT_SECS)

    assert frame["type"] == "stats"
    assert {"sockets", "celery", "metrics", "publish_latency_ms"} <= set(frame)
    await comm.disconnect()


async def test_connect__non_staff_closed_4403(alice):
    assert await closed_with(alice) == 4403


async def test_connect__anonymous_closed_4401_after_the_auth_deadline(db, settings):
    settings.WS_AUTH_TIMEOUT_SECS = 0.2
    assert await closed_with(None) == 4401


async def test_task__publishes_stats_to_dashboard_sockets(staff):
    comm = await dashboard_socket(staff)
    await receive_until(comm, "stats")  # the snapshot on connect

    await database_sync_to_async(dashboard_stats_push)()

    frame = await receive_until(comm, "stats", timeout=FRAME_TIMEOUT_SECS)
    assert frame["celery"]["queue_depth"] is not None
    await comm.disconnect()


async def test_metric__pushed_as_a_metric_frame(staff):
    comm = await dashboard_socket(staff)
    await receive_until(comm, "stats")

    await database_sync_to_async(services.metric_push)(name="signups", value=7)

    frame = await receive_until(comm, "metric", timeout=FRAME_TIMEOUT_SECS)
    assert (frame["name"], frame["value"]) == ("signups", 7)
    assert frame["at"].endswith("Z")
    await comm.disconnect()


async def test_metric__not_sent_to_other_sockets(alice, staff):
    notifications = communicator("/ws/notifications/", alice)
    ok, _ = await notifications.connect()
    assert ok
    await receive_until(notifications, "hello")
    dashboard = await dashboard_socket(staff)
    await receive_until(dashboard, "stats")

    await database_sync_to_async(services.metric_push)(name="signups", value=1)

    await receive_until(dashboard, "metric")  # delivered where it belongs...
    await notifications.send_json_to({"type": "ping"})
    # ...and the next frame on the user's socket is the pong, not the metric.
    assert (await notifications.receive_json_from(timeout=FRAME_TIMEOUT_SECS)) == {
        "type": "pong"
    }
    await notifications.disconnect()
    await dashboard.disconnect()
