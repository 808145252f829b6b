"""Fixtures for email tests: users with addresses, notifications at chosen
times, and sweeps run with a controlled clock (services take ``now``)."""

from datetime import UTC, datetime

import pytest

from emails import services
from emails.models import Preference
from notifications import services as notification_services
from notifications.models import Notification

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def alice(make_user):
    return make_user("alice", email="alice@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob", email="bob@example.com")


def notify_at(user, when: datetime, title: str = "Hello", **fields) -> Notification:
    """A notification created at ``when`` (the clock of the test, not the wall)."""
    notification = notification_services.notify(
        recipients=[user], title=title, **fields
    )[0]
    Notification.objects.filter(pk=notification.pk).update(created_at=when)
    notification.refresh_from_db()
    return notification


def read_at(notification: Notification, when: datetime) -> None:
    Notification.objects.filter(pk=notification.pk).update(read_at=when)


def set_preferences(user, **fields) -> Preference:
    return services.preference_update(user_id=user.pk, **fields)


def missed_sweep(now: datetime) -> list[int]:
    """What the missed-email task does, at ``now``: claim, re-queue, deliver."""
    ids = services.missed_emails_claim_due(now=now) + services.outbox_claim_due(now=now)
    for sent_email_id in dict.fromkeys(ids):
        services.sent_email_deliver(sent_email_id=sent_email_id, now=now)
    return ids


def digest_sweep(now: datetime) -> list[int]:
    """What the digest task does, at ``now``."""
    ids = services.digests_claim_due(now=now)
    for sent_email_id in ids:
        services.sent_email_deliver(sent_email_id=sent_email_id, now=now)
    return ids
