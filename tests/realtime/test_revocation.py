"""Revocation on open sockets: a user who loses access loses it on the sockets
they have open, not at their next connect (docs/SECURITY.md, "Revocation").

Every test changes the database as the admin or an API would, then waits for
the socket's close or ``unsubscribed`` frame. A socket that must stay open
proves it by receiving a marker published after the change to a group it is
in: Redis keeps one publisher's order, so a close would have come first.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token

from chat.models import Membership, Room
from hub.asgi import application
from notifications import services
from notifications.models import Topic
from realtime import groups, publish, security
from tests.chat.conftest import join
from tests.conftest import (
    communicator,
    receive_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
User = get_user_model()


async def notifications_socket(user, *, headers=()):
    comm = communicator("/ws/notifications/", user, headers=headers)
    assert (await comm.connect())[0]
    hello = await receive_until(comm, "hello")
    return comm, hello


async def session_socket(username: str, path: str = "/ws/notifications/"):
    """A browser's socket signed in by a session cookie; returns it and the
    test client holding that session (to log it out)."""
    browser = Client()
    user = await db(User.objects.get)(username=username)
    await sync_to_async(browser.force_login)(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", cookie),
        ],
    )
    assert (await comm.connect())[0]
    await receive_until(comm, "hello")
    return comm, browser


async def closed_with(comm) -> int:
    """The close code the server sends next (frames before it are skipped)."""
    while True:
        message = await comm.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return message["code"]


async def still_open(user, *comms) -> None:
    """Each of ``user``'s notification sockets gets a marker published now,
    and nothing before it."""
    marker = {"type": "event", "topic": "marker", "event": {"n": 1}}
    await publish.asend(
        groups.user(user.pk), publish.message(groups.TOPIC_EVENT, [marker])
    )
    for comm in comms:
        assert await comm.receive_json_from(timeout=3) == marker
        await comm.disconnect()


async def still_in_room(comm, room: str) -> None:
    """A marker published to the room now reaches ``comm`` (presence frames
    may come first: others left)."""
    await publish.achat_signal(room, {"type": "marker"})
    while (frame := await comm.receive_json_from(timeout=3))["type"] != "marker":
        assert frame["type"] == "presence", frame
    await comm.disconnect()


def _save(user, **fields) -> None:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


# --- the user ------------------------------------------------------------------


@pytest.mark.usefixtures("consumer_loop")
async def test_deactivated__every_socket_of_the_user_closes_4401(alice, bob):
    tab1, _ = await notifications_socket(alice)
    tab2, _ = await notifications_socket(alice)
    chat, _, _ = await join("lobby", alice)
    other, _ = await notifications_socket(bob)

    await db(_save)(alice, is_active=False)

    for comm in (tab1, tab2, chat):
        assert await closed_with(comm) == 4401
    await still_open(bob, other)


async def test_deleted__the_socket_closes_4401(alice):
    comm, _ = await notifications_socket(alice)

    await db(alice.delete)()

    assert await closed_with(comm) == 4401


async def test_saved_without_losing_access__the_socket_stays(alice):
    comm, _ = await notifications_socket(alice)

    await db(_save)(alice, email="alice@example.com", is_staff=True)

    await still_open(alice, comm)


# --- the sign-in ---------------------------------------------------------------


async def test_logout__that_sessions_sockets_close_4401_others_stay(alice):
    mine, browser = await session_socket("alice")
    elsewhere, _ = await session_socket("alice")
    by_token, _ = await notifications_socket(alice)

    response = await sync_to_async(browser.post)("/logout/")

    assert response.status_code == 302
    assert await closed_with(mine) == 4401
    await still_open(alice, elsewhere, by_token)


async def test_logout__closes_the_session_socket_before_the_session_is_gone(alice):
    """``user_logged_out`` is sent before the session is flushed, and another
    process may re-check first: the session named by the event closes anyway."""
    comm, browser = await session_socket("alice")
    fingerprint = security.credential_fingerprint(
        security.SESSION, browser.cookies["sessionid"].value
    )

    await sync_to_async(publish.access_changed)(alice.pk, credential=fingerprint)

    assert await closed_with(comm) == 4401


async def ticket_socket(http_client):
    """A socket opened with a ticket that ``http_client`` asked for."""
    response = await sync_to_async(http_client.post)("/api/ws-ticket/")
    assert response.status_code == 200, response.content
    comm = communicator(f"/ws/notifications/?ticket={response.json()['ticket']}")
    assert (await comm.connect())[0]
    await receive_until(comm, "hello")
    return comm


async def test_logout__a_socket_of_a_ticket_the_session_asked_for_closes_4401(
    alice, api_client
):
    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    of_session = await ticket_socket(browser)
    of_token = await ticket_socket(api_client(alice))

    await sync_to_async(browser.post)("/logout/")

    assert await closed_with(of_session) == 4401
    await still_open(alice, of_token)


async def test_api_token_deleted__a_socket_of_a_ticket_it_asked_for_closes_4401(
    alice, api_client
):
    comm = await ticket_socket(api_client(alice))

    await db(Token.objects.filter(user=alice).delete)()

    assert await closed_with(comm) == 4401


async def test_password_changed__other_sessions_sockets_close_4401(alice):
    comm, _ = await session_socket("alice")

    await db(lambda: (alice.set_password("another-horse-battery"), alice.save()))()

    assert await closed_with(comm) == 4401


async def test_api_token_deleted__its_sockets_close_4401_a_sessions_stay(alice):
    by_token, _ = await notifications_socket(alice)
    by_session, _ = await session_socket("alice")

    await db(Token.objects.filter(user=alice).delete)()

    assert await closed_with(by_token) == 4401
    await still_open(alice, by_session)


async def test_api_token_rotated__sockets_of_the_old_key_close_4401(alice):
    comm, _ = await notifications_socket(alice)

    def rotate():
        Token.objects.filter(user=alice).delete()
        Token.objects.create(user=alice)

    await db(rotate)()

    assert await closed_with(comm) == 4401


# --- staff ---------------------------------------------------------------------


async def test_demoted__dashboard_closes_4403(staff):
    comm = communicator("/ws/dashboard/", staff)
    assert (await comm.connect())[0]

    await db(_save)(staff, is_staff=False)

    assert await closed_with(comm) == 4403


async def test_demoted__support_room_of_another_closes_4403_own_sockets_stay(
    alice, staff
):
    helper, _, _ = await join("support-alice", staff)
    mine, _, _ = await join("support-alice", alice)

    await db(_save)(staff, is_staff=False)

    assert await closed_with(helper) == 4403
    await still_in_room(mine, "support-alice")


async def test_demoted__staff_only_topic_left_with_a_frame_socket_stays(staff):
    await db(Topic.objects.create)(slug="ops", name="Ops", staff_only=True)
    comm, _ = await notifications_socket(staff)
    await db(services.topic_subscribe)(user=staff, slug="ops")
    assert (await comm.receive_json_from(timeout=3))["type"] == "subscribed"

    await db(_save)(staff, is_staff=False)

    assert await comm.receive_json_from(timeout=5) == {
        "type": "unsubscribed",
        "topic": "ops",
        "reason": "revoked",
    }
    await db(services.topic_event_send)(slug="ops", event={"secret": 1})
    await still_open(staff, comm)


# --- restricted topics ---------------------------------------------------------


@pytest.fixture
def team_topic(alice):
    team = Group.objects.create(name="team")
    alice.groups.add(team)
    topic = Topic.objects.create(slug="team-news", name="Team", group=team)
    services.topic_subscribe(user=alice, slug="team-news")
    return topic


@pytest.mark.parametrize(
    "remove",
    [
        lambda user, group: user.groups.remove(group),
        lambda user, group: group.user_set.remove(user),
        lambda user, group: user.groups.clear(),
        lambda user, group: group.user_set.clear(),
    ],
    ids=["user.groups.remove", "group.user_set.remove", "user.clear", "group.clear"],
)
@pytest.mark.usefixtures("consumer_loop")
async def test_left_the_group__topic_left_with_a_frame_events_stop(
    alice, team_topic, remove
):
    comm, hello = await notifications_socket(alice)
    assert hello["topics"] == ["team-news"]

    await db(remove)(alice, team_topic.group)

    assert await comm.receive_json_from(timeout=5) == {
        "type": "unsubscribed",
        "topic": "team-news",
        "reason": "revoked",
    }
    await db(services.topic_event_send)(slug="team-news", event={"secret": 1})
    await still_open(alice, comm)


async def test_left_the_group__a_new_socket_does_not_join_the_topic(alice, team_topic):
    await db(alice.groups.remove)(team_topic.group)

    comm, hello = await notifications_socket(alice)

    assert hello["topics"] == []
    await db(services.topic_event_send)(slug="team-news", event={"secret": 1})
    await still_open(alice, comm)


async def test_topic_made_staff_only__followers_leave_it(alice, team_topic):
    comm, _ = await notifications_socket(alice)

    team_topic.staff_only = True
    await db(team_topic.save)()

    assert (await comm.receive_json_from(timeout=5))["reason"] == "revoked"
    await still_open(alice, comm)


async def test_topic_moved_to_another_group__followers_outside_it_leave(
    alice, team_topic
):
    comm, _ = await notifications_socket(alice)

    team_topic.group = await db(Group.objects.create)(name="others")
    await db(team_topic.save)()

    assert (await comm.receive_json_from(timeout=5))["reason"] == "revoked"
    await still_open(alice, comm)


# --- chat rooms ----------------------------------------------------------------


async def test_removed_from_a_private_room__its_socket_closes_4403(alice, bob):
    await db(Room.objects.create)(slug="hq", is_private=True)
    room = await db(Room.objects.get)(slug="hq")
    for user in (alice, bob):
        await db(Membership.objects.create)(room=room, user=user)
    removed, _, _ = await join("hq", bob)
    stays, _, _ = await join("hq", alice)

    await db(Membership.objects.filter(room=room, user=bob).delete)()

    assert await closed_with(removed) == 4403
    await still_in_room(stays, "hq")


async def test_room_made_private__non_members_close_4403(alice, bob):
    member, _, _ = await join("lobby", alice)
    outsider, _, _ = await join("lobby", bob)
    room = await db(Room.objects.get)(slug="lobby")
    await db(Membership.objects.filter(room=room, user=bob).delete)()

    room.is_private = True
    await db(room.save)()

    assert await closed_with(outsider) == 4403
    await still_in_room(member, "lobby")
