"""Email preferences and the record of every email the hub decided to send."""

from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_TIMEZONE = "UTC"
TIMEZONE_MAX_CHARS = 64
# Most categories one user may mute: a list to show and edit, not a blocklist.
MUTED_CATEGORIES_MAX = 50
# The channels a notification may reach a person by, each on or off per category.
# in_app off does not hide anything: the notification is stored, counted and in
# the feed, but its socket frame is marked quiet (no toast, no desktop alert),
# and the page does not report it seen, so push and email still follow
# (delivery.escalation).
CHANNELS = ("in_app", "push", "email")


class Digest(models.TextChoices):
    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


class Preference(models.Model):
    """How and when a user wants email. Users without a row have the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="email_preference",
        help_text="Whose preferences these are.",
    )
    email = models.BooleanField(
        default=True,
        help_text="Email notifications that stay unread (missed-notification "
        "emails). Digests are set apart, by `digest`.",
    )
    digest = models.CharField(
        max_length=10,
        choices=Digest.choices,
        default=Digest.OFF,
        help_text="A summary at 08:00 local time: every day, every Monday, or never.",
    )
    timezone = models.CharField(
        max_length=TIMEZONE_MAX_CHARS,
        default=DEFAULT_TIMEZONE,
        help_text="IANA name (e.g. Europe/Paris): digests and quiet hours follow it.",
    )
    quiet_start = models.TimeField(
        null=True,
        blank=True,
        help_text="Quiet hours start (local time); no email until quiet_end.",
    )
    quiet_end = models.TimeField(
        null=True,
        blank=True,
        help_text="Quiet hours end (local time); may be before quiet_start "
        "(over midnight).",
    )
    muted_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="Notification categories never emailed, in either kind of email.",
    )
    push = models.BooleanField(
        default=True,
        help_text="Web Push to the user's subscribed browsers, for notifications "
        "no open page showed within PUSH_AFTER_SECS (delivery.escalation).",
    )
    category_channels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per category, channels turned off or on: {"billing": {"push": '
        'false, "in_app": false}}; channels in_app, push, email; a channel not '
        "listed is on. Email is also off for muted_categories.",
    )
    unsubscribed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the one-click unsubscribe link last turned all email off.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | Q(quiet_start__isnull=False, quiet_end__isnull=False),
                name="pref_quiet_hours_both_or_neither",
            )
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class SentEmail(models.Model):
    """One email decided for one user: the idempotency record and the outbox.

    A row is created (claimed) in the transaction that decides the email, under
    a key unique per user (``missed:<last notification id>``,
    ``daily:<local date>``, ``weekly:<local Monday>``), so a sweep that runs
    twice, late or concurrently decides it once. Sending is a second step that
    moves the row pending -> sending -> sent (or skipped, or back to pending
    to be retried, or failed).
    """

    class Kind(models.TextChoices):
        MISSED = "missed"
        DAILY = "daily"
        WEEKLY = "weekly"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        FAILED = "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sent_emails",
        help_text="The recipient.",
    )
    kind = models.CharField(
        max_length=10, choices=Kind.choices, help_text="Missed-notification or digest."
    )
    key = models.CharField(
        max_length=64,
        help_text="Unique per user: what makes a second sweep a no-op.",
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        help_text="pending: to send; sending: claimed by a worker; sent; skipped: "
        "nothing left to say (all read or muted, or an empty digest); failed: gave up.",
    )
    first_notification_id = models.BigIntegerField(
        null=True, blank=True, help_text="Missed emails: first notification covered."
    )
    last_notification_id = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Missed emails: last notification covered; the next email "
        "starts after it.",
    )
    period_start = models.DateTimeField(
        null=True, blank=True, help_text="Digests: the period summarised starts here."
    )
    period_end = models.DateTimeField(
        null=True, blank=True, help_text="Digests: ... and ends here (excluded)."
    )
    notification_count = models.PositiveIntegerField(
        default=0, help_text="Notifications the email covered when sent (or decided)."
    )
    to_address = models.EmailField(blank=True, help_text="Where it was sent.")
    subject = models.CharField(max_length=255, blank=True, help_text="As sent.")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Send attempts so far."
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Pending rows: when a sweep may queue the send (again).",
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last began sending it."
    )
    last_error = models.TextField(blank=True, help_text="Why the last attempt failed.")
    created_at = models.DateTimeField(
        help_text="When the email was decided (the sweep's clock)."
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="sent_email_once")
        ]
        indexes = [
            # The outbox: rows still to send, oldest due first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="sent_email_outbox",
            ),
            # The watermark of missed-notification emails.
            models.Index(
                fields=["user", "kind", "last_notification_id"],
                name="sent_email_watermark",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.key} ({self.status})"
