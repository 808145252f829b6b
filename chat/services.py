"""Writes of chat: rooms, joins, invitations, messages, read marks, and the
notifications they cause.

Every function stores first and publishes after the commit through
:mod:`realtime.publish`; consumers and views call these and translate the errors of
:mod:`chat.errors`.
"""

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from chat import limits, presence, selectors
from chat.errors import (
    CannotInvite,
    InvalidInput,
    InvitationNotFound,
    MessageNotFound,
    RoomExists,
    RoomForbidden,
    RoomNotFound,
)
from chat.models import (
    ROOM_SLUG_RE,
    SUPPORT_PREFIX,
    Invitation,
    Membership,
    Message,
    Room,
)
from chat.serializers import message_frame
from notifications import services as notifications
from notifications.models import TITLE_MAX_CHARS
from realtime import publish

logger = logging.getLogger(__name__)

# "@name": a Django username (letters, digits, @ . + - _) after a non-word start.
_MENTION_RE = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
# How much of a message a chat notification's body quotes.
NOTIFICATION_QUOTE_MAX_CHARS = 500


def room_create(
    *,
    creator: AbstractBaseUser,
    slug: str,
    name: str = "",
    private: bool = False,
    invitee_ids: list[int] | None = None,
) -> Room:
    """Create a room; the creator is its first member, and each of ``invitee_ids``
    (active users, private rooms only) gets an invitation, not a membership.

    Public rooms need staff, or CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS. The room counts
    against CHAT_ROOM_CREATE_RATE, each invitee against CHAT_INVITATIONS_RATE.
    Raises RoomForbidden, RoomExists, InvalidInput
    (support-room names are the hub's), RateLimited.
    """
    if slug.startswith(SUPPORT_PREFIX):
        raise InvalidInput(f"Names starting with {SUPPORT_PREFIX!r} are support rooms.")
    if not private and not _may_create_public(creator):
        raise RoomForbidden("Only staff may create public rooms.")
    invitee_ids = sorted(set(invitee_ids or ()) - {creator.pk})
    if invitee_ids and not private:
        raise InvalidInput("Only private rooms have invitations.")
    _limit_room_creation(creator)
    if invitee_ids:
        _limit_invitations(creator, len(invitee_ids))
    try:
        with transaction.atomic():
            room = Room.objects.create(
                slug=slug, name=name or slug, is_private=private, created_by=creator
            )
            Membership.objects.create(room=room, user=creator)
            invitations = Invitation.objects.bulk_create(
                Invitation(room=room, invitee_id=uid, inviter=creator)
                for uid in invitee_ids
            )
    except IntegrityError as exc:
        raise RoomExists(f"A room named {slug!r} already exists.") from exc
    for invitation in invitations:
        _announce_on_commit(invitation)
    return room


def room_join(*, slug: str, user: AbstractBaseUser) -> Room:
    """The room a socket of ``user`` enters as ``slug``, creating what the rules allow.

    A missing public room is created if users may create public rooms; a missing
    support room is created for its user or a staff member. Joining makes the
    user a member of a public room or, for staff, of a support room, so that
    mentions reach them. Raises RoomNotFound or RoomForbidden.
    """
    if not ROOM_SLUG_RE.fullmatch(slug):
        raise RoomNotFound("Room names are letters, digits, '-', '_' or '.'.")
    if slug.startswith(SUPPORT_PREFIX):
        room = _support_room(slug, user)
    else:
        try:
            room = selectors.room_get(slug=slug)
        except Room.DoesNotExist:
            if not _may_create_public(user):
                raise RoomNotFound(f"No room {slug!r}.") from None
            _limit_room_creation(user)
            room, _ = Room.objects.get_or_create(
                slug=slug, defaults={"name": slug, "created_by": user}
            )
    if not selectors.room_may_enter(room=room, user=user):
        raise RoomForbidden("This room is private.")
    Membership.objects.get_or_create(room=room, user=user)
    return room


def _may_create_public(user: AbstractBaseUser) -> bool:
    return user.is_staff or settings.CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS


def _limit_room_creation(user: AbstractBaseUser) -> None:
    limits.check(
        done=Room.objects.filter(created_by_id=user.pk),
        rate=settings.CHAT_ROOM_CREATE_RATE,
        units=1,
        message=f"Too many rooms created (at most {settings.CHAT_ROOM_CREATE_RATE}).",
    )


def _limit_invitations(user: AbstractBaseUser, units: int) -> None:
    limits.check(
        done=Invitation.objects.filter(inviter_id=user.pk),
        rate=settings.CHAT_INVITATIONS_RATE,
        units=units,
        message=f"Too many invitations (at most {settings.CHAT_INVITATIONS_RATE}).",
    )


def _support_room(slug: str, user: AbstractBaseUser) -> Room:
    username = slug.removeprefix(SUPPORT_PREFIX)
    if not user.is_staff and user.get_username() != username:
        raise RoomForbidden("A support room admits its user and staff.")
    try:
        return selectors.room_get(slug=slug)
    except Room.DoesNotExist:
        pass
    owner = get_user_model().objects.filter(username=username, is_active=True).first()
    if owner is None:
        raise RoomNotFound(f"No user {username!r} to support.")
    with transaction.atomic():
        room, created = Room.objects.get_or_create(
            slug=slug,
            defaults={
                "name": f"Support for {username}",
                "is_private": True,
                "support_user": owner,
            },
        )
        if created:
            Membership.objects.create(room=room, user=owner)
    return room


# --- Invitations --------------------------------------------------------------------


def invitation_create(
    *, room: Room, inviter: AbstractBaseUser, username: str
) -> tuple[Invitation, bool]:
    """Invite ``username`` to a private room the inviter is a member of; returns
    the invitation and whether it is new (inviting again returns the pending one,
    and announces nothing).

    Raises RoomForbidden (not a member; support rooms invite nobody), InvalidInput
    (a public room), RateLimited (past CHAT_INVITATIONS_RATE), CannotInvite: no
    active user of that name, or a member already (the inviter too), one error
    for both so that nobody learns which names exist.
    """
    if room.is_support:
        raise RoomForbidden("Support rooms admit their user and staff; nobody else.")
    if not selectors.room_may_enter(room=room, user=inviter):
        raise RoomForbidden("This room is private.")
    if not room.is_private:
        raise InvalidInput("Public rooms are open to everyone; nobody is invited.")
    _limit_invitations(inviter, 1)
    invitee = selectors.invitable_user(room=room, username=username)
    if invitee is None:  # the inviter is a member, so never invites themselves
        raise CannotInvite("No user of that name can be invited to this room.")
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                room=room, invitee=invitee, inviter=inviter
            )
    except IntegrityError:  # already invited: chat_invitation_pending_once
        return selectors.invitation_pending_to(room=room, invitee=invitee), False
    _announce_on_commit(invitation)
    return invitation, True


def invitation_accept(*, invitation_id: int, user: AbstractBaseUser) -> Room:
    """The invitee accepts: from now on a member. Raises InvitationNotFound for an
    id that is not a pending invitation of this user."""
    with transaction.atomic():
        invitation = _answer(invitation_id, user, Invitation.Status.ACCEPTED)
        Membership.objects.get_or_create(room=invitation.room, user=user)
    return invitation.room


def invitation_decline(*, invitation_id: int, user: AbstractBaseUser) -> None:
    """The invitee declines; later invitations to that room are not announced to
    them. Raises InvitationNotFound as invitation_accept does."""
    with transaction.atomic():
        _answer(invitation_id, user, Invitation.Status.DECLINED)


def _answer(invitation_id: int, user: AbstractBaseUser, status: str) -> Invitation:
    """Lock the user's pending invitation (an accept and a decline at once: one
    wins, the other finds nothing pending) and record the answer."""
    invitation = selectors.invitation_pending_for_update(
        invitation_id=invitation_id, invitee=user
    )
    if invitation is None:
        raise InvitationNotFound("No such invitation.")
    invitation.status = status
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    return invitation


def _announce_on_commit(invitation: Invitation) -> None:
    publish.on_commit(lambda: _announce(invitation))


def _announce(invitation: Invitation) -> None:
    """One notification, "X invited you to #room", unless the invitee has declined
    an invitation to this room before (so a decline ends the asking)."""
    room, invitee_id = invitation.room, invitation.invitee_id
    if selectors.invitation_declined_before(room=room, invitee_id=invitee_id):
        return
    who = invitation.inviter.get_username() if invitation.inviter else "Someone"
    notifications.notify(
        recipients=[invitee_id],
        title=f"{who} invited you to #{room.name or room.slug}"[:TITLE_MAX_CHARS],
        body="Accept the invitation to enter the room, or decline it.",
        category="chat",
        url=settings.CHAT_ROOM_URL.format(slug=room.slug),
        data={"room": room.slug, "invitation_id": invitation.pk},
        idempotency_key=f"chat:invitation:{invitation.pk}",
    )


# --- Messages -----------------------------------------------------------------------


def message_post(*, room: Room, author: AbstractBaseUser, text: str) -> Message:
    """Store a message, then broadcast it to the room and notify whom it concerns.

    ``text`` is kept exactly as sent (plain text; clients escape it). Raises
    InvalidInput for text that is not a non-blank string of at most
    CHAT_MESSAGE_MAX_CHARS characters, or that contains NUL.
    """
    _check_text(text)
    with transaction.atomic():
        message = Message.objects.create(room=room, author=author, text=text)
        frame = message_frame(message)
        publish.on_commit(lambda: publish.chat_message(room.slug, frame))
        publish.on_commit(lambda: _notify_about(message))
    return message


def _check_text(text) -> None:
    limit = settings.CHAT_MESSAGE_MAX_CHARS
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("'message' must be a non-blank string.")
    if len(text) > limit:
        raise InvalidInput(f"'message' must be at most {limit} characters.")
    if "\x00" in text:
        raise InvalidInput("'message' must not contain NUL characters.")


def message_mark_read(*, room: Room, user: AbstractBaseUser, message_id: int) -> bool:
    """Record that ``user`` has read the room up to ``message_id``; if that moves
    their mark forward, the room's other users get a ``read_receipt``.

    Raises MessageNotFound for an id not in this room. Returns whether it moved.
    """
    if not selectors.message_in_room(room=room, message_id=message_id):
        raise MessageNotFound(f"No message {message_id} in this room.")
    moved = Membership.objects.filter(
        room=room, user_id=user.pk, last_read_id__lt=message_id
    ).update(last_read_id=message_id)
    if moved:
        frame = {
            "type": "read_receipt",
            "username": user.get_username(),
            "id": message_id,
        }
        publish.on_commit(
            lambda: publish.chat_signal(room.slug, frame, exclude_user_id=user.pk)
        )
    return bool(moved)


# --- Notifications ----------------------------------------------------------------


def mentioned_usernames(text: str) -> set[str]:
    """Usernames written as @name; a trailing '.' may end the sentence instead."""
    names = set()
    for name in _MENTION_RE.findall(text)[: settings.CHAT_MENTIONS_MAX]:
        names.add(name)
        names.add(name.rstrip("."))
    names.discard("")
    return names


def _notify_about(message: Message) -> None:
    """After a message commits: tell the support room's user about a reply, and
    mentioned members about the mention, unless they are in the room right now.

    One notification per recipient and message (idempotency key), so a reply
    that also mentions the user notifies them once.
    """
    room, author = message.room, message.author
    support_ids = (
        {room.support_user_id}
        if room.is_support and room.support_user_id != author.pk
        else set()
    )
    mention_ids = _mentioned_member_ids(message) - {author.pk} - support_ids
    if not support_ids and not mention_ids:
        return
    try:
        present = presence.present_user_ids(room.slug)
    except RedisError:
        # Better a notification too many than a reply nobody hears about.
        logger.warning("presence unknown for room %s; notifying anyway", room.slug)
        present = set()
    url = settings.CHAT_ROOM_URL.format(slug=room.slug)
    quote = message.text[:NOTIFICATION_QUOTE_MAX_CHARS]
    common = {
        "body": quote,
        "category": "chat",
        "url": url,
        "data": {"room": room.slug, "message_id": message.pk},
        "idempotency_key": f"chat:message:{message.pk}",
    }
    who = author.get_username()
    if support_ids - present:
        notifications.notify(
            recipients=support_ids - present,
            title=f"{who} replied in your support chat"[:TITLE_MAX_CHARS],
            **common,
        )
    if mention_ids - present:
        notifications.notify(
            recipients=mention_ids - present,
            title=f"{who} mentioned you in {room.name or room.slug}"[:TITLE_MAX_CHARS],
            **common,
        )


def _mentioned_member_ids(message: Message) -> set[int]:
    names = mentioned_usernames(message.text)
    if not names:
        return set()
    ids = set(
        get_user_model()
        .objects.filter(username__in=names, is_active=True)
        .values_list("pk", flat=True)
    )
    return selectors.member_ids(room=message.room, user_ids=ids)
