"""Chat services: joining rules, message checks, mentions, commit-then-publish."""

import pytest
from django.db import transaction

from chat import services
from chat.errors import InvalidInput, RoomForbidden, RoomNotFound
from chat.models import Membership, Message, Room
from tests.chat.conftest import frames_until_quiet, join


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("hi @bob", {"bob"}),
        ("@bob, @carol: look", {"bob", "carol"}),
        ("ask @jane.doe.", {"jane.doe", "jane.doe."}),
        ("mail me at alice@example.com", set()),
        ("no mention", set()),
        ("@", set()),
    ],
)
def test_mentioned_usernames(text, names):
    assert services.mentioned_usernames(text) == names


def test_mentioned_usernames__at_most_the_limit(settings):
    settings.CHAT_MENTIONS_MAX = 2

    assert services.mentioned_usernames("@a @b @c @d") == {"a", "b"}


def test_room_join__public_room_makes_a_member(alice):
    room = services.room_join(slug="lobby", user=alice)

    assert Membership.objects.filter(room=room, user=alice).exists()


def test_room_join__support_room_made_for_its_user_not_by_others(alice, bob):
    with pytest.raises(RoomForbidden):
        services.room_join(slug="support-alice", user=bob)
    assert not Room.objects.filter(slug="support-alice").exists()

    room = services.room_join(slug="support-alice", user=alice)

    assert room.support_user == alice
    assert room.is_private


def test_room_join__staff_becomes_member_of_the_support_room(alice, staff):
    room = services.room_join(slug="support-alice", user=staff)

    assert set(room.members.values_list("username", flat=True)) == {"alice", "staff"}


def test_room_join__support_room_of_nobody_not_found_for_staff(staff):
    with pytest.raises(RoomNotFound):
        services.room_join(slug="support-nobody", user=staff)


def test_room_join__case_matters_for_support_rooms(alice):
    with pytest.raises(RoomForbidden):
        services.room_join(slug="support-Alice", user=alice)


def test_message_post__keeps_text_exactly(alice):
    room = services.room_join(slug="lobby", user=alice)
    text = "  <b>hi</b>\n\ttabs & emoji 🎉  "

    message = services.message_post(room=room, author=alice, text=text)

    message.refresh_from_db()
    assert message.text == text


@pytest.mark.parametrize("text", ["", " \n", None, 5, "a\x00b", "x" * 4001])
def test_message_post__bad_text_refused_nothing_stored(alice, text):
    room = services.room_join(slug="lobby", user=alice)

    with pytest.raises(InvalidInput):
        services.message_post(room=room, author=alice, text=text)
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_message_post__rolled_back_message_is_never_broadcast(alice, bob):
    from channels.db import database_sync_to_async

    comm, _, _ = await join("lobby", bob)
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")

    class Abort(Exception):
        pass

    def post_then_fail():
        with transaction.atomic():
            services.message_post(room=room, author=alice, text="never")
            raise Abort

    with pytest.raises(Abort):
        await database_sync_to_async(post_then_fail)()

    assert [f for f in await frames_until_quiet(comm) if f["type"] != "presence"] == []
    await comm.disconnect()
