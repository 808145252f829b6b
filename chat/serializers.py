"""The message and room as every endpoint and socket shows them; API input shapes."""

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from chat.models import (
    ROOM_NAME_MAX_CHARS,
    ROOM_SLUG_MAX_CHARS,
    SUPPORT_PREFIX,
    Invitation,
    Message,
    Room,
    room_slug_validator,
)
from hub.fields import StrictCharField
from notifications.serializers import iso

# One answer for a name that is no user and for a user who cannot be invited.
CANNOT_INVITE = "No user of that name can be invited."


def message_payload(message: Message) -> dict:
    """A stored message: the history items, the API results and, with
    ``"type": "chat.message"``, the live frame (CONTRACT: /ws/chat/)."""
    return {
        "id": message.id,
        "message": message.text,
        "username": message.author.get_username(),
        "user_id": message.author_id,
        "created_at": iso(message.created_at),
    }


def message_frame(message: Message) -> dict:
    return {"type": "chat.message", **message_payload(message)}


class MessageSerializer(serializers.ModelSerializer):
    """Read shape; the fields are declared for the schema, the output is the payload."""

    message = serializers.CharField(source="text")
    username = serializers.CharField(source="author.username")
    user_id = serializers.IntegerField(source="author_id")

    class Meta:
        model = Message
        fields = ["id", "message", "username", "user_id", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict:
        return message_payload(instance)


class RoomSerializer(serializers.ModelSerializer):
    """A room as GET/POST /api/chat/rooms/ show it.

    ``members`` lists a private room's members and ``invited`` those invited who
    have not answered yet; public rooms, open to everyone, show null for both.
    """

    private = serializers.BooleanField(source="is_private")
    support = serializers.BooleanField(source="is_support")
    members = serializers.SerializerMethodField()
    invited = serializers.SerializerMethodField()

    class Meta:
        model = Room
        fields = [
            "slug", "name", "private", "support", "members", "invited", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_members(self, room: Room) -> list[str] | None:
        if not room.is_private:
            return None
        return sorted(m.user.get_username() for m in room.memberships.all())

    def get_invited(self, room: Room) -> list[str] | None:
        if not room.is_private:
            return None
        pending = getattr(room, "pending_invitations", None)
        if pending is None:  # not prefetched (selectors.with_people)
            pending = room.invitations.filter(
                status=Invitation.Status.PENDING
            ).select_related("invitee")
        return sorted(i.invitee.get_username() for i in pending)


class RoomCreateSerializer(serializers.Serializer):
    slug = StrictCharField(
        max_length=ROOM_SLUG_MAX_CHARS, validators=[room_slug_validator]
    )
    name = StrictCharField(
        max_length=ROOM_NAME_MAX_CHARS, required=False, allow_blank=True, default=""
    )
    private = serializers.BooleanField(required=False, default=False)
    members = serializers.ListField(
        child=StrictCharField(max_length=150),
        required=False,
        default=list,
        max_length=settings.CHAT_ROOM_MAX_MEMBERS,
        help_text="Usernames to invite to a private room (the creator is its "
        "member anyway); each gets an invitation to accept. At most "
        "CHAT_ROOM_MAX_MEMBERS.",
    )

    def validate_slug(self, value: str) -> str:
        if value.startswith(SUPPORT_PREFIX):
            raise serializers.ValidationError(
                f"Names starting with {SUPPORT_PREFIX!r} are support rooms, "
                "which the hub creates."
            )
        return value

    def validate_members(self, value: list[str]) -> list[int]:
        """Usernames -> ids of active users. An unknown name and an inactive
        user's get the same error, keyed by position, so that answers never tell
        which usernames exist."""
        found = dict(
            get_user_model()
            .objects.filter(username__in=set(value), is_active=True)
            .values_list("username", "pk")
        )
        errors = {
            index: [CANNOT_INVITE]
            for index, name in enumerate(value)
            if name not in found
        }
        if errors:
            raise serializers.ValidationError(errors)
        return sorted(set(found.values()))

    def validate(self, attrs: dict) -> dict:
        if attrs["members"] and not attrs["private"]:
            raise serializers.ValidationError(
                {"members": "Only private rooms have a member list."}
            )
        return attrs


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as the invitee and the inviter see it."""

    room = serializers.CharField(source="room.slug")
    room_name = serializers.CharField(source="room.name")
    inviter = serializers.CharField(
        source="inviter.username", allow_null=True, default=None
    )
    invitee = serializers.CharField(source="invitee.username")

    class Meta:
        model = Invitation
        fields = [
            "id",
            "room",
            "room_name",
            "inviter",
            "invitee",
            "status",
            "created_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
