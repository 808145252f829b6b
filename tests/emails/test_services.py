"""emails.services: missed-notification emails and digests, with a controlled clock."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail

from emails import services
from emails.models import SentEmail
from notifications import services as notification_services
from tests.emails.conftest import (
    T0,
    digest_sweep,
    missed_sweep,
    notify_at,
    read_at,
    set_preferences,
)

DELAY = timedelta(seconds=600)  # EMAIL_DELAY_SECS's default
pytestmark = pytest.mark.django_db


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


# --- Missed-notification emails --------------------------------------------------


def test_missed__unread_after_the_delay_is_emailed_once_read_is_not(alice, bob):
    notify_at(alice, T0, title="Deploy finished")
    bobs = notify_at(bob, T0, title="Deploy finished")
    read_at(bobs, T0 + timedelta(minutes=1))

    missed_sweep(T0 + DELAY - timedelta(seconds=1))
    assert mail.outbox == []

    missed_sweep(T0 + DELAY)
    missed_sweep(T0 + DELAY + timedelta(minutes=1))
    missed_sweep(T0 + DELAY + timedelta(hours=5))

    assert len(sent_to("alice@example.com")) == 1
    assert sent_to("bob@example.com") == []
    assert "Deploy finished" in mail.outbox[0].subject
    assert "Deploy finished" in mail.outbox[0].body


def test_missed__one_email_covers_every_unread_since_the_last(alice):
    notify_at(alice, T0, title="first")
    notify_at(alice, T0 + timedelta(minutes=5), title="second")
    missed_sweep(T0 + DELAY)
    notify_at(alice, T0 + DELAY + timedelta(minutes=1), title="third")
    missed_sweep(T0 + DELAY + timedelta(minutes=5))  # third not due yet

    missed_sweep(T0 + 2 * DELAY + timedelta(minutes=1))

    first, second = mail.outbox
    assert "2 unread notifications" in first.subject
    assert "first" in first.body and "second" in first.body
    assert "third" in second.subject
    assert "first" not in second.body


def test_missed__read_between_decision_and_send_is_not_emailed(alice):
    n = notify_at(alice, T0)
    [row_id] = services.missed_emails_claim_due(now=T0 + DELAY)
    read_at(n, T0 + DELAY)

    status = services.sent_email_deliver(sent_email_id=row_id, now=T0 + DELAY)

    assert status == SentEmail.Status.SKIPPED
    assert mail.outbox == []


def test_missed__muted_category_is_never_emailed(alice):
    set_preferences(alice, muted_categories=["billing"])
    notify_at(alice, T0, title="Invoice", category="billing")

    missed_sweep(T0 + DELAY)
    missed_sweep(T0 + 2 * DELAY)

    assert mail.outbox == []
    # The muted batch is recorded once as skipped, so sweeps stop looking at it.
    assert list(SentEmail.objects.values_list("status", flat=True)) == ["skipped"]


def test_missed__muted_categories_are_left_out_of_a_mixed_email(alice):
    set_preferences(alice, muted_categories=["billing"])
    notify_at(alice, T0, title="Invoice", category="billing")
    notify_at(alice, T0, title="Review requested", category="code")

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    assert "Review requested" in email.body
    assert "Invoice" not in email.body


def test_missed__quiet_hours_hold_the_email_until_they_end(alice):
    set_preferences(
        alice,
        timezone="America/New_York",
        quiet_hours={"start": time(22, 0), "end": time(7, 0)},
    )
    # 23:30 in New York (EST, UTC-5) is 04:30 UTC the next day.
    arrived = datetime(2025, 1, 16, 4, 30, tzinfo=UTC)
    notify_at(alice, arrived, title="Night owl")

    for local, now in [
        ("23:45", datetime(2025, 1, 16, 4, 45, tzinfo=UTC)),
        ("02:00", datetime(2025, 1, 16, 7, 0, tzinfo=UTC)),
        ("06:59", datetime(2025, 1, 16, 11, 59, tzinfo=UTC)),
    ]:
        missed_sweep(now)
        assert mail.outbox == [], f"emailed at {local} local time"

    missed_sweep(datetime(2025, 1, 16, 12, 0, tzinfo=UTC))  # 07:00 New York

    [email] = mail.outbox
    assert "Night owl" in email.subject


def test_missed__email_off_or_no_address_gets_nothing(alice, bob, make_user):
    set_preferences(alice, email=False)
    nobody = make_user("nobody")  # no email address
    for user in (alice, nobody):
        notify_at(user, T0)

    missed_sweep(T0 + DELAY)

    assert mail.outbox == []


def test_missed__a_backlog_older_than_the_max_age_is_not_emailed(alice, settings):
    notify_at(alice, T0 - timedelta(seconds=settings.EMAIL_MISSED_MAX_AGE_SECS + 1))

    missed_sweep(T0)

    assert mail.outbox == []


def test_missed__claiming_twice_decides_once(alice):
    notify_at(alice, T0)

    first = services.missed_emails_claim_due(now=T0 + DELAY)
    again = services.missed_emails_claim_due(now=T0 + DELAY)

    assert len(first) == 1
    assert again == []


def test_deliver__twice_sends_one_email(alice):
    notify_at(alice, T0)
    [row_id] = services.missed_emails_claim_due(now=T0 + DELAY)

    statuses = [
        services.sent_email_deliver(sent_email_id=row_id, now=T0 + DELAY)
        for _ in range(2)
    ]

    assert statuses == ["sent", "sent"]
    assert len(mail.outbox) == 1
    row = SentEmail.objects.get()
    assert (row.to_address, row.attempts, row.sent_at) == (
        "alice@example.com",
        1,
        T0 + DELAY,
    )


def test_deliver__a_row_left_sending_by_a_dead_worker_is_taken_again_later(
    alice, settings
):
    notify_at(alice, T0)
    [row_id] = services.missed_emails_claim_due(now=T0 + DELAY)
    SentEmail.objects.filter(pk=row_id).update(status="sending", claimed_at=T0 + DELAY)

    soon = services.sent_email_deliver(sent_email_id=row_id, now=T0 + DELAY)
    stale = T0 + DELAY + timedelta(seconds=settings.EMAIL_SEND_STALE_SECS)
    late = services.sent_email_deliver(sent_email_id=row_id, now=stale)

    assert (soon, late) == ("sending", "sent")
    assert len(mail.outbox) == 1


def test_deliver__smtp_failure_is_retried_by_the_outbox(alice, settings):
    notify_at(alice, T0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    missed_sweep(T0 + DELAY)
    row = SentEmail.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    missed_sweep(T0 + DELAY + timedelta(seconds=1))  # too soon for a retry
    assert mail.outbox == []
    missed_sweep(row.next_attempt_at)

    assert len(mail.outbox) == 1
    assert SentEmail.objects.get().status == "sent"


def test_deliver__gives_up_after_max_attempts(alice, settings):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    notify_at(alice, T0)
    missed_sweep(T0 + DELAY)

    missed_sweep(SentEmail.objects.get().next_attempt_at)

    row = SentEmail.objects.get()
    assert (row.status, row.attempts) == ("failed", 2)
    assert services.outbox_claim_due(now=T0 + timedelta(days=30)) == []


# --- Digests --------------------------------------------------------------------


def test_digest__tokyo_daily_at_0800_local_exactly_once(alice):
    set_preferences(alice, digest="daily", timezone="Asia/Tokyo", email=False)
    # 2025-06-01 10:00 in Tokyo (UTC+9).
    notify_at(alice, datetime(2025, 6, 1, 1, 0, tzinfo=UTC), title="Standup notes")
    before = datetime(2025, 6, 1, 22, 59, tzinfo=UTC)  # 07:59 on June 2 in Tokyo
    at_eight = datetime(2025, 6, 1, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo

    digest_sweep(before)
    assert mail.outbox == []
    digest_sweep(at_eight)
    digest_sweep(at_eight)
    digest_sweep(at_eight + timedelta(hours=4))  # late reruns

    [email] = mail.outbox
    assert "daily digest" in email.subject
    assert "Standup notes" in email.body
    row = SentEmail.objects.get(key="daily:2025-06-02")
    assert row.status == "sent"


def test_digest__period_across_daylight_saving_is_23_hours(alice):
    set_preferences(alice, digest="daily", timezone="America/New_York")
    # Clocks went forward on 2025-03-09 at 02:00: the period from March 8 08:00
    # EST (13:00 UTC) to March 9 08:00 EDT (12:00 UTC) lasts 23 hours.
    notify_at(alice, datetime(2025, 3, 8, 12, 59, tzinfo=UTC), title="before")
    notify_at(alice, datetime(2025, 3, 8, 13, 0, tzinfo=UTC), title="first in")
    notify_at(alice, datetime(2025, 3, 9, 11, 59, tzinfo=UTC), title="last in")
    notify_at(alice, datetime(2025, 3, 9, 12, 0, tzinfo=UTC), title="after")

    digest_sweep(datetime(2025, 3, 9, 12, 0, tzinfo=UTC))

    [email] = mail.outbox
    assert "first in" in email.body and "last in" in email.body
    assert "before" not in email.body and "after" not in email.body
    row = SentEmail.objects.get(status="sent")
    assert row.key == "daily:2025-03-09"
    assert row.period_end - row.period_start == timedelta(hours=23)


def test_digest__weekly_goes_out_on_monday_morning(alice):
    set_preferences(alice, digest="weekly", timezone="Europe/Paris")
    notify_at(alice, datetime(2025, 6, 4, 9, 0, tzinfo=UTC), title="Midweek")
    sunday = datetime(2025, 6, 8, 20, 0, tzinfo=UTC)
    monday_0759 = datetime(2025, 6, 9, 5, 59, tzinfo=UTC)  # CEST, UTC+2
    monday_0800 = datetime(2025, 6, 9, 6, 0, tzinfo=UTC)

    digest_sweep(sunday)
    digest_sweep(monday_0759)
    assert mail.outbox == []
    digest_sweep(monday_0800)
    digest_sweep(monday_0800 + timedelta(days=1))

    [email] = mail.outbox
    assert "weekly digest" in email.subject
    assert SentEmail.objects.get(status="sent").key == "weekly:2025-06-09"


def test_digest__nothing_to_say_sends_nothing_and_is_recorded(alice):
    set_preferences(alice, digest="daily")

    digest_sweep(T0)
    digest_sweep(T0)

    assert mail.outbox == []
    row = SentEmail.objects.get()
    assert (row.key, row.status) == ("daily:2025-01-15", "skipped")


def test_digest__unread_first_with_counts_per_category(alice):
    set_preferences(alice, digest="daily")
    yesterday = T0 - timedelta(hours=20)
    old = notify_at(alice, yesterday, title="Read build", category="ci")
    notify_at(
        alice, yesterday + timedelta(hours=1), title="Unread build", category="ci"
    )
    notify_at(
        alice, yesterday + timedelta(hours=2), title="Invoice", category="billing"
    )
    read_at(old, yesterday + timedelta(hours=3))

    digest_sweep(T0)

    [email] = mail.outbox
    body = email.body
    assert body.index("Unread build") < body.index("Read build")
    assert body.index("Invoice") < body.index("Read build")
    assert "ci: 2 (1 unread)" in body
    assert "billing: 1 (1 unread)" in body
    assert "3 notifications, 2 unread" in email.subject


def test_digest__muted_categories_are_left_out(alice):
    set_preferences(alice, digest="daily", muted_categories=["billing"])
    notify_at(alice, T0 - timedelta(hours=20), title="Invoice", category="billing")
    notify_at(alice, T0 - timedelta(hours=20), title="Build", category="ci")

    digest_sweep(T0)

    [email] = mail.outbox
    assert "Build" in email.body
    assert "Invoice" not in email.body and "billing" not in email.body


def test_digest__quiet_hours_over_0800_hold_it_until_they_end(alice):
    set_preferences(
        alice, digest="daily", quiet_hours={"start": time(6, 0), "end": time(9, 30)}
    )
    notify_at(alice, T0 - timedelta(hours=20))

    digest_sweep(datetime(2025, 1, 15, 8, 0, tzinfo=UTC))
    assert mail.outbox == []
    digest_sweep(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))

    assert len(mail.outbox) == 1


def test_digest__a_period_that_ended_too_long_ago_is_not_sent(alice):
    # Weekly switched on on a Wednesday: last Monday's summary is not mailed now.
    set_preferences(alice, digest="weekly")
    notify_at(alice, datetime(2025, 1, 8, 12, 0, tzinfo=UTC))

    digest_sweep(datetime(2025, 1, 15, 12, 0, tzinfo=UTC))  # Wednesday

    assert mail.outbox == []
    assert not SentEmail.objects.exists()


def test_digest__switched_off_after_the_decision_sends_nothing(alice):
    set_preferences(alice, digest="daily")
    notify_at(alice, T0 - timedelta(hours=20))
    [row_id] = services.digests_claim_due(now=T0)
    set_preferences(alice, digest="off")

    assert services.sent_email_deliver(sent_email_id=row_id, now=T0) == "skipped"
    assert mail.outbox == []


# --- Preferences ----------------------------------------------------------------


def test_unsubscribe__turns_every_email_off(alice):
    set_preferences(alice, digest="weekly")

    preference = services.preference_unsubscribe(user_id=alice.pk, now=T0)

    assert (preference.email, preference.digest) == (False, "off")
    assert preference.unsubscribed_at == T0


def test_missed__unsubscribed_user_gets_nothing(alice):
    services.preference_unsubscribe(user_id=alice.pk)
    notification_services.notify(recipients=[alice], title="x")

    missed_sweep(datetime.now(UTC) + DELAY)

    assert mail.outbox == []
