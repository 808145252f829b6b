"""Chat services: joining rules, message checks, mentions, commit-then-publish."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from chat import selectors, services
from chat.errors import (
    CannotInvite,
    InvalidInput,
    InvitationNotFound,
    RateLimited,
    RoomForbidden,
    RoomNotFound,
)
from chat.models import Invitation, Membership, Message, Room
from notifications.models import Notification
from tests.chat.conftest import frames_until_quiet, join, private_room_of


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


# --- invitations ------------------------------------------------------------------


def _mention_notes(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, data__has_key="message_id"))


def _invitation_notes(user) -> list[Notification]:
    return list(
        Notification.objects.filter(recipient=user, data__has_key="invitation_id")
    )


def test_room_create__invitee_is_invited_not_a_member(alice, bob):
    room = services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )

    [invitation] = Invitation.objects.filter(room=room)
    assert (invitation.invitee, invitation.inviter) == (bob, alice)
    assert invitation.status == Invitation.Status.PENDING
    assert not selectors.room_may_enter(room=room, user=bob)
    with pytest.raises(RoomForbidden):
        services.room_join(slug="plans", user=bob)
    assert list(room.members.all()) == [alice]


def test_invitation_accept__makes_a_member_once(alice, bob):
    room = services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )
    invitation = Invitation.objects.get(room=room)

    assert services.invitation_accept(invitation_id=invitation.pk, user=bob) == room
    assert services.room_join(slug="plans", user=bob) == room
    with pytest.raises(InvitationNotFound):  # answered already
        services.invitation_accept(invitation_id=invitation.pk, user=bob)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.answered_at is not None


def test_invitation_decline__no_membership(alice, bob):
    room = services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )
    invitation = Invitation.objects.get(room=room)

    services.invitation_decline(invitation_id=invitation.pk, user=bob)

    assert not selectors.room_may_enter(room=room, user=bob)
    assert Invitation.objects.get().status == Invitation.Status.DECLINED


def test_invitation_answer__only_by_the_invitee(alice, bob, staff):
    services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )
    invitation = Invitation.objects.get()

    for answer in (services.invitation_accept, services.invitation_decline):
        with pytest.raises(InvitationNotFound):
            answer(invitation_id=invitation.pk, user=staff)
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_mention__pending_invitee_not_notified_until_accepted(
    alice, bob, django_capture_on_commit_callbacks
):
    room = services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(room=room, author=alice, text="@bob are you there?")
    assert _mention_notes(bob) == []

    services.invitation_accept(invitation_id=Invitation.objects.get().pk, user=bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(room=room, author=alice, text="@bob welcome")
    [note] = _mention_notes(bob)
    assert note.title == "alice mentioned you in plans"


def test_mention__non_member_of_a_private_room_never_notified(
    alice, staff, django_capture_on_commit_callbacks
):
    room = services.room_create(creator=alice, slug="plans", private=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(room=room, author=alice, text="@staff help")

    assert _mention_notes(staff) == []


def test_invitation__invitee_told_once_per_pending_invitation(
    alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        room = services.room_create(
            creator=alice,
            slug="plans",
            name="Plans",
            private=True,
            invitee_ids=[bob.pk],
        )
        again, created = services.invitation_create(
            room=room, inviter=alice, username="bob"
        )

    assert not created
    assert again == Invitation.objects.get()
    [note] = _invitation_notes(bob)
    assert note.title == "alice invited you to #Plans"
    assert note.category == "chat"
    assert note.url == "/chat/plans/"
    assert note.data == {"room": "plans", "invitation_id": again.pk}


def test_invitation__after_a_decline_new_ones_are_not_announced(
    alice, bob, django_capture_on_commit_callbacks
):
    room = services.room_create(creator=alice, slug="plans", private=True)
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = services.invitation_create(room=room, inviter=alice, username="bob")
    services.invitation_decline(invitation_id=first.pk, user=bob)

    with django_capture_on_commit_callbacks(execute=True):
        second, created = services.invitation_create(
            room=room, inviter=alice, username="bob"
        )

    assert created
    assert second.status == Invitation.Status.PENDING
    assert len(_invitation_notes(bob)) == 1  # the first one only


@pytest.mark.parametrize("who", ["nobody", "carol", "alice", "bob"])
def test_invitation_create__no_such_user_inactive_self_or_member_one_error(
    alice, bob, make_user, who
):
    make_user("carol", is_active=False)
    room = private_room_of("plans", alice, bob)

    with pytest.raises(CannotInvite) as refused:
        services.invitation_create(room=room, inviter=alice, username=who)

    assert str(refused.value) == "No user of that name can be invited to this room."
    assert not Invitation.objects.filter(status=Invitation.Status.PENDING).exists()


def test_invitation_create__only_members_of_private_non_support_rooms_invite(
    alice, bob, staff
):
    secret = services.room_create(creator=alice, slug="secret", private=True)
    lobby = services.room_join(slug="lobby", user=alice)
    support = services.room_join(slug="support-alice", user=alice)

    with pytest.raises(RoomForbidden):
        services.invitation_create(room=secret, inviter=bob, username="staff")
    with pytest.raises(InvalidInput):
        services.invitation_create(room=lobby, inviter=alice, username="bob")
    with pytest.raises(RoomForbidden):
        services.invitation_create(room=support, inviter=alice, username="bob")
    assert not Invitation.objects.exists()


# --- rates ------------------------------------------------------------------------


def test_room_create__past_the_rate_refused_with_retry_after(alice, bob, settings):
    settings.CHAT_ROOM_CREATE_RATE = "2/hour"
    for slug in ("one", "two"):
        services.room_create(creator=alice, slug=slug, private=True)

    with pytest.raises(RateLimited) as refused:
        services.room_create(creator=alice, slug="three", private=True)

    assert 0 < refused.value.retry_after_secs <= 3600
    assert not Room.objects.filter(slug="three").exists()
    services.room_create(creator=bob, slug="bobs", private=True)  # counted apart


def test_room_join__creating_a_room_counts_against_the_rate(alice, settings):
    settings.CHAT_ROOM_CREATE_RATE = "1/hour"
    services.room_join(slug="first", user=alice)
    services.room_join(slug="first", user=alice)  # exists: creates nothing

    with pytest.raises(RateLimited):
        services.room_join(slug="second", user=alice)
    assert not Room.objects.filter(slug="second").exists()


def test_invitations__past_the_rate_refused_answered_ones_count(
    alice, bob, staff, settings
):
    settings.CHAT_INVITATIONS_RATE = "1/hour"
    room = services.room_create(creator=alice, slug="plans", private=True)
    first, _ = services.invitation_create(room=room, inviter=alice, username="bob")
    services.invitation_decline(invitation_id=first.pk, user=bob)

    with pytest.raises(RateLimited) as refused:
        services.invitation_create(room=room, inviter=alice, username="staff")

    assert 0 < refused.value.retry_after_secs <= 3600
    assert not Invitation.objects.filter(invitee=staff).exists()


def test_rates__rows_older_than_the_window_do_not_count(alice, bob, settings):
    settings.CHAT_ROOM_CREATE_RATE = "1/hour"
    settings.CHAT_INVITATIONS_RATE = "1/hour"
    room = services.room_create(
        creator=alice, slug="plans", private=True, invitee_ids=[bob.pk]
    )
    an_hour_ago = timezone.now() - timedelta(hours=1, seconds=1)
    Room.objects.filter(pk=room.pk).update(created_at=an_hour_ago)
    Invitation.objects.update(created_at=an_hour_ago)

    services.room_create(creator=alice, slug="more", private=True)
    services.invitation_decline(invitation_id=Invitation.objects.get().pk, user=bob)
    services.invitation_create(room=room, inviter=alice, username="bob")


def test_room_create__invitees_count_against_the_invitation_rate(
    alice, bob, staff, settings
):
    settings.CHAT_INVITATIONS_RATE = "1/hour"

    with pytest.raises(RateLimited):
        services.room_create(
            creator=alice, slug="plans", private=True, invitee_ids=[bob.pk, staff.pk]
        )
    assert not Room.objects.filter(slug="plans").exists()


def test_mention__a_former_staff_member_of_a_support_room_is_not_notified(
    alice, staff, make_user, django_capture_on_commit_callbacks
):
    still_staff = make_user("still", is_staff=True)
    for helper in (staff, still_staff):
        services.room_join(slug="support-alice", user=helper)  # makes a member
    room = services.room_join(slug="support-alice", user=alice)
    staff.is_staff = False
    staff.save()

    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_post(
            room=room, author=alice, text="@staff @still hello?"
        )

    mentioned = Notification.objects.filter(data__message_id=message.pk)
    assert list(mentioned.values_list("recipient_id", flat=True)) == [still_staff.pk]
    assert Membership.objects.filter(room=room, user=staff).exists()  # row kept
