"""Browsers' push subscriptions, and the record of every push the hub decided."""

from django.conf import settings
from django.db import models
from django.db.models import Q

ENDPOINT_MAX_CHARS = 2048
# Base64url of a 65-byte P-256 point (87 characters) and a 16-byte secret (22),
# with room for padding some browsers add.
P256DH_MAX_CHARS = 100
AUTH_MAX_CHARS = 32


class PushSubscription(models.Model):
    """One browser's push endpoint for one user (``PushSubscription.toJSON()``).

    The endpoint is unique: a browser that subscribes again for another user
    (a shared computer, a new sign-in) moves its subscription to that user.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
        help_text="Whose notifications this browser receives.",
    )
    endpoint = models.URLField(
        max_length=ENDPOINT_MAX_CHARS,
        unique=True,
        help_text="The push service's URL for this browser (a capability: secret).",
    )
    p256dh = models.CharField(
        max_length=P256DH_MAX_CHARS,
        help_text="The browser's P-256 public key (base64url), for aes128gcm.",
    )
    auth = models.CharField(
        max_length=AUTH_MAX_CHARS,
        help_text="The browser's authentication secret (base64url), for aes128gcm.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_pushed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the push service last accepted a push."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.endpoint[:60]}"


class PushDelivery(models.Model):
    """The push decision for one notification: the idempotency record and outbox.

    Created (claimed) once per notification by the sweep, unique on the
    notification, so sweeps that run twice or concurrently queue it once. The
    send moves it scheduled -> sending -> sent (or skipped: seen, read, push off,
    too old; or failed), by conditional updates, so two deliveries of one row
    push once. ``pushed_to`` lists the subscriptions already pushed, so a send
    taken again after a crash or a retry skips them.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        FAILED = "failed"

    notification = models.OneToOneField(
        "notifications.Notification",
        on_delete=models.CASCADE,
        related_name="push_delivery",
        help_text="What is (or is not) pushed.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The recipient.",
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.SCHEDULED,
        help_text="scheduled: to decide at due_at; sending: claimed by a worker; "
        "sent; skipped (reason says why); failed: gave up.",
    )
    due_at = models.DateTimeField(
        help_text="When to decide: created_at + PUSH_AFTER_SECS (later if held)."
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Unfinished rows: when the sweep may queue it again (a lost "
        "task, a killed worker).",
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last made progress on it."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Send attempts so far."
    )
    pushed_to = models.JSONField(
        default=list,
        blank=True,
        help_text="Ids of the subscriptions the push service accepted it for.",
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text="Why skipped or failed."
    )
    created_at = models.DateTimeField(help_text="When the sweep claimed it.")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "push deliveries"
        indexes = [
            # The outbox: unfinished rows, oldest due first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["scheduled", "sending"]),
                name="push_outbox",
            ),
        ]

    def __str__(self) -> str:
        return f"push of {self.notification_id} ({self.status})"
