"""Reads of chat rooms, invitations and messages, and who may enter a room."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Prefetch, Q, QuerySet

from chat.models import SUPPORT_PREFIX, Invitation, Membership, Message, Room


def room_may_enter(*, room: Room, user: AbstractBaseUser) -> bool:
    """The one access rule, for sockets and HTTP alike.

    Public rooms admit every signed-in user; a support room admits its user and
    staff, and nobody else (a staff member who joined one keeps the membership
    row after losing staff, not the access); other private rooms admit their
    members.
    """
    if not room.is_private:
        return True
    if room.is_support:
        return user.is_staff or room.support_user_id == user.pk
    return Membership.objects.filter(room=room, user_id=user.pk).exists()


def rooms_visible(*, user: AbstractBaseUser) -> QuerySet[Room]:
    """Rooms the user may enter: public ones, their private ones, and for staff
    every support room."""
    rule = (
        Q(is_private=False)
        | Q(memberships__user_id=user.pk, support_user__isnull=True)
        | Q(support_user_id=user.pk)
    )
    if user.is_staff:
        rule |= Q(support_user__isnull=False)
    return (
        Room.objects.filter(rule)
        .distinct()
        .select_related("support_user")
        .order_by("slug")
    )


def with_people(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """``rooms`` with their members and pending invitees fetched in two queries
    (what the room shape shows), the latter as ``pending_invitations``."""
    return rooms.prefetch_related(
        "memberships__user",
        Prefetch(
            "invitations",
            queryset=Invitation.objects.filter(
                status=Invitation.Status.PENDING
            ).select_related("invitee"),
            to_attr="pending_invitations",
        ),
    )


def room_get(*, slug: str) -> Room:
    """A room by slug; ``Room.DoesNotExist`` if none."""
    return Room.objects.select_related("support_user").get(slug=slug)


def room_get_by_id(*, room_id: int) -> Room:
    """A room by id; ``Room.DoesNotExist`` if none."""
    return Room.objects.select_related("support_user").get(pk=room_id)


def member_ids(*, room: Room, user_ids: set[int]) -> set[int]:
    """Those of ``user_ids`` who are members of the room and may still enter it.

    A support room makes staff members when they join; one who is no longer
    staff keeps the row but not the access (:func:`room_may_enter`).
    """
    members = Membership.objects.filter(room=room, user_id__in=user_ids)
    if room.is_support:
        members = members.filter(
            Q(user__is_staff=True) | Q(user_id=room.support_user_id)
        )
    return set(members.values_list("user_id", flat=True))


def messages_newest_first(*, room: Room) -> QuerySet[Message]:
    """A room's messages, newest first (for cursor pagination)."""
    return Message.objects.filter(room=room).select_related("author").order_by("-id")


def messages_recent(*, room: Room, limit: int) -> list[Message]:
    """The room's last ``limit`` messages, oldest first."""
    newest = list(messages_newest_first(room=room)[:limit])
    newest.reverse()
    return newest


def message_in_room(*, room: Room, message_id: int) -> bool:
    return Message.objects.filter(room=room, pk=message_id).exists()


# --- Invitations --------------------------------------------------------------------


def invitable_user(*, room: Room, username: str) -> AbstractBaseUser | None:
    """The active user of that name if not a member of the room yet, else None."""
    return (
        get_user_model()
        .objects.filter(username=username, is_active=True)
        .exclude(chat_memberships__room=room)
        .first()
    )


def invitations_pending(*, user: AbstractBaseUser) -> QuerySet[Invitation]:
    """The user's unanswered invitations, newest first."""
    return (
        Invitation.objects.filter(invitee_id=user.pk, status=Invitation.Status.PENDING)
        .select_related("room", "inviter")
        .order_by("-id")
    )


def invitation_pending_to(*, room: Room, invitee: AbstractBaseUser) -> Invitation:
    return Invitation.objects.select_related("room", "invitee").get(
        room=room, invitee=invitee, status=Invitation.Status.PENDING
    )


def invitation_pending_for_update(
    *, invitation_id: int, invitee: AbstractBaseUser
) -> Invitation | None:
    """The invitee's pending invitation, row-locked; None for any other id."""
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("room")
        .filter(pk=invitation_id, invitee_id=invitee.pk)
        .filter(status=Invitation.Status.PENDING)
        .first()
    )


def invitation_declined_before(*, room: Room, invitee_id: int) -> bool:
    return Invitation.objects.filter(
        room=room, invitee_id=invitee_id, status=Invitation.Status.DECLINED
    ).exists()


def support_room_of_another(*, slug: str, user: AbstractBaseUser) -> bool:
    """Whether ``slug`` names a support room that ``user`` may not enter (theirs
    or staff's): true whether or not it exists, so callers can refuse alike."""
    return (
        slug.startswith(SUPPORT_PREFIX)
        and not user.is_staff
        and slug.removeprefix(SUPPORT_PREFIX) != user.get_username()
    )
