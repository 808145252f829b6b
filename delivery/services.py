"""Writes of the delivery app: push subscriptions, and sending a claimed push.

Like emails, deciding and sending are two steps (an outbox): the sweep claims a
:class:`~delivery.models.PushDelivery` per notification (delivery.escalation),
and :func:`push_deliver` sends it at its due time, taking the row by a
conditional update so two deliveries of one row push once. A worker killed
mid-push leaves the row ``sending``; it is taken again after
PUSH_SEND_STALE_SECS and skips the subscriptions already pushed (``pushed_to``),
so only the one push in flight at the crash can arrive twice, and then the
browser shows it once (the service worker tags it with the notification's id).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from delivery import escalation, selectors, tokens, webpush
from delivery.models import PushDelivery, PushSubscription
from emails.selectors import preference_get

logger = logging.getLogger(__name__)

Status = PushDelivery.Status
# Rows the outbox re-queues per sweep; the next sweep takes the rest.
PUSH_REQUEUE_BATCH = 500


# --- Subscriptions --------------------------------------------------------------


def subscription_save(
    *, user_id: int, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscription, bool]:
    """Store a browser's subscription for the user; returns (row, created).

    An endpoint already known (the same browser subscribing again, perhaps for
    another user after a new sign-in) is updated and moved to this user.
    """
    fields = {"user_id": user_id, "p256dh": p256dh, "auth": auth}
    try:
        with transaction.atomic():
            return PushSubscription.objects.update_or_create(
                endpoint=endpoint, defaults=fields
            )
    except IntegrityError:  # a concurrent save of the same endpoint won
        return PushSubscription.objects.update_or_create(
            endpoint=endpoint, defaults=fields
        )


def subscription_delete(*, user_id: int, endpoint: str) -> bool:
    """Forget one of the user's subscriptions; False if it was not theirs."""
    deleted, _ = PushSubscription.objects.filter(
        user_id=user_id, endpoint=endpoint
    ).delete()
    return bool(deleted)


# --- Pushes ---------------------------------------------------------------------


def push_sweep(*, now: datetime | None = None) -> tuple[list[tuple], list[int]]:
    """Claim the pushes coming due and pick overdue ones to queue again.

    Returns ([(id, due time), ...] to queue at their due time, [id, ...] to
    queue now). Re-queued rows get a new ``next_attempt_at``, so the next sweep
    does not queue them again while this attempt is on its way.
    """
    now = now or timezone.now()
    claimed = escalation.push_claim_due(now=now)
    overdue = list(
        selectors.push_outbox_due(now=now).values_list("pk", flat=True)[
            :PUSH_REQUEUE_BATCH
        ]
    )
    PushDelivery.objects.filter(pk__in=overdue).update(
        next_attempt_at=now + timedelta(seconds=settings.PUSH_SEND_STALE_SECS)
    )
    return claimed, overdue


def push_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Decide and send one claimed push; returns the row's status afterwards.

    A no-op for a row that is finished, held, not yet due, or being sent by a
    live worker. Subscriptions answered 404 or 410 are deleted; 429 and 5xx put
    the row back to ``scheduled`` with a growing delay (or the service's
    Retry-After), until PUSH_SEND_MAX_ATTEMPTS.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.PUSH_SEND_STALE_SECS)
    taken = (
        PushDelivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=Status.SCHEDULED, due_at__lte=now)
            | Q(status=Status.SENDING, claimed_at__lte=stale)
        )
        .update(
            status=Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            next_attempt_at=now + timedelta(seconds=settings.PUSH_SEND_STALE_SECS),
        )
    )
    row = (
        PushDelivery.objects.select_related("notification", "notification__recipient")
        .filter(pk=delivery_id)
        .first()
    )
    if row is None:  # the notification was deleted since
        return "gone"
    if not taken:
        return row.status
    if row.attempts > settings.PUSH_SEND_MAX_ATTEMPTS:
        return _finish(row, Status.FAILED, reason=row.reason or "gave up")
    notification = row.notification
    decision = escalation.push_decision(
        notification=notification,
        preference=preference_get(user_id=row.user_id),
        now=now,
    )
    if decision.hold:
        # A hold is no failed attempt: quiet hours may last longer than
        # PUSH_SEND_MAX_ATTEMPTS rechecks.
        return _again(
            row,
            after_secs=settings.PUSH_HOLD_RECHECK_SECS,
            reason=decision.reason,
            attempts=F("attempts") - 1,
        )
    if not decision.send:
        return _finish(row, Status.SKIPPED, reason=decision.reason)
    if not webpush.configured():
        return _finish(row, Status.SKIPPED, reason="no VAPID key configured")
    data = webpush.payload(
        notification_id=notification.pk,
        title=notification.title,
        body=notification.body,
        url=notification.url,
        level=notification.level,
        read_token=tokens.read_token(
            user_id=row.user_id, notification_id=notification.pk
        ),
    )
    retry_after: int | None = None
    retry_reason = ""
    refused = ""
    pushed = list(row.pushed_to)
    for sub in selectors.subscriptions_of(user_id=row.user_id).exclude(pk__in=pushed):
        try:
            webpush.send(
                endpoint=sub.endpoint,
                p256dh=sub.p256dh,
                auth=sub.auth,
                data=data,
                level=notification.level,
                topic=f"hub-n{notification.pk}",
            )
        except webpush.SubscriptionGone:
            logger.info("push subscription %s is gone; deleted", sub.pk)
            sub.delete()
            continue
        except webpush.RetryLater as exc:
            retry_reason = str(exc)
            if exc.retry_after_secs is not None:
                retry_after = max(retry_after or 0, exc.retry_after_secs)
            continue
        except webpush.Refused as exc:
            logger.warning("push of %s to %s refused: %s", row.pk, sub.pk, exc)
            refused = str(exc)
            continue
        pushed.append(sub.pk)
        progress = timezone.now()
        PushSubscription.objects.filter(pk=sub.pk).update(last_pushed_at=progress)
        PushDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
            pushed_to=pushed,
            claimed_at=progress,
            next_attempt_at=progress + timedelta(seconds=settings.PUSH_SEND_STALE_SECS),
        )
    if retry_reason:
        if row.attempts >= settings.PUSH_SEND_MAX_ATTEMPTS:
            return _finish(row, Status.FAILED, reason=retry_reason)
        backoff = settings.PUSH_RETRY_SECS * 2 ** (row.attempts - 1)
        return _again(row, after_secs=retry_after or backoff, reason=retry_reason)
    if pushed:
        return _finish(row, Status.SENT, sent_at=timezone.now())
    if refused:
        return _finish(row, Status.FAILED, reason=refused)
    return _finish(row, Status.SKIPPED, reason="no push subscription")


def _finish(row: PushDelivery, status: str, **fields) -> str:
    if "reason" in fields:
        fields["reason"] = fields["reason"][:200]
    PushDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=status, next_attempt_at=None, **fields
    )
    return status


def _again(row: PushDelivery, *, after_secs: float, reason: str, **fields) -> str:
    """Back to scheduled: the sweep queues it again after ``after_secs``."""
    PushDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.SCHEDULED,
        claimed_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=after_secs),
        reason=reason[:200],
        **fields,
    )
    return Status.SCHEDULED
