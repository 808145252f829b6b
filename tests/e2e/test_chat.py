"""The chat on real processes: two uvicorn web processes (the Procfile's command)
beside the session's hub, real Redis presence, real WebSocket clients over TCP.

The two chat webs run with a short presence TTL and heartbeat, so that a killed
process's users leave the room within seconds instead of the default ~40 s.
"""

import asyncio
import json
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.django_db(transaction=True)

FRAME_TIMEOUT_SECS = 8.0
# Entries live 4 s unless refreshed every 1 s: a dead process's users go within ~5 s.
PRESENCE_ENV = {"CHAT_PRESENCE_TTL_SECS": "4", "CHAT_PRESENCE_HEARTBEAT_SECS": "1"}
WEBS = ("chat-a", "chat-b")


class ChatWebs:
    """Two web processes started through the session's LiveHub; ws URL by name."""

    def __init__(self, live_hub) -> None:
        self.live_hub = live_hub
        self.ws_urls: dict[str, str] = {}

    def start(self, name: str) -> None:
        base_url = self.live_hub.start_web(name, **PRESENCE_ENV)
        self.ws_urls[name] = base_url.replace("http://", "ws://")

    def ensure_running(self) -> None:
        for name in WEBS:
            if name not in self.live_hub.processes:
                self.start(name)


@pytest.fixture(scope="module")
def chat_webs(live_hub):
    webs = ChatWebs(live_hub)
    webs.ensure_running()
    yield webs
    for name in WEBS:
        if name in live_hub.processes:
            live_hub.stop(name)


@pytest.fixture
def webs(chat_webs):
    chat_webs.ensure_running()  # a test before may have killed or stopped one
    return chat_webs


def elapsed_ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def recv(ws, timeout: float = FRAME_TIMEOUT_SECS) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, frame_type: str, **match) -> dict:
    """Receive until a frame of ``frame_type`` whose fields equal ``match``."""
    while True:
        frame = await recv(ws)
        if frame["type"] == frame_type and all(frame[k] == v for k, v in match.items()):
            return frame


async def quiet(ws, secs: float = 1.0) -> list[dict]:
    """Frames arriving within ``secs`` (an absence check, not a synchroniser)."""
    frames = []
    try:
        while True:
            frames.append(await recv(ws, secs))
    except TimeoutError:
        return frames


async def enter(ws_url: str, room: str, user):
    """Join a room; return (socket, history messages, presence users)."""
    ws = await connect(
        f"{ws_url}/ws/chat/{room}/",
        additional_headers={"Authorization": f"Token {user.auth_token.key}"},
    )
    history = await recv(ws)
    assert history["type"] == "history", history
    presence = await recv_type(ws, "presence")
    return ws, history["messages"], presence["users"]


async def close_code(ws_url: str, room: str, user=None) -> tuple[int, str]:
    headers = {"Authorization": f"Token {user.auth_token.key}"} if user else {}
    ws = await connect(f"{ws_url}/ws/chat/{room}/", additional_headers=headers)
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_seed_client_frames__over_the_wire(webs, alice):
    ws, _, users = await enter(webs.ws_urls["chat-a"], "lobby", alice)
    assert users == ["alice"]

    await ws.send(json.dumps({"message": "Hello Django!"}))  # JSON.stringify(...)

    data = await recv_type(ws, "chat.message")
    assert data["username"] + ": " + data["message"] == "alice: Hello Django!"
    await ws.close()


async def test_two_processes__messages_and_presence_cross_and_tabs_count_once(
    webs, alice, bob
):
    a_url, b_url = webs.ws_urls["chat-a"], webs.ws_urls["chat-b"]
    alice_a, _, _ = await enter(a_url, "lobby", alice)
    bob_b, _, users = await enter(b_url, "lobby", bob)
    assert users == ["alice", "bob"]
    await recv_type(alice_a, "presence", users=["alice", "bob"])

    sent_at = time.perf_counter()
    await alice_a.send(json.dumps({"message": "across processes"}))
    for ws in (bob_b, alice_a):
        frame = await recv_type(ws, "chat.message")
        assert (frame["username"], frame["message"]) == ("alice", "across processes")
        if ws is bob_b:
            print(f"chat message to the other process: {elapsed_ms(sent_at):.1f} ms")

    alice_b, _, users = await enter(b_url, "lobby", alice)  # second tab, other web
    assert users == ["alice", "bob"]
    await alice_a.close()
    assert [f for f in await quiet(bob_b) if f["type"] == "presence"] == []
    await alice_b.close()
    await recv_type(bob_b, "presence", users=["bob"])
    await bob_b.close()


async def test_web_process_dies__its_users_leave_the_room(webs, alice, bob):
    alice_a, _, _ = await enter(webs.ws_urls["chat-a"], "lobby", alice)
    bob_b, _, _ = await enter(webs.ws_urls["chat-b"], "lobby", bob)
    await recv_type(alice_a, "presence", users=["alice", "bob"])

    await sync_to_async(webs.live_hub.kill)("chat-b")  # no goodbye from bob's socket
    killed_at = time.perf_counter()

    await recv_type(alice_a, "presence", users=["alice"])
    print(f"dead process's user left presence after {elapsed_ms(killed_at):.0f} ms")
    await alice_a.close()
    with pytest.raises(ConnectionClosed):
        await bob_b.recv()


async def test_private_room__third_user_refused_4403_members_chat(
    webs, alice, bob, staff
):
    created = await sync_to_async(
        lambda: httpx.post(
            webs.live_hub.base_url + "/api/chat/rooms/",
            json={"slug": "pair", "private": True, "members": ["bob"]},
            headers={"Authorization": f"Token {alice.auth_token.key}"},
            timeout=10,
        )
    )()
    assert created.status_code == 201, created.text
    assert created.json()["invited"] == ["bob"]

    def accept_as_bob() -> httpx.Response:
        bobs = {"Authorization": f"Token {bob.auth_token.key}"}
        base = webs.live_hub.base_url + "/api/chat/invitations/"
        [invitation] = httpx.get(base, headers=bobs, timeout=10).json()["results"]
        return httpx.post(f"{base}{invitation['id']}/accept/", headers=bobs, timeout=10)

    assert (await sync_to_async(accept_as_bob)()).status_code == 200

    alice_ws, _, _ = await enter(webs.ws_urls["chat-a"], "pair", alice)
    bob_ws, _, _ = await enter(webs.ws_urls["chat-b"], "pair", bob)
    code, reason = await close_code(webs.ws_urls["chat-a"], "pair", staff)
    await bob_ws.send(json.dumps({"message": "just us"}))

    assert (code, reason) == (4403, "This room is private.")
    assert (await recv_type(alice_ws, "chat.message"))["message"] == "just us"
    assert await close_code(webs.ws_urls["chat-b"], "pair") == (
        4401,
        "authentication required",
    )
    for ws in (alice_ws, bob_ws):
        await ws.close()


async def test_history__survives_a_restart_of_every_web_process(webs, alice, bob):
    ws, _, _ = await enter(webs.ws_urls["chat-a"], "lobby", alice)
    for text in ("before", "the", "restart"):
        await ws.send(json.dumps({"message": text}))
        await recv_type(ws, "chat.message", message=text)
    await ws.close()

    hub = webs.live_hub
    for name in (*WEBS, "web"):
        await sync_to_async(hub.stop)(name)
    await sync_to_async(hub.start)("web")
    await sync_to_async(hub.wait_web)()
    await sync_to_async(webs.ensure_running)()

    for ws_url in (hub.ws_url, *webs.ws_urls.values()):
        ws, history, _ = await enter(ws_url, "lobby", bob)
        assert [m["message"] for m in history] == ["before", "the", "restart"]
        assert {m["username"] for m in history} == {"alice"}
        await ws.close()


async def test_support__staff_answers_while_alice_is_offline_she_finds_a_link(
    webs, alice, staff
):
    ws, _, _ = await enter(webs.ws_urls["chat-a"], "support-alice", alice)
    await ws.send(json.dumps({"message": "My invoice is wrong"}))
    await recv_type(ws, "chat.message")
    await ws.close()

    helper, history, users = await enter(webs.ws_urls["chat-b"], "support-alice", staff)
    assert [m["message"] for m in history] == ["My invoice is wrong"]
    assert users == ["staff"]
    await helper.send(json.dumps({"message": "Fixed, sorry!"}))
    await recv_type(helper, "chat.message")
    await helper.close()

    def alices(path: str) -> dict:
        response = httpx.get(
            webs.live_hub.base_url + path,
            headers={"Authorization": f"Token {alice.auth_token.key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    [note] = (await sync_to_async(alices)("/api/notifications/?category=chat"))[
        "results"
    ]
    assert note["url"] == "/chat/support-alice/"
    assert note["title"] == "staff replied in your support chat"
    room = note["data"]["room"]
    page = await sync_to_async(alices)(f"/api/chat/rooms/{room}/messages/")
    assert [m["message"] for m in page["results"]] == [
        "Fixed, sorry!",
        "My invoice is wrong",
    ]
