"""/ws/dashboard/ on real processes: stats pushed by Beat through the worker,
socket counts gathered across two web processes, metrics pushed over HTTP.
"""

import asyncio
import json
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect

pytestmark = pytest.mark.django_db(transaction=True)

# The contract: a change shows on the dashboard within 5 s.
REFLECT_SECS = 5.0
# Beat and the worker start cold for this module: the first push may take longer.
FIRST_PUSH_TIMEOUT_SECS = 30.0


async def recv(ws, timeout: float) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def stats_until(ws, predicate, timeout: float) -> dict:
    """The first ``stats`` frame within ``timeout`` for which ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no stats frame matched in time")
        frame = await recv(ws, remaining)
        if frame["type"] == "stats" and predicate(frame):
            return frame


def auth(user) -> dict:
    return {"Authorization": f"Token {user.auth_token.key}"}


async def dashboard_socket(url: str, staff):
    ws = await connect(url + "/ws/dashboard/", additional_headers=auth(staff))
    first = await recv(ws, REFLECT_SECS)
    assert first["type"] == "stats"  # the snapshot, at once
    # The next stats frame can only come from Beat -> worker -> channel layer.
    await stats_until(ws, lambda f: True, FIRST_PUSH_TIMEOUT_SECS)
    return ws


async def test_stats__sockets_counted_across_web_processes(
    live_hub, dashboard_hub, staff, alice
):
    ws = await dashboard_socket(live_hub.ws_url, staff)
    baseline = (await stats_until(ws, lambda f: True, REFLECT_SECS))["sockets"]
    assert baseline >= 1  # this very socket

    started = time.monotonic()
    other = await connect(
        dashboard_hub.replace("http://", "ws://") + "/ws/notifications/",
        additional_headers=auth(alice),
    )
    grown = await stats_until(ws, lambda f: f["sockets"] >= baseline + 1, REFLECT_SECS)
    print(f"second socket on another web seen after {time.monotonic() - started:.1f} s")
    assert grown["celery"]["workers_alive"] >= 1

    await other.close()
    await stats_until(ws, lambda f: f["sockets"] == baseline, REFLECT_SECS)
    await ws.close()


async def test_stats__notification_counted_created_and_delivered(
    live_hub, dashboard_hub, staff, alice
):
    ws = await dashboard_socket(live_hub.ws_url, staff)
    before = await stats_until(ws, lambda f: True, REFLECT_SECS)
    recipient = await connect(
        dashboard_hub.replace("http://", "ws://") + "/ws/notifications/",
        additional_headers=auth(alice),
    )
    assert json.loads(await recipient.recv())["type"] == "hello"

    response = await sync_to_async(httpx.post)(
        live_hub.base_url + "/api/notifications/",
        json={"recipients": [alice.pk], "title": "counted"},
        headers=auth(staff),
        timeout=10,
    )
    assert response.status_code == 201
    # The totals, not the 60 s windows: earlier tests' notifications slide out
    # of a window while this one slides in, and the window may not grow.
    after = await stats_until(
        ws,
        lambda f: (
            f["notifications_created_total"] > before["notifications_created_total"]
            and f["notifications_delivered_total"]
            > before["notifications_delivered_total"]
        ),
        REFLECT_SECS,
    )
    assert after["notifications_created_per_min"] >= 1
    assert after["notifications_delivered_per_min"] >= 1
    assert after["publish_latency_ms"]["p50"] is not None
    await recipient.close()
    await ws.close()


async def test_metric__posted_metric_arrives_as_a_frame(live_hub, dashboard_hub, staff):
    ws = await dashboard_socket(live_hub.ws_url, staff)

    response = await sync_to_async(httpx.post)(
        dashboard_hub + "/api/dashboard/metrics/",
        json={"name": "e2e.signups", "value": 42},
        headers=auth(staff),
        timeout=10,
    )
    assert response.status_code == 200
    while True:
        frame = await recv(ws, REFLECT_SECS)
        if frame["type"] == "metric":
            break
    assert (frame["name"], frame["value"]) == ("e2e.signups", 42)
    # Kept: the next snapshot carries it too.
    await stats_until(ws, lambda f: f["metrics"].get("e2e.signups") == 42, REFLECT_SECS)
    await ws.close()


def test_page__static_files_served_by_the_live_web(dashboard_hub):
    for path in (
        "/static/hub/dashboard.js",
        "/static/hub/dashboard.css",
        "/static/hub/vendor/uplot/uPlot.iife.min.js",
        "/static/hub/vendor/uplot/uPlot.min.css",
    ):
        response = httpx.get(dashboard_hub + path, timeout=10)
        assert response.status_code == 200, path
        assert len(response.content) > 100, path
