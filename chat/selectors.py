"""Reads of chat rooms and messages, and who may enter a room."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from chat.models import Membership, Message, Room


def room_may_enter(*, room: Room, user: AbstractBaseUser) -> bool:
    """The one access rule, for sockets and HTTP alike.

    Public rooms admit every signed-in user; a support room admits its user and
    staff; other private rooms admit their members.
    """
    if not room.is_private:
        return True
    if room.is_support and (user.is_staff or room.support_user_id == user.pk):
        return True
    return Membership.objects.filter(room=room, user_id=user.pk).exists()


def rooms_visible(*, user: AbstractBaseUser) -> QuerySet[Room]:
    """Rooms the user may enter: public ones, their private ones, and for staff
    every support room."""
    rule = Q(is_private=False) | Q(memberships__user_id=user.pk)
    if user.is_staff:
        rule |= Q(support_user__isnull=False)
    return (
        Room.objects.filter(rule)
        .distinct()
        .select_related("support_user")
        .order_by("slug")
    )


def room_get(*, slug: str) -> Room:
    """A room by slug; ``Room.DoesNotExist`` if none."""
    return Room.objects.select_related("support_user").get(slug=slug)


def member_ids(*, room: Room, user_ids: set[int]) -> set[int]:
    """Those of ``user_ids`` who are members of the room."""
    return set(
        Membership.objects.filter(room=room, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )


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
