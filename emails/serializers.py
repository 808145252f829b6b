"""The preferences as GET / PATCH /api/preferences/ show and accept them."""

from rest_framework import serializers

from emails import periods
from emails.models import (
    CHANNELS,
    MUTED_CATEGORIES_MAX,
    TIMEZONE_MAX_CHARS,
    Digest,
    Preference,
)
from hub.fields import StrictCharField, StrictSlugField
from notifications.models import CATEGORY_MAX_CHARS

TIME_FORMAT = "%H:%M"


class JsonBooleanField(serializers.BooleanField):
    """true or false only: "no", 0 or "1" are field errors, not coerced."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def validate_timezone(value: str) -> str:
    if not periods.is_timezone(value):
        raise serializers.ValidationError(
            "Must be an IANA timezone name, such as Europe/Paris or UTC."
        )
    return value


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.TimeField(
        format=TIME_FORMAT,
        input_formats=[TIME_FORMAT, "%H:%M:%S"],
        help_text="HH:MM, local time: no email from here ...",
    )
    end = serializers.TimeField(
        format=TIME_FORMAT,
        input_formats=[TIME_FORMAT, "%H:%M:%S"],
        help_text="... until here; may be earlier than start (over midnight).",
    )

    def validate(self, attrs: dict) -> dict:
        # Both always, even in a PATCH (DRF makes nested fields optional there).
        missing = [name for name in ("start", "end") if name not in attrs]
        if missing:
            raise serializers.ValidationError(
                {name: ["This field is required."] for name in missing}
            )
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError(
                "start and end must differ; use null for no quiet hours."
            )
        return attrs


class PreferenceSerializer(serializers.Serializer):
    email = serializers.BooleanField(
        help_text="Email notifications left unread for EMAIL_DELAY_SECS."
    )
    digest = serializers.ChoiceField(
        choices=Digest.choices, help_text="A summary at 08:00 local time."
    )
    timezone = StrictCharField(
        max_length=TIMEZONE_MAX_CHARS, validators=[validate_timezone]
    )
    quiet_hours = QuietHoursSerializer(allow_null=True)
    muted_categories = serializers.ListField(
        child=StrictSlugField(max_length=CATEGORY_MAX_CHARS),
        max_length=MUTED_CATEGORIES_MAX,
        help_text="Categories never emailed (the feed still shows them).",
    )

    push = JsonBooleanField(
        help_text="Web Push to your subscribed browsers, for notifications no "
        "open page showed within PUSH_AFTER_SECS."
    )
    category_channels = serializers.DictField(
        child=serializers.DictField(child=JsonBooleanField()),
        help_text='Per category, channels on or off: {"billing": {"push": false}}. '
        "Channels: in_app (off: no toast or desktop alert; still in the feed), "
        "push, email; one not listed is on.",
    )

    def validate_muted_categories(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_category_channels(self, value: dict) -> dict:
        if len(value) > MUTED_CATEGORIES_MAX:
            raise serializers.ValidationError(
                f"At most {MUTED_CATEGORIES_MAX} categories."
            )
        slug = serializers.SlugField(max_length=CATEGORY_MAX_CHARS)
        cleaned = {}
        for category, channels in value.items():
            slug.run_validation(category)
            unknown = sorted(set(channels) - set(CHANNELS))
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown channel {unknown[0]!r} for {category!r}; "
                    f"channels are {', '.join(CHANNELS)}."
                )
            cleaned[category] = {c: channels[c] for c in CHANNELS if c in channels}
        return cleaned

    def to_representation(self, instance: Preference) -> dict:
        quiet = None
        if instance.quiet_start is not None and instance.quiet_end is not None:
            quiet = {
                "start": instance.quiet_start.strftime(TIME_FORMAT),
                "end": instance.quiet_end.strftime(TIME_FORMAT),
            }
        return {
            "email": instance.email,
            "digest": instance.digest,
            "timezone": instance.timezone,
            "quiet_hours": quiet,
            "muted_categories": list(instance.muted_categories),
            "push": instance.push,
            "category_channels": dict(instance.category_channels),
        }
