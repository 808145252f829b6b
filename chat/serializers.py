"""The message and room as every endpoint and socket shows them; API input shapes."""

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from chat.models import (
    ROOM_NAME_MAX_CHARS,
    ROOM_SLUG_MAX_CHARS,
    SUPPORT_PREFIX,
    Message,
    Room,
    room_slug_validator,
)
from hub.fields import StrictCharField
from notifications.serializers import iso


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

    ``members`` lists a private room's members; public rooms, open to everyone,
    show null.
    """

    private = serializers.BooleanField(source="is_private")
    support = serializers.BooleanField(source="is_support")
    members = serializers.SerializerMethodField()

    class Meta:
        model = Room
        fields = ["slug", "name", "private", "support", "members", "created_at"]
        read_only_fields = fields

    def get_members(self, room: Room) -> list[str] | None:
        if not room.is_private:
            return None
        return sorted(m.user.get_username() for m in room.memberships.all())


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
        help_text="Usernames of a private room's members (the creator is one "
        "anyway); at most CHAT_ROOM_MAX_MEMBERS.",
    )

    def validate_slug(self, value: str) -> str:
        if value.startswith(SUPPORT_PREFIX):
            raise serializers.ValidationError(
                f"Names starting with {SUPPORT_PREFIX!r} are support rooms, "
                "which the hub creates."
            )
        return value

    def validate_members(self, value: list[str]) -> list[int]:
        names = sorted(set(value))
        found = dict(
            get_user_model()
            .objects.filter(username__in=names, is_active=True)
            .values_list("username", "pk")
        )
        missing = [n for n in names if n not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown usernames: {missing}.")
        return sorted(found.values())

    def validate(self, attrs: dict) -> dict:
        if attrs["members"] and not attrs["private"]:
            raise serializers.ValidationError(
                {"members": "Only private rooms have a member list."}
            )
        return attrs
