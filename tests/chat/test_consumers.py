"""``/ws/chat/<room>/`` over the full ASGI stack, the real Redis layer and presence."""

import json
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from chat import presence, services
from chat.consumers import ChatConsumer
from chat.models import Invitation, Membership, Message, Room
from hub.asgi import application
from notifications.models import Notification
from realtime import groups, publish
from tests.chat.conftest import (
    frames_until_quiet,
    join,
    presence_with,
    private_room_of,
    refused,
    until_pong,
    without_presence,
)
from tests.conftest import communicator, receive_until, send_raw
from tests.support.write_thread import held_write_thread

# Each test runs on the hub's consumer loop and on channels' stock loop.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("consumer_loop"),
]

MESSAGE_KEYS = {"type", "id", "message", "username", "user_id", "created_at"}


@database_sync_to_async
def private_room(slug: str, *members) -> Room:
    return private_room_of(slug, *members)


@database_sync_to_async
def post(room_slug: str, author, text: str) -> Message:
    room = Room.objects.get(slug=room_slug)
    return services.message_post(room=room, author=author, text=text)


@database_sync_to_async
def chat_notifications(user) -> list[Notification]:
    """The user's chat notifications about messages (not invitations)."""
    return list(
        Notification.objects.filter(recipient=user, category="chat").exclude(
            data__has_key="invitation_id"
        )
    )


async def settled(comm) -> None:
    """Frames are handled one at a time: once a ping is answered, everything the
    frames before it caused (storing, notifying) has happened."""
    await comm.send_json_to({"type": "ping"})
    await receive_until(comm, "pong")


def test_event_types__chat_consumer_handles_its_events():
    for event_type in (groups.CHAT_MESSAGE, groups.CHAT_SIGNAL):
        assert callable(getattr(ChatConsumer, event_type.replace(".", "_")))


def test_publish__chat_frames_encoded_once_with_routing_fields():
    frame = {"type": "typing", "username": "alice"}

    assert publish._chat_signal(frame, 7) == {
        "type": "chat.signal",
        "frames": ['{"type":"typing","username":"alice"}'],
        "exclude_user_id": 7,
    }


# --- the seed documents' client ------------------------------------------------------


async def test_seed_client__logged_in_page_sends_and_reads_username_message(alice):
    """The JavaScript of the seeds (004 §7, 001 §5, 003 §3.6), frame for frame:
    new WebSocket(`ws://${host}/ws/chat/lobby/`) with the page's session cookie;
    chatSocket.send(JSON.stringify({ 'message': text }));
    onmessage: console.log(data.username + ': ' + data.message)."""
    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(
        application,
        "/ws/chat/lobby/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", cookie),
        ],
    )
    ok, _ = await comm.connect()
    assert ok
    assert (await comm.receive_json_from())["type"] == "history"
    assert await comm.receive_json_from() == {"type": "presence", "users": ["alice"]}

    await comm.send_to(text_data='{"message":"Hello Django!"}')

    data = json.loads(await comm.receive_from(timeout=3))
    assert data["username"] + ": " + data["message"] == "alice: Hello Django!"
    assert set(data) == MESSAGE_KEYS
    assert data["type"] == "chat.message"
    assert data["user_id"] == alice.pk
    assert data["created_at"].endswith("Z")
    await comm.disconnect()


async def test_seed_typed_message_frame__accepted(alice):
    """Seed 002's client sends {type: 'message', message: 'Hello!'}."""
    comm, _, _ = await join("lobby", alice)

    await comm.send_to(text_data='{"type":"message","message":"Hello!"}')

    frame = await receive_until(comm, "chat.message")
    assert (frame["username"], frame["message"]) == ("alice", "Hello!")
    await comm.disconnect()


# --- connecting ---------------------------------------------------------------------


async def test_connect__history_is_last_50_oldest_first(alice):
    await database_sync_to_async(services.room_join)(slug="lobby", user=alice)
    sent = [await post("lobby", alice, f"m{i}") for i in range(55)]

    comm, history, presence_frame = await join("lobby", alice)

    assert [m["id"] for m in history["messages"]] == [m.pk for m in sent[-50:]]
    assert history["messages"][-1] == {
        "id": sent[-1].pk,
        "message": "m54",
        "username": "alice",
        "user_id": alice.pk,
        "created_at": history["messages"][-1]["created_at"],
    }
    assert presence_frame == {"type": "presence", "users": ["alice"]}
    await comm.disconnect()


async def test_connect__without_credentials_closes_4401_after_the_auth_deadline(
    settings,
):
    settings.WS_AUTH_TIMEOUT_SECS = 0.2
    comm = communicator("/ws/chat/lobby/")
    await comm.connect()

    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_connect__without_credentials_a_message_before_auth_closes_4401():
    comm = communicator("/ws/chat/lobby/")
    await comm.connect()

    await comm.send_json_to({"message": "hello"})

    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_connect__unknown_room_created_when_users_may_create(alice, settings):
    settings.CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS = True

    comm, history, _ = await join("brand-new", alice)

    assert history["messages"] == []
    room = await database_sync_to_async(Room.objects.get)(slug="brand-new")
    assert not room.is_private
    await comm.disconnect()


async def test_connect__unknown_room_refused_4404_with_reason_when_users_may_not(
    alice, staff, settings
):
    settings.CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS = False

    closed = await refused("brand-new", alice)
    comm, _, _ = await join("staff-made", staff)  # staff still may

    assert closed["code"] == 4404
    assert "brand-new" in closed["reason"]
    assert not await database_sync_to_async(
        Room.objects.filter(slug="brand-new").exists
    )()
    await comm.disconnect()


async def test_connect__new_rooms_past_the_rate_refused_4429_existing_enter(
    alice, settings
):
    settings.CHAT_ROOM_CREATE_RATE = "1/hour"
    first, _, _ = await join("first-new", alice)

    closed = await refused("second-new", alice)
    again, _, _ = await join("first-new", alice)  # exists: nothing to create

    assert closed["code"] == 4429
    assert closed["reason"] == "Too many rooms created (at most 1/hour)."
    assert not await database_sync_to_async(
        Room.objects.filter(slug="second-new").exists
    )()
    for comm in (first, again):
        await comm.disconnect()


@pytest.mark.parametrize(
    "name", ["has%20space", "-leading-dash", "x" * 65, "caf%C3%A9"]
)
async def test_connect__invalid_room_name_refused_4404(alice, name):
    closed = await refused(name, alice)

    assert closed["code"] == 4404
    assert closed["reason"]


async def test_private_room__member_enters_non_member_refused_4403(alice, bob, staff):
    await private_room("secret", alice, bob)

    comm, _, _ = await join("secret", bob)
    outsider = await refused("secret", staff)  # staff are not members either

    assert outsider["code"] == 4403
    await comm.disconnect()


async def test_private_room__invitee_enters_only_after_accepting(alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )

    pending = await refused("plans", bob)
    invitation = await database_sync_to_async(Invitation.objects.get)(room=room)
    await database_sync_to_async(services.invitation_accept)(
        invitation_id=invitation.pk, user=bob
    )
    comm, _, _ = await join("plans", bob)

    assert pending["code"] == 4403
    await comm.disconnect()


async def test_support_room__user_and_staff_enter_others_refused(alice, bob, staff):
    mine, _, _ = await join("support-alice", alice)
    helper, _, _ = await join("support-alice", staff)

    assert (await refused("support-alice", bob))["code"] == 4403
    assert (await refused("support-ghost", bob))["code"] == 4403
    assert (await refused("support-ghost", staff))["code"] == 4404
    room = await database_sync_to_async(Room.objects.get)(slug="support-alice")
    assert room.is_private and room.support_user_id == alice.pk
    for comm in (mine, helper):
        await comm.disconnect()


# --- messages -----------------------------------------------------------------------


async def test_two_sockets__each_sees_every_message_once_in_order(alice, bob):
    a, _, _ = await join("lobby", alice)
    b, _, _ = await join("lobby", bob)
    seen = {a: [], b: []}

    for text in ("one", "two", "three"):
        await a.send_json_to({"message": text})
    while len(seen[b]) < 3:
        seen[b].append(await receive_until(b, "chat.message"))
    await b.send_json_to({"message": "four"})

    expected = [("alice", "one"), ("alice", "two"), ("alice", "three"), ("bob", "four")]
    for comm, frames in seen.items():
        while len(frames) < 4:
            frames.append(await receive_until(comm, "chat.message"))
        assert without_presence(await frames_until_quiet(comm)) == []  # no repeats
        assert [(f["username"], f["message"]) for f in frames] == expected
        assert [f["type"] for f in frames] == ["chat.message"] * 4
        ids = [f["id"] for f in frames]
        assert ids == sorted(set(ids))
    assert [f["id"] for f in seen[a]] == [f["id"] for f in seen[b]]
    for comm in (a, b):
        await comm.disconnect()


async def test_message__stored_before_it_is_broadcast(alice):
    comm, _, _ = await join("lobby", alice)

    await comm.send_json_to({"message": "kept"})
    frame = await receive_until(comm, "chat.message")

    stored = await database_sync_to_async(Message.objects.get)(pk=frame["id"])
    assert stored.text == "kept"
    await comm.disconnect()


async def test_message__text_stays_text_never_html(alice, api_client):
    text = '<script>alert("x")</script> & <b>bold</b>'
    comm, _, _ = await join("lobby", alice)

    await comm.send_json_to({"message": text})
    frame = await receive_until(comm, "chat.message")

    assert frame["message"] == text
    body = await sync_to_async(
        lambda: api_client(alice).get("/api/chat/rooms/lobby/messages/").json()
    )()
    assert body["results"][0]["message"] == text
    await comm.disconnect()


async def test_message__history_is_not_repeated_live(alice, bob):
    await database_sync_to_async(services.room_join)(slug="lobby", user=bob)
    old = await post("lobby", bob, "before")

    comm, history, _ = await join("lobby", alice)

    assert [m["id"] for m in history["messages"]] == [old.pk]
    assert not [
        f for f in await frames_until_quiet(comm) if f["type"] == "chat.message"
    ]
    await comm.disconnect()


# --- presence -----------------------------------------------------------------------


async def test_presence__join_and_leave_reach_the_room(alice, bob):
    a, _, _ = await join("lobby", alice)

    b, _, joined = await join("lobby", bob)
    assert joined == {"type": "presence", "users": ["alice", "bob"]}
    assert await presence_with(a, ["alice", "bob"])

    await b.disconnect()
    assert await presence_with(a, ["alice"])
    await a.disconnect()


async def test_presence__two_tabs_are_one_user_until_the_last_closes(alice, bob):
    tab1, _, _ = await join("lobby", alice)
    tab2, _, second = await join("lobby", alice)
    observer, _, seen = await join("lobby", bob)
    assert second == {"type": "presence", "users": ["alice"]}
    assert seen["users"] == ["alice", "bob"]
    await frames_until_quiet(observer)

    await tab1.disconnect()
    assert await frames_until_quiet(observer) == []  # alice is still here

    await tab2.disconnect()
    assert await presence_with(observer, ["bob"])
    await observer.disconnect()


async def test_presence__entry_not_refreshed_expires_and_room_hears(alice, settings):
    """A web process that died leaves entries nobody refreshes; the next
    heartbeat of a live socket in the room purges them and tells the room."""
    settings.CHAT_PRESENCE_TTL_SECS = 2.0
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 0.2
    dead = presence.Entry("lobby", 999_999, "ghost", "specific.dead-process!1")
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    # Live long enough to be seen on connect, however slow the machine.
    client.zadd(presence.key("lobby"), {dead.member: time.time() + 1.5})

    comm, _, first = await join("lobby", alice)

    assert first["users"] == ["alice", "ghost"]
    assert await presence_with(comm, ["alice"])
    assert presence.present_user_ids("lobby") == {alice.pk}
    await comm.disconnect()
    client.close()


# --- typing and read receipts ---------------------------------------------------------


async def test_typing__others_hear_it_once_per_interval_sender_does_not(alice, bob):
    a, _, _ = await join("lobby", alice)
    b, _, _ = await join("lobby", bob)

    for _ in range(3):
        await a.send_json_to({"type": "typing"})

    assert await receive_until(b, "typing") == {"type": "typing", "username": "alice"}
    assert without_presence(await until_pong(a)) == []
    assert without_presence(await frames_until_quiet(b)) == []  # throttled
    for comm in (a, b):
        await comm.disconnect()


async def test_read__others_get_receipt_once_mark_is_stored(alice, bob):
    a, _, _ = await join("lobby", alice)
    b, _, _ = await join("lobby", bob)
    message = await post("lobby", bob, "read me")
    await receive_until(a, "chat.message")
    await receive_until(b, "chat.message")

    await a.send_json_to({"type": "read", "id": message.pk})
    await a.send_json_to({"type": "read", "id": message.pk})  # no news: no receipt

    assert await receive_until(b, "read_receipt") == {
        "type": "read_receipt",
        "username": "alice",
        "id": message.pk,
    }
    assert without_presence(await until_pong(a)) == []
    assert without_presence(await frames_until_quiet(b)) == []
    mark = await database_sync_to_async(Membership.objects.get)(
        room__slug="lobby", user=alice
    )
    assert mark.last_read_id == message.pk
    for comm in (a, b):
        await comm.disconnect()


async def test_read__at_or_below_the_sockets_mark_writes_nothing(alice, bob):
    a, _, _ = await join("lobby", alice)
    first = await post("lobby", bob, "one")
    second = await post("lobby", bob, "two")
    await a.send_json_to({"type": "read", "id": second.pk})
    assert without_presence(await until_pong(a))[-1]["id"] == second.pk

    async with held_write_thread():  # a write now would hold the pong back
        await a.send_json_to({"type": "read", "id": second.pk})
        await a.send_json_to({"type": "read", "id": first.pk})
        assert without_presence(await until_pong(a)) == []
    await a.disconnect()


async def test_read__message_of_another_room_is_not_found(alice, bob):
    await private_room("secret", bob)
    elsewhere = await post("secret", bob, "private")
    comm, _, _ = await join("lobby", alice)

    error = await send_raw(comm, json.dumps({"type": "read", "id": elsewhere.pk}))

    assert (error["type"], error["code"]) == ("error", "not_found")
    await comm.disconnect()


# --- notifications ------------------------------------------------------------------


async def test_support_reply__notifies_the_user_only_while_away(alice, staff):
    mine, _, _ = await join("support-alice", alice)
    await mine.disconnect()
    helper, _, _ = await join("support-alice", staff)
    feed = communicator("/ws/notifications/", alice)
    await feed.connect()
    await feed.receive_json_from()  # hello

    await helper.send_json_to({"message": "We are on it."})

    pushed = (await receive_until(feed, "notification"))["notification"]
    assert pushed["category"] == "chat"
    assert pushed["url"] == "/chat/support-alice/"
    assert pushed["body"] == "We are on it."
    assert pushed["data"]["room"] == "support-alice"

    back, _, _ = await join("support-alice", alice)
    await helper.send_json_to({"message": "Still there?"})
    await back.send_json_to({"message": "Yes, thanks."})  # her own words: no news
    await settled(helper)
    await settled(back)
    assert len(await chat_notifications(alice)) == 1
    assert len(await chat_notifications(staff)) == 0
    for comm in (helper, back, feed):
        await comm.disconnect()


async def test_mention__notifies_an_away_member_not_a_present_one_or_a_stranger(
    alice, bob, staff
):
    await private_room("team", alice, bob)
    comm, _, _ = await join("team", alice)

    await comm.send_json_to({"message": "@bob, see this. @staff too."})
    await settled(comm)
    [note] = await chat_notifications(bob)
    assert note.title == "alice mentioned you in team"
    assert note.url == "/chat/team/"
    assert await chat_notifications(staff) == []  # not a member

    bobs, _, _ = await join("team", bob)
    await comm.send_json_to({"message": "thanks @bob."})
    await settled(comm)
    assert len(await chat_notifications(bob)) == 1  # he was in the room
    for c in (comm, bobs):
        await c.disconnect()


async def test_support_reply_that_mentions_the_user__one_notification(alice, staff):
    await database_sync_to_async(services.room_join)(slug="support-alice", user=alice)
    helper, _, _ = await join("support-alice", staff)

    await helper.send_json_to({"message": "@alice done"})
    await settled(helper)

    [note] = await chat_notifications(alice)
    assert note.title == "staff replied in your support chat"
    await helper.disconnect()


# --- limits and bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1]", "invalid_json"),
        ('{"type": "explode"}', "unknown_type"),
        ('{"text": "hi"}', "unknown_type"),
        ('{"type": 3, "message": "hi"}', "unknown_type"),
        ('{"message": ""}', "invalid"),
        ('{"message": "   "}', "invalid"),
        ('{"message": 42}', "invalid"),
        ('{"message": null}', "invalid"),
        ('{"message": ["a"]}', "invalid"),
        ('{"type": "message"}', "invalid"),
        ('{"message": "nul\\u0000byte"}', "invalid"),
        ('{"type": "read"}', "invalid"),
        ('{"type": "read", "id": "7"}', "invalid"),
        ('{"type": "read", "id": 0}', "invalid"),
        ('{"type": "read", "id": 999999999}', "not_found"),
    ],
)
async def test_bad_frame__error_frame_nothing_stored_socket_open(alice, text, code):
    comm, _, _ = await join("lobby", alice)

    error = await send_raw(comm, text)

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


async def test_message_length__limit_is_the_setting(alice, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    comm, _, _ = await join("lobby", alice)

    await comm.send_json_to({"message": "x" * 10})
    ok = await comm.receive_json_from()
    error = await send_raw(comm, json.dumps({"message": "x" * 11}))

    assert ok["type"] == "chat.message"
    assert error["code"] == "invalid"
    assert "10 characters" in error["message"]
    await comm.disconnect()


async def test_message_rate__error_then_close_4429(alice, settings):
    settings.CHAT_MESSAGES_PER_MIN = 2
    settings.WS_RATE_LIMIT_CLOSE_AFTER = 1
    comm, _, _ = await join("lobby", alice)

    for text in ("a", "b"):
        await comm.send_json_to({"message": text})
        assert (await receive_until(comm, "chat.message"))["message"] == text
    await comm.send_json_to({"message": "c"})
    assert (await comm.receive_json_from())["code"] == "rate_limited"
    await comm.send_json_to({"type": "typing"})  # other frames are not messages
    await comm.send_json_to({"message": "d"})

    assert (await comm.receive_output(timeout=3))["code"] == 4429
    await comm.send_json_to({"message": "e"})  # the socket says nothing after closing
    assert await comm.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(Message.objects.count)() == 2


async def test_oversized_frame__closes_1009(alice):
    comm, _, _ = await join("lobby", alice)

    await comm.send_to(text_data=json.dumps({"message": "x" * 70_000}))

    assert (await comm.receive_output())["code"] == 1009
