"""Notifications and topics."""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 10_000
CATEGORY_MAX_CHARS = 64
URL_MAX_CHARS = 2048


class Level(models.TextChoices):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Topic(models.Model):
    slug = models.SlugField(
        unique=True, max_length=64, help_text="Stable name, used in URLs and groups."
    )
    name = models.CharField(max_length=100, help_text="Human-readable name.")
    description = models.TextField(blank=True, help_text="What the topic is about.")
    staff_only = models.BooleanField(
        default=False, help_text="Only staff may follow this topic."
    )
    group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="If set, only members of this group (and staff) may follow.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Subscription(models.Model):
    """A user follows a topic: their sockets join its group, broadcasts reach them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        help_text="The follower.",
    )
    topic = models.ForeignKey(
        Topic,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        help_text="The topic followed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "topic"], name="subscription_once")
        ]
        # Broadcast fan-out walks a topic's subscribers in user order.
        indexes = [models.Index(fields=["topic", "user"], name="subscription_topic")]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.topic_id}"


class Notification(models.Model):
    """One notification for one recipient.

    ``id`` is the recipient's resume point: for each user it increases in the
    order the rows commit, because every insert first locks the recipient
    (:func:`lock_recipients`), so a client that saw id n has seen every earlier
    committed row of its own.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text="Who the notification is for.",
    )
    title = models.CharField(max_length=TITLE_MAX_CHARS, help_text="One-line summary.")
    body = models.TextField(
        blank=True, max_length=BODY_MAX_CHARS, help_text="Plain text, never HTML."
    )
    level = models.CharField(
        max_length=10, choices=Level.choices, default=Level.INFO, help_text="Severity."
    )
    category = models.SlugField(
        max_length=CATEGORY_MAX_CHARS,
        default="general",
        help_text="Free-form kind (e.g. billing, chat); users can mute categories.",
    )
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        help_text="The topic it was broadcast to, if any.",
    )
    data = models.JSONField(
        default=dict, blank=True, help_text="Arbitrary JSON object for the client."
    )
    url = models.CharField(  # noqa: DJ001 (the API says url: str|null)
        max_length=URL_MAX_CHARS,
        null=True,
        blank=True,
        help_text="Where clicking the notification leads (absolute http(s) or /path).",
    )
    idempotency_key = models.CharField(  # noqa: DJ001 (NULL: no key, not unique)
        max_length=128,
        null=True,
        blank=True,
        editable=False,
        help_text="Set by producers that may retry (tasks, broadcasts): one row "
        "per recipient and key.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a socket of the recipient first reported it shown on a "
        "visible page (the `seen` frame); a seen notification is not pushed.",
    )
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="Hidden from the feed and count when set."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The feed, newest first, and resume (id > n): one range scan each.
            models.Index(
                fields=["recipient", "id"],
                condition=Q(archived_at__isnull=True),
                name="notif_feed",
            ),
            # The unread count and the unread filter: only unread rows are indexed,
            # so the index stays small however many read rows pile up.
            models.Index(
                fields=["recipient", "id"],
                condition=Q(read_at__isnull=True, archived_at__isnull=True),
                name="notif_unread",
            ),
            # Retention purge of old read rows.
            models.Index(fields=["created_at"], name="notif_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="notif_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.title}"

    def save(self, *args, **kwargs) -> None:
        # Plain ORM creates (admin, shell, other apps) keep the per-user id order too.
        if self._state.adding:
            with transaction.atomic(using=kwargs.get("using")):
                lock_recipients([self.recipient_id])
                super().save(*args, **kwargs)
        else:
            super().save(*args, **kwargs)


class UnreadCount(models.Model):
    """How many unread notifications a user has, kept by database triggers.

    Migration 0003 installs triggers on ``notifications_notification`` that move
    this number on every insert, update and delete, whoever writes (services,
    admin, cascades, raw SQL): no Python code writes it, and reading it is one
    primary-key lookup instead of counting up to every row the user has. No row
    means 0. docs/ARCHITECTURE.md says why triggers.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        help_text="Whose count it is.",
    )
    # Not PositiveBigIntegerField: PostgreSQL checks a CHECK constraint on the
    # row an upsert proposes (count + delta lives only in DO UPDATE), so a
    # negative delta would be refused before it could be added.
    unread = models.BigIntegerField(
        default=0,
        help_text="Notifications with read_at and archived_at both empty "
        "(written by triggers only).",
    )

    def __str__(self) -> str:
        return f"{self.user_id}: {self.unread} unread"


class Broadcast(models.Model):
    """One message to many: a topic's subscribers, or everyone.

    The row is the outbox: it is committed with the request, and the fan-out
    task, the due-broadcast dispatcher and the stall sweeper all work from it.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"

    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="broadcasts",
        help_text="Audience: this topic's subscribers; empty means every active user.",
    )
    title = models.CharField(max_length=TITLE_MAX_CHARS, help_text="One-line summary.")
    body = models.TextField(blank=True, max_length=BODY_MAX_CHARS, help_text="Text.")
    level = models.CharField(
        max_length=10, choices=Level.choices, default=Level.INFO, help_text="Severity."
    )
    category = models.SlugField(
        max_length=CATEGORY_MAX_CHARS, default="general", help_text="Kind."
    )
    data = models.JSONField(default=dict, blank=True, help_text="JSON for clients.")
    url = models.CharField(  # noqa: DJ001 (the API says url: str|null)
        max_length=URL_MAX_CHARS, null=True, blank=True, help_text="Link."
    )
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="When to send; empty means at once."
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.QUEUED,
        help_text="scheduled -> queued -> sending -> sent (or failed / cancelled).",
    )
    recipients = models.PositiveIntegerField(
        default=0, help_text="Recipients who have a notification row from it."
    )
    failure_reason = models.TextField(blank=True, help_text="Why it failed, if it did.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who asked for it.",
    )
    idempotency_key = models.CharField(  # noqa: DJ001 (NULL: no key, not unique)
        max_length=128,
        null=True,
        blank=True,
        help_text="The request's Idempotency-Key: a retry returns this broadcast.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the fan-out; the sweeper re-queues stale ones.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="broadcast_once_per_key",
            )
        ]
        indexes = [models.Index(fields=["status", "send_at"], name="broadcast_due")]

    def __str__(self) -> str:
        return f"{self.pk}: {self.title} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        # Whoever creates the row (the API, the admin, the shell), it goes out:
        # a future send_at waits for the dispatcher, anything else is queued
        # after the commit (notifications.signals) and watched by the sweeper.
        if self._state.adding:
            now = timezone.now()
            if (
                self.status == self.Status.QUEUED
                and self.send_at
                and self.send_at > now
            ):
                self.status = self.Status.SCHEDULED
            if self.progress_at is None:
                self.progress_at = now
        super().save(*args, **kwargs)

    @property
    def notification_key(self) -> str:
        """The idempotency key of the notifications this broadcast writes."""
        return f"broadcast:{self.pk}"


def lock_recipients(user_ids) -> None:
    """Lock the recipients' user rows until the transaction ends.

    Inserts for one user then commit in id order, which makes ``id > last_id``
    a lossless resume. PostgreSQL takes ``FOR NO KEY UPDATE`` (it does not block
    other rows' foreign keys to the user); SQLite has one writer at a time anyway.
    """
    from django.contrib.auth import get_user_model

    ids = sorted(set(user_ids))  # one order everywhere, so lockers never deadlock
    if ids:
        list(
            get_user_model()
            .objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
