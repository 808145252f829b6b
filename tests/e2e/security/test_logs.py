"""Credentials never reach the web process's log: tokens travel in headers, and
tickets in URLs are redacted from uvicorn's handshake and access lines."""

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect

pytestmark = pytest.mark.django_db(transaction=True)

FRAME_TIMEOUT_SECS = 5.0
EMAIL_TOKEN = "MTI:1tQxYz:Qm9ndXMtc2lnbmF0dXJlLWJ1dC1hLXNlY3JldA"


async def hello(ws) -> dict:
    frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS))
    assert frame["type"] == "hello"
    return frame


async def test_logs__hold_neither_token_nor_ticket(live_hub, web_log, alice):
    token = alice.auth_token.key
    auth = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(base_url=live_hub.base_url, headers=auth) as http:
        ticket = (await http.post("/api/ws-ticket/")).json()["ticket"]
        # A ticket pasted into an HTTP URL is redacted from the access line too.
        await http.get(f"/api/notifications/?ticket={ticket}&limit=1")
        # So are the tokens of email links (this one is not the hub's: refused).
        await http.get(f"/email/unsubscribe/{EMAIL_TOKEN}/")

    by_ticket = await connect(
        f"{live_hub.ws_url}/ws/notifications/?ticket={ticket}",
        origin=live_hub.base_url,  # the page the hub served
    )
    by_token = await connect(
        live_hub.ws_url + "/ws/notifications/", additional_headers=auth
    )
    assert (await hello(by_ticket))["user"]["username"] == "alice"
    assert (await hello(by_token))["user"]["username"] == "alice"
    # A second use of the ticket is refused, and logged, redacted all the same.
    reused = await connect(f"{live_hub.ws_url}/ws/notifications/?ticket={ticket}")
    await reused.wait_closed()
    for ws in (by_ticket, by_token):
        await ws.close()

    log = web_log.wait_for("/api/notifications/?ticket=[redacted]&limit=1")
    assert log.count('"WebSocket /ws/notifications/?ticket=[redacted]"') >= 2
    assert '"WebSocket /ws/notifications/" [accepted]' in log
    assert ticket not in log
    assert EMAIL_TOKEN not in log
    assert "/email/unsubscribe/[redacted]/" in log
    assert token not in log
