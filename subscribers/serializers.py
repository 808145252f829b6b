"""The subscriber as the API shows and accepts it, and the token endpoint's shapes."""

from django.conf import settings
from rest_framework import serializers

from emails.selectors import preference_get
from emails.serializers import validate_timezone
from hub.fields import (
    StrictCharField,
    StrictEmailField,
    StrictRegexField,
    StrictSlugField,
)
from notifications import selectors as notification_selectors
from subscribers.models import (
    EXTERNAL_ID_MAX_CHARS,
    LOCALE_MAX_CHARS,
    NAME_MAX_CHARS,
    Subscriber,
    validate_external_id,
)
from subscribers.tokens import EMAIL_MAX_CHARS

LOCALE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
# Most topics one PUT may name (the topics the subscriber follows, all of them).
SUBSCRIBER_TOPICS_MAX = 100
# A token's lifetime when the request names none.
TOKEN_DEFAULT_TTL_SECS = 3600


def subscriber_payload(subscriber: Subscriber) -> dict:
    """``{external_id, email, name, timezone, locale, topics}`` (CONTRACT 6)."""
    user = subscriber.user
    return {
        "external_id": subscriber.external_id,
        "email": user.email,
        "name": subscriber.name,
        "timezone": preference_get(user_id=user.pk).timezone,
        "locale": subscriber.locale,
        "topics": notification_selectors.topic_slugs_followed(user_id=user.pk),
    }


class SubscriberSerializer(serializers.Serializer):
    """PUT input (each field optional: absent ones are left as they are) and output."""

    external_id = serializers.CharField(read_only=True)
    email = StrictEmailField(
        max_length=EMAIL_MAX_CHARS, allow_blank=True, required=False
    )
    name = StrictCharField(max_length=NAME_MAX_CHARS, allow_blank=True, required=False)
    timezone = StrictCharField(
        max_length=64, required=False, validators=[validate_timezone]
    )
    locale = StrictRegexField(
        LOCALE_PATTERN,
        max_length=LOCALE_MAX_CHARS,
        allow_blank=True,
        required=False,
        help_text="BCP 47 tag, such as fr-CA.",
    )
    topics = serializers.ListField(
        child=StrictSlugField(max_length=64),
        max_length=SUBSCRIBER_TOPICS_MAX,
        required=False,
        help_text="Slugs of every topic the subscriber follows (replaces the set).",
    )


def external_ids_field(**kwargs) -> serializers.ListField:
    """A list of external ids, for APIs that name users the product's way."""
    return serializers.ListField(
        child=StrictCharField(
            max_length=EXTERNAL_ID_MAX_CHARS,
            validators=[validate_external_id],
            trim_whitespace=False,
        ),
        **kwargs,
    )


class TokenRequestSerializer(serializers.Serializer):
    ttl_secs = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        default=TOKEN_DEFAULT_TTL_SECS,
        help_text="Seconds the token is valid; at most HUB_TOKEN_MAX_TTL_SECS "
        f"(default 86400). Default {TOKEN_DEFAULT_TTL_SECS}.",
    )

    def validate_ttl_secs(self, value: int) -> int:
        if value > settings.HUB_TOKEN_MAX_TTL_SECS:
            raise serializers.ValidationError(
                f"At most {settings.HUB_TOKEN_MAX_TTL_SECS} (HUB_TOKEN_MAX_TTL_SECS)."
            )
        return value


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
