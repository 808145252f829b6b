"""Writes for emails: preferences, deciding (claiming) emails, sending them.

Deciding and sending are two steps (an outbox). A sweep *claims* an email by
creating its :class:`~emails.models.SentEmail` row, under a key unique per user,
in the transaction that reads what it covers; a redelivered or concurrent sweep
finds the row and decides nothing. :func:`sent_email_deliver` then sends it,
guarded by a conditional status update, so two deliveries of one row send one
email. Every function takes ``now`` (default: the clock) so tests control time.
"""

import itertools
import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from delivery import escalation
from emails import messages, periods, selectors
from emails.models import Digest, Preference, SentEmail
from notifications.models import lock_recipients

logger = logging.getLogger(__name__)

Status = SentEmail.Status
# Users (digests) or rows (outbox) handled per query; well under SQLite's
# parameter limit.
BATCH_SIZE = 500


# --- Preferences ----------------------------------------------------------------


def preference_update(*, user_id: int, **fields) -> Preference:
    """Change some of a user's preferences (validated input: PreferenceSerializer).

    ``quiet_hours`` is ``{"start": time, "end": time}`` or None; the other keys
    are model fields.
    """
    with transaction.atomic():
        preference, _ = Preference.objects.select_for_update().get_or_create(
            user_id=user_id
        )
        if "quiet_hours" in fields:
            quiet = fields.pop("quiet_hours") or {}
            preference.quiet_start = quiet.get("start")
            preference.quiet_end = quiet.get("end")
        for name, value in fields.items():
            setattr(preference, name, value)
        preference.save()
    return preference


def preference_unsubscribe(*, user_id: int, now: datetime | None = None) -> Preference:
    """Turn every email off for the user (the one-click unsubscribe)."""
    return preference_update(
        user_id=user_id,
        email=False,
        digest=Digest.OFF,
        unsubscribed_at=now or timezone.now(),
    )


# --- Missed-notification emails ------------------------------------------------


def missed_emails_claim_due(*, now: datetime | None = None) -> list[int]:
    """Claim every missed-notification email due at ``now``; return pending ids."""
    now = now or timezone.now()
    user_ids = selectors.missed_candidate_user_ids(
        due_before=now - timedelta(seconds=settings.EMAIL_DELAY_SECS),
        not_before=now - timedelta(seconds=settings.EMAIL_MISSED_MAX_AGE_SECS),
    )
    claimed = (missed_email_claim(user_id=uid, now=now) for uid in user_ids)
    return [row.pk for row in claimed if row and row.status == Status.PENDING]


def missed_email_claim(*, user_id: int, now: datetime) -> SentEmail | None:
    """Decide whether the user is due a missed-notification email now.

    Due when the oldest unread, unmuted notification after the last such email
    has waited EMAIL_DELAY_SECS and the user is not in quiet hours. The email
    covers every unread notification after the last one (a batch), so the next
    starts after this one's newest. When only muted notifications are waiting,
    a ``skipped`` row moves the watermark past them and nothing is sent.
    Returns the new row, or None when nothing is due.
    """
    with transaction.atomic():
        # Serialise deciders per user, so two sweeps cannot claim overlapping
        # batches under different keys.
        lock_recipients([user_id])
        preference = selectors.preference_get(user_id=user_id)
        # The rules every channel follows are delivery.escalation's.
        if not escalation.allows(preference, channel="email"):
            return None
        if escalation.held(preference, now=now):
            return None  # waits: the next sweep after quiet hours sends it
        unread = selectors.missed_unread(
            user_id=user_id,
            after_id=selectors.missed_watermark(user_id=user_id),
            not_before=now - timedelta(seconds=settings.EMAIL_MISSED_MAX_AGE_SECS),
        )
        due_before = now - timedelta(seconds=settings.EMAIL_DELAY_SECS)
        wanted = [
            n
            for n in unread
            if escalation.allows(preference, channel="email", category=n.category)
        ]
        waiting = wanted or unread  # all muted: skip them once they are due
        if not waiting or waiting[0].created_at > due_before:
            return None
        row, created = SentEmail.objects.get_or_create(
            user_id=user_id,
            key=f"missed:{unread[-1].pk}",
            defaults={
                "kind": SentEmail.Kind.MISSED,
                "status": Status.PENDING if wanted else Status.SKIPPED,
                "first_notification_id": unread[0].pk,
                "last_notification_id": unread[-1].pk,
                "notification_count": len(wanted),
                "created_at": now,
                "next_attempt_at": _retry_at(now, attempts=1) if wanted else None,
            },
        )
    return row if created else None


# --- Digests --------------------------------------------------------------------


def digests_claim_due(*, now: datetime | None = None) -> list[int]:
    """Claim the digest of every user whose period has ended; return pending ids.

    Each user's latest period (daily at EMAIL_DIGEST_HOUR local, weekly on
    Mondays) is decided once: a row per period key, ``skipped`` when there was
    nothing to summarise. A period that ended more than EMAIL_DIGEST_MAX_LATE_SECS
    ago is not sent; during quiet hours the digest waits until they end.
    """
    now = now or timezone.now()
    preferences = selectors.digest_preferences().iterator(chunk_size=BATCH_SIZE)
    pending = []
    while batch := list(itertools.islice(preferences, BATCH_SIZE)):
        pending += _digests_claim_batch(batch, now=now)
    return pending


def _digests_claim_batch(preferences: list[Preference], *, now: datetime) -> list[int]:
    max_late = timedelta(seconds=settings.EMAIL_DIGEST_MAX_LATE_SECS)
    due: list[tuple[Preference, periods.Period]] = []
    for preference in preferences:
        tz = periods.zone(preference.timezone)
        period = periods.digest_period(
            frequency=preference.digest,
            now=now,
            tz=tz,
            hour=settings.EMAIL_DIGEST_HOUR,
        )
        if now - period.end > max_late or periods.in_quiet_hours(
            start=preference.quiet_start, end=preference.quiet_end, now=now, tz=tz
        ):
            continue
        due.append((preference, period))
    done = selectors.sent_keys(
        user_ids=[p.user_id for p, _ in due], keys={period.key for _, period in due}
    )
    pending = []
    for preference, period in due:
        if (preference.user_id, period.key) in done:
            continue
        row = digest_claim(preference=preference, period=period, now=now)
        if row and row.status == Status.PENDING:
            pending.append(row.pk)
    return pending


def digest_claim(
    *, preference: Preference, period: periods.Period, now: datetime
) -> SentEmail | None:
    """Record the user's digest for ``period``; None if it was already recorded."""
    count = selectors.digest_notifications(
        user_id=preference.user_id,
        start=period.start,
        end=period.end,
        muted=preference.muted_categories,
    ).count()
    row, created = SentEmail.objects.get_or_create(
        user_id=preference.user_id,
        key=period.key,
        defaults={
            "kind": preference.digest,
            "status": Status.PENDING if count else Status.SKIPPED,
            "period_start": period.start,
            "period_end": period.end,
            "notification_count": count,
            "created_at": now,
            "next_attempt_at": _retry_at(now, attempts=1) if count else None,
        },
    )
    return row if created else None


# --- Sending --------------------------------------------------------------------


def outbox_claim_due(*, now: datetime | None = None) -> list[int]:
    """Ids of unsent rows to queue again (failed sends, lost tasks, killed workers).

    Each is given a new ``next_attempt_at`` so the next sweep does not queue it
    again while this attempt is on its way. At most BATCH_SIZE per call, oldest
    due first; the next sweep takes the rest.
    """
    now = now or timezone.now()
    ids = list(selectors.outbox_due(now=now).values_list("pk", flat=True)[:BATCH_SIZE])
    SentEmail.objects.filter(pk__in=ids).update(
        next_attempt_at=now + timedelta(seconds=settings.EMAIL_RETRY_SECS)
    )
    return ids


def sent_email_deliver(*, sent_email_id: int, now: datetime | None = None) -> str:
    """Send one claimed email, at most once per row; returns the row's status.

    The row is taken by a conditional update (pending -> sending), so a second
    delivery of the same id does nothing. A row left in ``sending`` by a worker
    that died is taken again after EMAIL_SEND_STALE_SECS: only a crash between
    the SMTP server's acceptance and the status update can send twice. An SMTP
    or network error puts the row back to pending with a growing delay, until
    EMAIL_SEND_MAX_ATTEMPTS.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.EMAIL_SEND_STALE_SECS)
    taken = (
        SentEmail.objects.filter(pk=sent_email_id)
        .filter(
            Q(status=Status.PENDING) | Q(status=Status.SENDING, claimed_at__lte=stale)
        )
        .update(
            status=Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            next_attempt_at=now + timedelta(seconds=settings.EMAIL_SEND_STALE_SECS),
        )
    )
    row = SentEmail.objects.select_related("user").filter(pk=sent_email_id).first()
    if row is None:  # the user was deleted since
        return "gone"
    if not taken:
        return row.status
    if row.attempts > settings.EMAIL_SEND_MAX_ATTEMPTS:
        return _finish(row, Status.FAILED, last_error=row.last_error or "gave up")
    message = _compose(row)
    if message is None:
        return _finish(row, Status.SKIPPED)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        failed = row.attempts >= settings.EMAIL_SEND_MAX_ATTEMPTS
        logger.warning(
            "email %s to user %s failed (attempt %s%s): %s",
            row.key,
            row.user_id,
            row.attempts,
            ", giving up" if failed else "",
            exc,
        )
        SentEmail.objects.filter(pk=row.pk).update(
            status=Status.FAILED if failed else Status.PENDING,
            claimed_at=None,
            next_attempt_at=_retry_at(now, attempts=row.attempts + 1),
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        return Status.FAILED if failed else Status.PENDING
    return _finish(
        row,
        Status.SENT,
        sent_at=now,
        to_address=message.to[0],
        subject=message.subject,
    )


def _compose(row: SentEmail):
    """The message for a claimed row as of now, or None when there is nothing to
    say any more: the user turned that email off, lost their address, or read,
    archived or muted everything it would have shown."""
    user = row.user
    preference = selectors.preference_get(user_id=user.pk)
    if not user.email or not user.is_active:
        return None
    limit = settings.EMAIL_MAX_ITEMS
    tz = periods.zone(preference.timezone)
    if row.kind == SentEmail.Kind.MISSED:
        if not preference.email:
            return None
        notifications = selectors.missed_email_notifications(
            user_id=user.pk,
            first_id=row.first_notification_id,
            last_id=row.last_notification_id,
            muted=preference.muted_categories,
        )
        shown = list(notifications[:limit])
        if not shown:
            return None
        total = notifications.count() if len(shown) == limit else len(shown)
        subject = (
            f"The hub: {messages.one_line(shown[0].title)}"
            if total == 1
            else f"The hub: {total} unread notifications"
        )
        context = {"items": [messages.item(n) for n in shown], "total": total}
        template = "missed"
    else:
        if preference.digest != row.kind:
            return None
        notifications = selectors.digest_notifications(
            user_id=user.pk,
            start=row.period_start,
            end=row.period_end,
            muted=preference.muted_categories,
        )
        counts = selectors.category_counts(notifications)
        total = sum(c["total"] for c in counts)
        if not total:
            return None
        unread = sum(c["unread"] for c in counts)
        subject = (
            f"The hub: your {row.kind} digest, {total} notifications, {unread} unread"
        )
        context = {
            "items": [messages.item(n) for n in notifications[:limit]],
            "total": total,
            "unread": unread,
            "counts": counts,
            "kind": row.kind,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "timezone": preference.timezone,
        }
        template = "digest"
    return messages.build(
        template=template,
        subject=subject,
        to=user.email,
        user_id=user.pk,
        tz=tz,
        context={**context, "more": total - len(context["items"]), "user": user},
    )


def _finish(row: SentEmail, status: str, **fields) -> str:
    SentEmail.objects.filter(pk=row.pk).update(
        status=status, next_attempt_at=None, **fields
    )
    return status


def _retry_at(now: datetime, *, attempts: int) -> datetime:
    """When the outbox may queue a row again after ``attempts - 1`` failures."""
    return now + timedelta(seconds=settings.EMAIL_RETRY_SECS * 2 ** (attempts - 1))
