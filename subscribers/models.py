"""A product's user on the hub (external id), and the API keys of product back ends."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

EXTERNAL_ID_MAX_CHARS = 128
# The product's own id for a user: 1-128 of these characters (CONTRACT section 6).
EXTERNAL_ID_PATTERN = r"[A-Za-z0-9_.:@-]{1,128}"
validate_external_id = RegexValidator(
    rf"\A{EXTERNAL_ID_PATTERN}\Z",
    "An external id is 1-128 characters of A-Z a-z 0-9 _ . : @ -.",
)
# A subscriber's hub username: the prefix keeps it apart from staff and demo
# users, and ':' is outside Django's username characters, so no form can make one.
USERNAME_PREFIX = "sub:"
NAME_MAX_CHARS = 150
LOCALE_MAX_CHARS = 35  # a BCP 47 tag such as "fr-CA" or "zh-Hant-TW"


class Subscriber(models.Model):
    """A hub user that stands for one of the product's users.

    The user has an unusable password, so it never logs in to the hub's pages;
    it signs in with connection tokens the product mints. Its email lives on the
    user and its timezone on its email preferences, where the hub reads them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="subscriber",
        help_text="The hub user this subscriber is.",
    )
    external_id = models.CharField(
        max_length=EXTERNAL_ID_MAX_CHARS,
        unique=True,
        validators=[validate_external_id],
        help_text="The product's own id for this user.",
    )
    name = models.CharField(
        max_length=NAME_MAX_CHARS, blank=True, help_text="Display name, as sent."
    )
    locale = models.CharField(
        max_length=LOCALE_MAX_CHARS, blank=True, help_text="BCP 47 tag, as sent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.external_id


class Scope(models.TextChoices):
    """What an API key may call (CONTRACT section 6)."""

    NOTIFY = "notify", "POST /api/notifications/"
    BROADCAST = "broadcast", "POST /api/broadcasts/ and /api/topics/{slug}/events/"
    SUBSCRIBERS = "subscribers", "PUT/GET/DELETE /api/subscribers/{external_id}/"
    TOKENS = "tokens", "POST /api/subscribers/{external_id}/token/"
    METRICS = "metrics", "POST /api/dashboard/metrics/"


def validate_scopes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationError("Scopes are a list of names.")
    unknown = sorted(set(value) - set(Scope.values))
    if unknown:
        raise ValidationError(
            f"Unknown scopes {unknown}; known: {', '.join(Scope.values)}."
        )


class ApiKey(AbstractAPIKey):
    """A product back end's key: ``Authorization: Api-Key <key>``, stored hashed
    (djangorestframework-api-key), revocable, allowed only its scopes."""

    scopes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_scopes],
        help_text="What the key may call: " + ", ".join(Scope.values) + ".",
    )

    class Meta(AbstractAPIKey.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(revoked=False),
                name="api_key_name_unique_while_usable",
            )
        ]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def throttle_ident(self) -> str:
        """Write throttling counts per key (hub.api.WriteRateThrottle)."""
        return f"key:{self.prefix}"
