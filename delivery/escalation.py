"""One place for how a notification reaches a person: socket, then push, then email.

The timeline of one notification (docs/PROTOCOL.md draws it):

- at once: stored and published to every open socket of the recipient
  (notifications.services); a page that shows it while visible answers ``seen``.
  With in-app off for its category (:func:`quiet_ids` here) the frame is marked
  ``quiet``: the page lists and counts it but shows no toast or desktop alert
  and does not answer ``seen``, so the steps below still follow;
- after PUSH_AFTER_SECS: if no socket reported it seen, it is unread, and the
  person's preferences allow push for its category, it is pushed to their
  subscribed browsers (:func:`push_claim_due` here decides, delivery.services
  sends);
- after EMAIL_DELAY_SECS: if still unread, the missed-notification email
  (emails.services), which asks :func:`allows` and :func:`held` here too.

Quiet hours hold push and email alike. Each step is decided once: a push by a
:class:`~delivery.models.PushDelivery` row unique per notification, an email by
a SentEmail row unique per batch, so sweeps that run twice or workers that die
notify nobody twice. Every function takes ``now`` so tests control time.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from delivery import selectors
from delivery.models import PushDelivery
from emails import periods
from emails.models import Preference
from notifications.models import Notification

# The sweep (every PUSH_SWEEP_EVERY_SECS) claims pushes due this far ahead and
# queues each for its exact due time, so pushes are not late by up to a sweep
# interval; longer than the interval, so a late sweep leaves no gap.
PUSH_SWEEP_LOOKAHEAD_SECS = 2
# A claimed push whose queued task never ran (lost, worker killed before it) is
# queued again this long after its due time.
PUSH_LOST_TASK_SECS = 2


def allows(preference: Preference, *, channel: str, category: str = "") -> bool:
    """Whether the person wants ``channel`` (in_app, push, email) at all and,
    with a category, for that category. (in_app has no switch for all
    categories: the feed always shows everything.)"""
    if channel == "push" and not preference.push:
        return False
    if channel == "email":
        if not preference.email:
            return False
        if category and category in preference.muted_categories:
            return False
    if not category:
        return True
    return preference.category_channels.get(category, {}).get(channel, True)


def quiet_ids(notifications: Iterable[Notification]) -> set[int]:
    """Ids of the notifications whose recipient turned in-app off for their
    category: published marked ``quiet`` (one query for the whole batch)."""
    notifications = list(notifications)
    preferences = selectors.channel_preferences(
        user_ids={n.recipient_id for n in notifications}
    )
    return {
        n.pk
        for n in notifications
        if n.recipient_id in preferences
        and not allows(
            preferences[n.recipient_id], channel="in_app", category=n.category
        )
    }


def held(preference: Preference, *, now: datetime) -> bool:
    """Whether quiet hours hold push and email for the person at ``now``."""
    return periods.in_quiet_hours(
        start=preference.quiet_start,
        end=preference.quiet_end,
        now=now,
        tz=periods.zone(preference.timezone),
    )


@dataclass(frozen=True)
class Decision:
    """What to do with a due push: send it, hold it (quiet hours), or skip it."""

    send: bool = False
    hold: bool = False
    reason: str = ""


SEND = Decision(send=True)
HOLD = Decision(hold=True, reason="quiet hours")


def push_decision(
    *, notification: Notification, preference: Preference, now: datetime
) -> Decision:
    """Push now, hold, or never (the reason): decided at the push's due time."""
    if notification.seen_at is not None:
        return Decision(reason="seen on an open page")
    if notification.read_at is not None:
        return Decision(reason="read")
    if notification.archived_at is not None:
        return Decision(reason="archived")
    if not notification.recipient.is_active:
        return Decision(reason="recipient inactive")
    if now - notification.created_at > timedelta(seconds=settings.PUSH_MAX_AGE_SECS):
        return Decision(reason="too old")
    if not allows(preference, channel="push", category=notification.category):
        return Decision(reason="push off in preferences")
    if held(preference, now=now):
        return HOLD
    return SEND


def push_claim_due(*, now: datetime) -> list[tuple[int, datetime]]:
    """Claim the pushes due by now plus PUSH_SWEEP_LOOKAHEAD_SECS, one row per
    notification; returns (push delivery id, due time) of the rows this call
    created, for the caller to queue at their due time."""
    after = timedelta(seconds=settings.PUSH_AFTER_SECS)
    candidates = selectors.push_candidates(
        created_before=now - after + timedelta(seconds=PUSH_SWEEP_LOOKAHEAD_SECS),
        created_after=now - timedelta(seconds=settings.PUSH_MAX_AGE_SECS),
    )
    if not candidates:
        return []
    lost = timedelta(seconds=PUSH_LOST_TASK_SECS)
    # One INSERT for the batch; a row a concurrent sweep made first is skipped
    # (unique notification), and this call's rows are those stamped with its
    # own ``now``.
    PushDelivery.objects.bulk_create(
        [
            PushDelivery(
                notification_id=notification_id,
                user_id=user_id,
                due_at=created_at + after,
                next_attempt_at=created_at + after + lost,
                created_at=now,
            )
            for notification_id, user_id, created_at in candidates
        ],
        ignore_conflicts=True,
    )
    return list(
        PushDelivery.objects.filter(
            notification_id__in=[c[0] for c in candidates], created_at=now
        )
        .order_by("due_at")
        .values_list("pk", "due_at")
    )
