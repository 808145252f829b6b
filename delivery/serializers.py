"""Push subscriptions: what the API takes (`PushSubscription.toJSON()`), shows."""

from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from delivery.models import (
    AUTH_MAX_CHARS,
    ENDPOINT_MAX_CHARS,
    P256DH_MAX_CHARS,
    PushSubscription,
)
from hub.fields import StrictCharField, StrictRegexField

BASE64URL = r"^[A-Za-z0-9_-]+=*$"


class PushKeysSerializer(serializers.Serializer):
    p256dh = StrictRegexField(
        BASE64URL, max_length=P256DH_MAX_CHARS, help_text="base64url P-256 point."
    )
    auth = StrictRegexField(
        BASE64URL, max_length=AUTH_MAX_CHARS, help_text="base64url secret."
    )


class PushSubscriptionInputSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=ENDPOINT_MAX_CHARS)
    keys = PushKeysSerializer()
    # toJSON() also carries expirationTime; it is accepted and not kept.
    expirationTime = serializers.IntegerField(
        required=False, allow_null=True, min_value=0
    )

    def validate_endpoint(self, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme == "https" or (
            scheme == "http" and settings.WEBPUSH_ALLOW_HTTP_ENDPOINTS
        ):
            return value
        raise serializers.ValidationError(
            "Must be an https:// URL (a browser's push service endpoint)."
        )


class PushEndpointSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=ENDPOINT_MAX_CHARS)


class PushSubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "created_at"]
        read_only_fields = fields


class PushKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="base64url uncompressed P-256 point, for PushManager.subscribe."
    )


class PushReadSerializer(serializers.Serializer):
    token = StrictCharField(max_length=500, help_text="The push's read_token.")
