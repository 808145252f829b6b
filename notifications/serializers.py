"""The notification as every endpoint and socket shows it, and API input shapes."""

import json
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import serializers

from hub.fields import StrictCharField, StrictModelSerializer, StrictSlugField
from notifications.models import (
    BODY_MAX_CHARS,
    CATEGORY_MAX_CHARS,
    TITLE_MAX_CHARS,
    URL_MAX_CHARS,
    Broadcast,
    Level,
    Notification,
    Topic,
)
from subscribers.serializers import external_ids_field


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as DRF renders datetimes."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def notification_payload(n: Notification) -> dict:
    """The public shape of a notification (CONTRACT: Notification).

    Used by the API and by every socket push; built once per notification.
    """
    return {
        "id": n.id,
        "title": n.title,
        "body": n.body,
        "level": n.level,
        "category": n.category,
        "topic": n.topic.slug if n.topic_id else None,
        "data": n.data,
        "url": n.url,
        "created_at": iso(n.created_at),
        "read_at": iso(n.read_at),
        "seen_at": iso(n.seen_at),
    }


class NotificationSerializer(serializers.ModelSerializer):
    """Read shape; the fields are declared for the schema, the output is the payload."""

    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "title",
            "body",
            "level",
            "category",
            "topic",
            "data",
            "url",
            "created_at",
            "read_at",
            "seen_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Notification) -> dict:
        return notification_payload(instance)


def validate_url(value: str | None) -> str | None:
    """Accept an absolute http(s) URL or a path on this site; refuse the rest.

    Django's ``url_has_allowed_host_and_scheme`` reads a URL as browsers do
    (``/\\evil.example`` and ``///evil.example`` go to evil.example; a host
    that parses two ways is refused), so a "path" that leaves the site, and
    ``javascript:`` and friends, are refused. The one rule for every entry point
    (API, tasks, email links).
    """
    if value in (None, ""):
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        # Any host, but the one every parser agrees on.
        allowed = {parts.netloc}
    elif value.startswith("/"):
        allowed = set()  # a path: no host at all
    else:
        allowed = None
    if allowed is not None and url_has_allowed_host_and_scheme(
        value, allowed_hosts=allowed
    ):
        return value
    raise serializers.ValidationError(
        "Must be an absolute http(s) URL or a path on this site starting with '/'."
    )


def validate_data(value) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > settings.NOTIFICATION_DATA_MAX_BYTES:
        raise serializers.ValidationError(
            f"Must encode to at most {settings.NOTIFICATION_DATA_MAX_BYTES} bytes "
            f"of JSON (got {size})."
        )
    return value


class NotificationContentSerializer(serializers.Serializer):
    """What a producer says: shared by notifications, broadcasts and tasks."""

    title = StrictCharField(max_length=TITLE_MAX_CHARS)
    body = StrictCharField(
        max_length=BODY_MAX_CHARS, allow_blank=True, required=False, default=""
    )
    level = serializers.ChoiceField(
        choices=Level.choices, required=False, default=Level.INFO
    )
    category = StrictSlugField(
        max_length=CATEGORY_MAX_CHARS, required=False, default="general"
    )
    data = serializers.JSONField(
        required=False, default=dict, validators=[validate_data]
    )
    url = StrictCharField(
        max_length=URL_MAX_CHARS,
        allow_null=True,
        allow_blank=True,
        required=False,
        default=None,
        validators=[validate_url],
    )


class NotificationCreateSerializer(NotificationContentSerializer):
    recipients = serializers.ListField(
        # Capped at the largest id a database holds: past it SQLite raised
        # OverflowError (a 500) instead of "Unknown user ids".
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=settings.NOTIFY_MAX_RECIPIENTS,
        required=False,
        help_text="User ids; at most NOTIFY_MAX_RECIPIENTS (1000). "
        "Use broadcasts for larger audiences. Or give `subscribers`.",
    )
    subscribers = external_ids_field(
        min_length=1,
        max_length=settings.NOTIFY_MAX_RECIPIENTS,
        required=False,
        help_text="External ids (the product's ids for its users), instead of "
        "`recipients`; unknown ones are created as subscribers.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("recipients" in attrs) == ("subscribers" in attrs):
            raise serializers.ValidationError(
                {
                    "recipients": "Give one of recipients (user ids) and "
                    "subscribers (external ids)."
                }
            )
        return attrs

    def validate_subscribers(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_recipients(self, value: list[int]) -> list[int]:
        ids = sorted(set(value))
        found = set(
            get_user_model().objects.filter(pk__in=ids).values_list("pk", flat=True)
        )
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown user ids: {missing}.")
        return ids


class CreatedSerializer(serializers.Serializer):
    created = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class FeedFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)
    topic = serializers.SlugField(required=False)
    category = serializers.SlugField(required=False)


# --- Topics and broadcasts ----------------------------------------------------------


class TopicSerializer(serializers.ModelSerializer):
    subscribed = serializers.BooleanField(read_only=True, default=False)

    class Meta:
        model = Topic
        fields = ["slug", "name", "description", "subscribed"]


class TopicCreateSerializer(StrictModelSerializer):
    class Meta:
        model = Topic
        fields = ["slug", "name", "description", "staff_only", "group"]


class SubscriptionStateSerializer(serializers.Serializer):
    topic = StrictSlugField()
    subscribed = serializers.BooleanField()


class TopicEventSerializer(serializers.Serializer):
    event = serializers.JSONField(help_text="Any JSON object, pushed as is.")

    def validate_event(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > settings.TOPIC_EVENT_MAX_BYTES:
            raise serializers.ValidationError(
                f"Must encode to at most {settings.TOPIC_EVENT_MAX_BYTES} bytes "
                f"of JSON (got {size})."
            )
        return value


class BroadcastCreateSerializer(NotificationContentSerializer):
    topic = StrictSlugField(
        allow_null=True, help_text="Topic slug, or null for every active user."
    )
    send_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601; later."
    )

    def validate_topic(self, value):
        if value is None:
            return None
        try:
            return Topic.objects.get(slug=value)
        except Topic.DoesNotExist as exc:
            raise serializers.ValidationError(f"No topic {value!r}.") from exc


class BroadcastSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Broadcast
        fields = [
            "id",
            "status",
            "recipients",
            "topic",
            "title",
            "send_at",
            "failure_reason",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class BroadcastAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
