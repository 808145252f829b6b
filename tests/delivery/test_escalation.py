"""delivery.escalation: when a push is claimed, and the rules push and email share."""

from datetime import UTC, datetime, time, timedelta

import pytest

from delivery import escalation
from delivery.models import PushDelivery, PushSubscription
from emails.models import Preference
from notifications import services as notification_services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def notify_at(user, when: datetime, **fields) -> Notification:
    [n] = notification_services.notify(recipients=[user], title="x", **fields)
    Notification.objects.filter(pk=n.pk).update(created_at=when)
    return n


@pytest.fixture
def subscribed(alice):
    PushSubscription.objects.create(
        user=alice, endpoint="https://push.example.com/a", p256dh="k", auth="a"
    )
    return alice


def test_claim__not_before_push_after_secs_less_the_lookahead(subscribed, settings):
    settings.PUSH_AFTER_SECS = 10
    notify_at(subscribed, T0)
    early = T0 + timedelta(seconds=10 - escalation.PUSH_SWEEP_LOOKAHEAD_SECS - 1)

    assert escalation.push_claim_due(now=early) == []


def test_claim__once_due_for_its_exact_time(subscribed, settings):
    settings.PUSH_AFTER_SECS = 10
    n = notify_at(subscribed, T0)

    claimed = escalation.push_claim_due(now=T0 + timedelta(seconds=9))
    again = escalation.push_claim_due(now=T0 + timedelta(seconds=11))

    [(delivery_id, due)] = claimed
    assert due == T0 + timedelta(seconds=10)
    assert again == []
    assert PushDelivery.objects.get(pk=delivery_id).notification_id == n.pk


def test_claim__not_for_users_without_a_subscription(alice, bob, subscribed):
    notify_at(bob, T0)

    assert escalation.push_claim_due(now=T0 + timedelta(seconds=60)) == []


def test_claim__not_what_was_seen_or_read_or_too_old(subscribed, settings):
    notify_at(subscribed, T0, data={"k": 1})
    Notification.objects.update(seen_at=T0)
    notify_at(subscribed, T0)
    Notification.objects.filter(seen_at__isnull=True).update(read_at=T0)
    notify_at(subscribed, T0 - timedelta(seconds=settings.PUSH_MAX_AGE_SECS))

    assert escalation.push_claim_due(now=T0 + timedelta(seconds=60)) == []


def test_allows__push_and_email_each_overall_and_per_category():
    preference = Preference(
        push=True,
        email=True,
        muted_categories=["digest"],
        category_channels={"billing": {"push": False}},
    )

    assert escalation.allows(preference, channel="push", category="chat")
    assert not escalation.allows(preference, channel="push", category="billing")
    assert escalation.allows(preference, channel="email", category="billing")
    assert not escalation.allows(preference, channel="email", category="digest")
    preference.push = False
    assert not escalation.allows(preference, channel="push", category="chat")


def test_held__quiet_hours_over_midnight_in_the_users_zone():
    preference = Preference(
        timezone="Europe/Paris", quiet_start=time(22), quiet_end=time(7)
    )

    # 23:30 and 06:30 in Paris (UTC+1 in January) are quiet; 07:30 is not.
    assert escalation.held(preference, now=datetime(2025, 1, 15, 22, 30, tzinfo=UTC))
    assert escalation.held(preference, now=datetime(2025, 1, 15, 5, 30, tzinfo=UTC))
    assert not escalation.held(preference, now=datetime(2025, 1, 15, 6, 30, tzinfo=UTC))


def test_allows__in_app_per_category_only():
    preference = Preference(push=False, email=False)
    preference.category_channels = {"billing": {"in_app": False}}

    assert escalation.allows(preference, channel="in_app", category="chat")
    assert not escalation.allows(preference, channel="in_app", category="billing")
    assert escalation.allows(preference, channel="in_app")  # no overall switch


def test_quiet_ids__in_app_off_for_the_recipient_and_category_only(alice, bob):
    Preference.objects.create(
        user=alice, category_channels={"billing": {"in_app": False, "push": True}}
    )
    Preference.objects.create(user=bob, category_channels={"ci": {"push": False}})
    quiet = notify_at(alice, T0, category="billing")
    loud = [
        notify_at(alice, T0, category="ci"),
        notify_at(bob, T0, category="billing"),
        notify_at(bob, T0, category="ci"),
    ]

    assert escalation.quiet_ids([quiet, *loud]) == {quiet.pk}


def test_quiet_ids__in_app_turned_back_on_is_not_quiet(alice):
    Preference.objects.create(
        user=alice, category_channels={"billing": {"in_app": True}}
    )

    assert escalation.quiet_ids([notify_at(alice, T0, category="billing")]) == set()


def test_quiet_ids__one_query_for_a_batch(alice, bob, django_assert_num_queries):
    Preference.objects.create(
        user=alice, category_channels={"billing": {"in_app": False}}
    )
    batch = [notify_at(u, T0, category="billing") for u in (alice, bob, alice)]

    with django_assert_num_queries(1):
        quiet = escalation.quiet_ids(batch)

    assert quiet == {batch[0].pk, batch[2].pk}


def test_quiet_ids__nobody_with_channel_settings_means_none(alice):
    Preference.objects.create(user=alice, push=False, muted_categories=["billing"])

    assert escalation.quiet_ids([notify_at(alice, T0, category="billing")]) == set()
