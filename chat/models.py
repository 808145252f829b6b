"""Chat rooms, their members and their messages."""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

ROOM_SLUG_MAX_CHARS = 64  # "chat.<slug>" must stay a valid group name (< 100)
ROOM_NAME_MAX_CHARS = 100
# Letters, digits, '-', '_' and '.', starting with a letter or digit: a URL
# segment and a channel-layer group name as it stands. '.' admits usernames
# such as "jane.doe" in support rooms.
ROOM_SLUG_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{ROOM_SLUG_MAX_CHARS - 1}}}")
# Rooms named support-<username> belong to that user and admit staff; only the
# hub creates them (on the first join of the user or of a staff member).
SUPPORT_PREFIX = "support-"

room_slug_validator = RegexValidator(
    rf"^{ROOM_SLUG_RE.pattern}\Z",
    f"1 to {ROOM_SLUG_MAX_CHARS} letters, digits, '-', '_' or '.', "
    "starting with a letter or digit.",
)


class Room(models.Model):
    """A chat room: public (anyone signed in may join) or private (members only).

    A support room (``support_user`` set, slug ``support-<username>``) admits its
    user and every staff member.
    """

    slug = models.CharField(
        unique=True,
        max_length=ROOM_SLUG_MAX_CHARS,
        validators=[room_slug_validator],
        help_text="Stable name, used in /ws/chat/<slug>/, URLs and the group name.",
    )
    name = models.CharField(
        max_length=ROOM_NAME_MAX_CHARS, blank=True, help_text="Human-readable name."
    )
    is_private = models.BooleanField(
        default=False, help_text="Only members (and, for support rooms, staff) enter."
    )
    support_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="support_room",
        help_text="Set on support rooms: the user the room serves.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who created the room (empty for rooms the hub made).",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="chat_rooms",
        blank=True,
        help_text="Who may enter a private room; in a public room, who has joined.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_support(self) -> bool:
        return self.support_user_id is not None


class Membership(models.Model):
    """A user's place in a room, and how far they have read."""

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="memberships", help_text="Room."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_memberships",
        help_text="Member.",
    )
    last_read_id = models.BigIntegerField(
        default=0, help_text="Newest message id the member has reported as read."
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"


class Message(models.Model):
    """One chat message, stored before it is broadcast. Plain text, never HTML."""

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="messages", help_text="Room."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_messages",
        help_text="Who wrote it.",
    )
    text = models.TextField(help_text="Plain text as sent; clients must escape it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # History, newest first, and "last 50 on connect": one range scan.
            models.Index(fields=["room", "id"], name="chat_msg_room")
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.pk}"


class Invitation(models.Model):
    """An invitation to a private room. The invitee becomes a member only by
    accepting it; until then the room stays closed to them and its mentions do not
    reach them.

    Answered invitations are kept (accepted or declined): a declined one means a
    later invitation to that room is not announced to the invitee again.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="invitations", help_text="Room."
    )
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_invitations",
        help_text="Who is invited.",
    )
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who invited them (empty once that user is deleted).",
    )
    status = models.CharField(
        max_length=8,
        choices=Status.choices,
        default=Status.PENDING,
        help_text="Pending until the invitee accepts or declines.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the invitee accepted or declined."
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One pending invitation per room and invitee: inviting again is a no-op.
            models.UniqueConstraint(
                fields=["room", "invitee"],
                condition=models.Q(status="pending"),
                name="chat_invitation_pending_once",
            )
        ]
        indexes = [
            models.Index(fields=["invitee", "status"], name="chat_invitation_invitee")
        ]

    def __str__(self) -> str:
        return f"{self.invitee_id} to {self.room_id} ({self.status})"
