"""The whole hub, as users meet it: real uvicorn (Procfile flags), a real Celery
worker, real Redis, and real WebSocket clients over TCP.
"""

import asyncio
import json
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notifications.tasks import notify_users
from realtime.tickets import ticket_issue

pytestmark = pytest.mark.django_db(transaction=True)

FRAME_TIMEOUT_SECS = 5.0


async def recv(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS))


async def open_socket(live_hub, user):
    ws = await connect(
        live_hub.ws_url + "/ws/notifications/",
        additional_headers={"Authorization": f"Token {user.auth_token.key}"},
    )
    hello = await recv(ws)
    assert hello["type"] == "hello"
    return ws, hello


def post(live_hub, user, path: str, payload: dict) -> httpx.Response:
    return httpx.post(
        live_hub.base_url + path,
        json=payload,
        headers={"Authorization": f"Token {user.auth_token.key}"},
        timeout=10,
    )


async def test_api_notification__reaches_both_sockets_of_recipient_only(
    live_hub, alice, bob, staff
):
    ticket = await sync_to_async(ticket_issue)(user_id=alice.pk)
    by_ticket = await connect(
        f"{live_hub.ws_url}/ws/notifications/?ticket={ticket}",
        origin=live_hub.base_url,  # the page the hub served
    )
    assert (await recv(by_ticket))["user"]["username"] == "alice"
    by_token, _ = await open_socket(live_hub, alice)
    bystander, _ = await open_socket(live_hub, bob)

    sent_at = time.perf_counter()
    response = await sync_to_async(post)(
        live_hub,
        staff,
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "Hi"},
    )
    assert response.status_code == 201

    for ws in (by_ticket, by_token):
        frame = await recv(ws)
        assert frame["type"] == "notification"
        assert frame["notification"]["title"] == "Hi"
        assert (await recv(ws)) == {"type": "unread", "unread": 1}
    print(f"API to both sockets: {(time.perf_counter() - sent_at) * 1000:.1f} ms")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bystander.recv(), 0.5)
    for ws in (by_ticket, by_token, bystander):
        await ws.close()


async def test_celery_task_notification__reaches_socket(live_hub, alice):
    ws, _ = await open_socket(live_hub, alice)

    await sync_to_async(notify_users.delay)(
        recipient_ids=[alice.pk], title="From a worker", idempotency_key="e2e:task:1"
    )

    frame = await recv(ws)
    assert frame["notification"]["title"] == "From a worker"
    await ws.close()


async def test_resume__exactly_the_missed_notifications_oldest_first(
    live_hub, alice, staff
):
    ws, hello = await open_socket(live_hub, alice)
    await ws.close()
    for title in ("one", "two", "three"):
        response = await sync_to_async(post)(
            live_hub,
            staff,
            "/api/notifications/",
            {"recipients": [alice.pk], "title": title},
        )
        assert response.status_code == 201

    ws, _ = await open_socket(live_hub, alice)
    await ws.send(json.dumps({"type": "resume", "last_id": hello["last_id"]}))

    frames = [await recv(ws) for _ in range(4)]
    assert [f["notification"]["title"] for f in frames[:3]] == ["one", "two", "three"]
    assert frames[3]["type"] == "resumed"
    assert frames[3]["count"] == 3
    await ws.close()


async def test_oversized_frame__closed_1009_by_the_server(live_hub, alice):
    ws, _ = await open_socket(live_hub, alice)

    await ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))

    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd.code == 1009


async def test_bad_frame__error_frame_over_the_wire(live_hub, alice):
    ws, _ = await open_socket(live_hub, alice)

    await ws.send("{oops")

    assert (await recv(ws))["code"] == "invalid_json"
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv(ws)) == {"type": "pong"}
    await ws.close()


async def test_cross_site_handshake__refused(live_hub, alice):
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            live_hub.ws_url + "/ws/notifications/",
            origin="https://evil.example",
            additional_headers={"Authorization": f"Token {alice.auth_token.key}"},
        )
    assert refused.value.response.status_code == 403


async def test_no_credentials__closed_4401(live_hub):
    ws = await connect(live_hub.ws_url + "/ws/notifications/")

    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd.code == 4401


def test_healthz__reports_the_worker(live_hub):
    body = httpx.get(live_hub.base_url + "/healthz", timeout=5).json()

    assert body["db"] == body["redis"] == body["channel_layer"] == "ok"
    assert body["workers"] >= 1
