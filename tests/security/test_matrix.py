"""The authorisation matrix: each rule as an allowed/refused pair, over HTTP and
over the sockets. A refusal also leaves the target untouched.
"""

# The tables keep one rule per line, so they read as a list of rules.
# ruff: noqa: E501

import json

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from notifications.models import Broadcast, Notification, Subscription, Topic
from tests.conftest import api_client_for, communicator

pytestmark = pytest.mark.django_db(transaction=True)

LATER = "2099-01-01T00:00:00Z"

# (rule, actor, method, path, body, expected status). Paths name world ids in {}.
# fmt: off
HTTP_MATRIX = [
    # another user's notifications
    ("read own notification", "alice", "post", "/api/notifications/{alice_note}/read/", None, 200),
    ("read another's notification", "alice", "post", "/api/notifications/{bob_note}/read/", None, 404),
    ("archive own notification", "alice", "delete", "/api/notifications/{alice_note}/", None, 204),
    ("archive another's notification", "alice", "delete", "/api/notifications/{bob_note}/", None, 404),
    # private topics
    ("staff follows a staff-only topic", "staff", "put", "/api/topics/ops-only/subscription/", None, 200),
    ("user follows a staff-only topic", "alice", "put", "/api/topics/ops-only/subscription/", None, 403),
    ("group member follows a group topic", "member", "put", "/api/topics/oncall/subscription/", None, 200),
    ("non-member follows a group topic", "alice", "put", "/api/topics/oncall/subscription/", None, 403),
    # private and support rooms
    ("member reads a private room", "alice", "get", "/api/chat/rooms/secret/messages/", None, 200),
    ("non-member reads a private room", "bob", "get", "/api/chat/rooms/secret/messages/", None, 403),
    ("staff reads a private room it is not in", "staff", "get", "/api/chat/rooms/secret/messages/", None, 403),
    ("user reads own support room", "alice", "get", "/api/chat/rooms/support-alice/messages/", None, 200),
    ("staff reads a support room", "staff", "get", "/api/chat/rooms/support-alice/messages/", None, 200),
    ("user reads another's support room", "bob", "get", "/api/chat/rooms/support-alice/messages/", None, 403),
    ("invitee who has not accepted reads a private room", "member", "get", "/api/chat/rooms/secret/messages/", None, 403),
    ("member invites to a private room", "alice", "post", "/api/chat/rooms/secret/invitations/", {"username": "bob"}, 201),
    ("non-member invites to a private room", "bob", "post", "/api/chat/rooms/secret/invitations/", {"username": "bob"}, 403),
    ("invitee accepts own invitation", "member", "post", "/api/chat/invitations/{invitation}/accept/", None, 200),
    ("user accepts another's invitation", "bob", "post", "/api/chat/invitations/{invitation}/accept/", None, 404),
    ("user declines another's invitation", "bob", "post", "/api/chat/invitations/{invitation}/decline/", None, 404),
    # creating notifications
    ("permission holder creates notifications", "notifier", "post", "/api/notifications/", {"recipients": ["{bob}"], "title": "hi"}, 201),
    ("staff creates notifications", "staff", "post", "/api/notifications/", {"recipients": ["{bob}"], "title": "hi"}, 201),
    ("user creates notifications", "alice", "post", "/api/notifications/", {"recipients": ["{bob}"], "title": "hi"}, 403),
    ("broadcaster creates notifications", "broadcaster", "post", "/api/notifications/", {"recipients": ["{bob}"], "title": "hi"}, 403),
    # broadcasts and topic events
    ("permission holder broadcasts", "broadcaster", "post", "/api/broadcasts/", {"topic": None, "title": "hi", "send_at": LATER}, 202),
    ("user broadcasts", "alice", "post", "/api/broadcasts/", {"topic": None, "title": "hi", "send_at": LATER}, 403),
    ("notifier broadcasts", "notifier", "post", "/api/broadcasts/", {"topic": None, "title": "hi", "send_at": LATER}, 403),
    ("permission holder sends a topic event", "broadcaster", "post", "/api/topics/deploys/events/", {"event": {"x": 1}}, 202),
    ("user sends a topic event", "alice", "post", "/api/topics/deploys/events/", {"event": {"x": 1}}, 403),
    # staff-only reads and writes
    ("staff reads broadcast status", "staff", "get", "/api/broadcasts/{broadcast}/", None, 200),
    ("broadcaster reads broadcast status", "broadcaster", "get", "/api/broadcasts/{broadcast}/", None, 403),
    ("user reads broadcast status", "alice", "get", "/api/broadcasts/{broadcast}/", None, 403),
    ("staff cancels a broadcast", "staff", "delete", "/api/broadcasts/{broadcast}/", None, 204),
    ("broadcaster cancels a broadcast", "broadcaster", "delete", "/api/broadcasts/{broadcast}/", None, 403),
    ("staff creates a topic", "staff", "post", "/api/topics/", {"slug": "new", "name": "New"}, 201),
    ("broadcaster creates a topic", "broadcaster", "post", "/api/topics/", {"slug": "new", "name": "New"}, 403),
    ("user creates a topic", "alice", "post", "/api/topics/", {"slug": "new", "name": "New"}, 403),
    # the dashboard
    ("staff reads the dashboard", "staff", "get", "/api/dashboard/", None, 200),
    ("user reads the dashboard", "alice", "get", "/api/dashboard/", None, 403),
    ("metric pusher reads the dashboard", "metrics", "get", "/api/dashboard/", None, 403),
    ("staff pushes a metric", "staff", "post", "/api/dashboard/metrics/", {"name": "orders", "value": 1}, 200),
    ("permission holder pushes a metric", "metrics", "post", "/api/dashboard/metrics/", {"name": "orders", "value": 2}, 200),
    ("user pushes a metric", "alice", "post", "/api/dashboard/metrics/", {"name": "orders", "value": 3}, 403),
    ("anonymous reads the dashboard", None, "get", "/api/dashboard/", None, 403),
    # anonymous requests (DRF says 403: session auth comes first)
    ("user reads own feed", "alice", "get", "/api/notifications/", None, 200),
    ("anonymous reads a feed", None, "get", "/api/notifications/", None, 403),
    ("anonymous asks for a ticket", None, "post", "/api/ws-ticket/", None, 403),
    ("anonymous creates notifications", None, "post", "/api/notifications/", {"recipients": ["{bob}"], "title": "hi"}, 403),
]
# fmt: on


def _fill(value, world):
    """Replace "{name}" placeholders with the world's ids and user ids."""
    names = {**world.ids, **{name: u.pk for name, u in world.users.items()}}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return names[value[1:-1]]
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _untouched(world) -> dict:
    """The state a refusal must leave alone."""
    bob_note = Notification.objects.get(pk=world.ids["bob_note"])
    return {
        "bob_note": (bob_note.read_at, bob_note.archived_at),
        "notifications": Notification.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "broadcast": Broadcast.objects.get(pk=world.ids["broadcast"]).status,
        "broadcasts": Broadcast.objects.count(),
        "topics": sorted(Topic.objects.values_list("slug", flat=True)),
    }


@pytest.mark.parametrize(
    ("actor", "method", "path", "body", "expected"),
    [row[1:] for row in HTTP_MATRIX],
    ids=[row[0] for row in HTTP_MATRIX],
)
def test_http_matrix__rule(world, actor, method, path, body, expected):
    client = api_client_for(world.users[actor]) if actor else APIClient()
    before = _untouched(world)

    response = getattr(client, method)(
        _fill(path, world),
        json.dumps(_fill(body, world)) if body is not None else None,
        content_type="application/json",
    )

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()
        assert _untouched(world) == before


# (rule, actor, frame, expected): "ok" means no error frame, else the error code,
# or the frame type that answers.
# fmt: off
NOTIFICATION_SOCKET_MATRIX = [
    ("read own notification", "alice", {"type": "read", "id": "{alice_note}"}, "ok"),
    ("read another's notification", "alice", {"type": "read", "id": "{bob_note}"}, "not_found"),
    ("staff follows a staff-only topic", "staff", {"type": "subscribe", "topic": "ops-only"}, "subscribed"),
    ("user follows a staff-only topic", "alice", {"type": "subscribe", "topic": "ops-only"}, "forbidden"),
    ("group member follows a group topic", "member", {"type": "subscribe", "topic": "oncall"}, "subscribed"),
    ("non-member follows a group topic", "alice", {"type": "subscribe", "topic": "oncall"}, "forbidden"),
]
# fmt: on


async def _answers(comm, frame: dict) -> list[dict]:
    """Send ``frame`` then a ping; the frames before the pong are its answers
    (frames are handled in order). Pushes from the channel layer are left out."""
    await comm.send_json_to(frame)
    await comm.send_json_to({"type": "ping"})
    answers = []
    while (got := await comm.receive_json_from(timeout=3))["type"] != "pong":
        if got["type"] not in ("read", "unread", "notification"):
            answers.append(got)
    return answers


@pytest.mark.parametrize(
    ("actor", "frame", "expected"),
    [row[1:] for row in NOTIFICATION_SOCKET_MATRIX],
    ids=[row[0] for row in NOTIFICATION_SOCKET_MATRIX],
)
async def test_notification_socket_matrix__rule(world, actor, frame, expected):
    before = await database_sync_to_async(_untouched)(world)
    comm = communicator("/ws/notifications/", world.users[actor])
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from(timeout=3))["type"] == "hello"

    answers = await _answers(comm, _fill(frame, world))
    await comm.disconnect()

    if expected == "ok":
        assert answers == []
    elif expected == "subscribed":
        assert answers == [{"type": "subscribed", "topic": frame["topic"]}]
    else:
        assert [(a["type"], a["code"]) for a in answers] == [("error", expected)]
        assert await database_sync_to_async(_untouched)(world) == before


# (rule, actor, room, expected): "history" when admitted, else the close code.
# fmt: off
CHAT_SOCKET_MATRIX = [
    ("member enters a private room", "alice", "secret", "history"),
    ("non-member enters a private room", "bob", "secret", 4403),
    ("staff enters a private room it is not in", "staff", "secret", 4403),
    ("invitee who has not accepted enters a private room", "member", "secret", 4403),
    ("user enters own support room", "alice", "support-alice", "history"),
    ("staff enters a support room", "staff", "support-alice", "history"),
    ("user enters another's support room", "bob", "support-alice", 4403),
]
# fmt: on

DASHBOARD_SOCKET_MATRIX = [
    ("staff opens the dashboard socket", "staff", "stats"),
    ("user opens the dashboard socket", "alice", 4403),
    ("metric pusher opens the dashboard socket", "metrics", 4403),
]


@pytest.mark.parametrize(
    ("actor", "expected"),
    [row[1:] for row in DASHBOARD_SOCKET_MATRIX],
    ids=[row[0] for row in DASHBOARD_SOCKET_MATRIX],
)
async def test_dashboard_socket_matrix__rule(world, actor, expected):
    comm = communicator("/ws/dashboard/", world.users[actor])
    assert (await comm.connect())[0]  # refusals accept, then close with a code

    first = await comm.receive_output(timeout=3)

    if expected == "stats":
        assert json.loads(first["text"])["type"] == "stats"
        await comm.disconnect()
    else:
        assert first["type"] == "websocket.close"
        assert first["code"] == expected


@pytest.mark.parametrize(
    ("actor", "room", "expected"),
    [row[1:] for row in CHAT_SOCKET_MATRIX],
    ids=[row[0] for row in CHAT_SOCKET_MATRIX],
)
async def test_chat_socket_matrix__rule(world, actor, room, expected):
    comm = communicator(f"/ws/chat/{room}/", world.users[actor])
    assert (await comm.connect())[0]

    first = await comm.receive_output(timeout=3)

    if expected == "history":
        assert json.loads(first["text"])["type"] == "history"
        await comm.disconnect()
    else:
        assert first["type"] == "websocket.close"
        assert first["code"] == expected
