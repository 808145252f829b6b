"""Subscriber writes: upsert by external id, ensure in bulk, from claims, forget."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from chat.models import Membership, Message, Room
from emails.models import Preference, SentEmail
from notifications import services as notification_services
from notifications.errors import TopicForbidden, TopicNotFound
from notifications.models import Notification, Subscription, Topic, UnreadCount
from subscribers import selectors, services
from subscribers.models import Subscriber

pytestmark = pytest.mark.django_db


def test_subscriber_upsert__creates_a_user_that_cannot_log_in():
    user, created = services.subscriber_upsert(
        external_id="acme:42", email="ada@example.com", name="Ada"
    )

    assert created
    assert not user.has_usable_password()
    assert not user.is_staff
    assert user.email == "ada@example.com"
    assert user.subscriber.name == "Ada"
    assert selectors.external_id_of(user_id=user.pk) == "acme:42"


def test_subscriber_upsert__updates_given_fields_and_keeps_the_rest():
    first, _ = services.subscriber_upsert(
        external_id="u1", email="a@example.com", name="A", locale="fr"
    )

    user, created = services.subscriber_upsert(
        external_id="u1", name="B", timezone="Europe/Paris"
    )

    assert not created and user.pk == first.pk
    subscriber = selectors.subscriber_get(external_id="u1")
    assert (subscriber.user.email, subscriber.name, subscriber.locale) == (
        "a@example.com",
        "B",
        "fr",
    )
    assert Preference.objects.get(user=user).timezone == "Europe/Paris"


def test_subscriber_upsert__topics_replace_what_is_followed():
    Topic.objects.create(slug="news", name="News")
    Topic.objects.create(slug="deals", name="Deals")
    user, _ = services.subscriber_upsert(external_id="u1", topics=["news", "deals"])

    services.subscriber_upsert(external_id="u1", topics=["deals"])

    slugs = Subscription.objects.filter(user=user).values_list("topic__slug", flat=True)
    assert list(slugs) == ["deals"]


def test_subscriber_upsert__unknown_or_staff_topic__refused_and_nothing_written():
    Topic.objects.create(slug="ops", name="Ops", staff_only=True)

    with pytest.raises(TopicNotFound):
        services.subscriber_upsert(external_id="u1", topics=["nope"])
    with pytest.raises(TopicForbidden):
        services.subscriber_upsert(external_id="u2", topics=["ops"])

    assert not Subscriber.objects.exists()


def test_subscribers_ensure__maps_known_and_creates_unknown_ids():
    known, _ = services.subscriber_upsert(external_id="known")

    ids = services.subscribers_ensure(external_ids=["known", "new-1", "new-2", "new-1"])

    assert set(ids) == {"known", "new-1", "new-2"}
    assert ids["known"] == known.pk
    assert Subscriber.objects.get(external_id="new-2").user_id == ids["new-2"]
    assert not get_user_model().objects.get(pk=ids["new-1"]).has_usable_password()


def test_subscriber_from_claims__creates_then_updates_from_the_token():
    claims = {"sub": "u7", "name": "Grace", "email": "g@example.com", "exp": 1}
    user = services.subscriber_from_claims(claims)

    again = services.subscriber_from_claims({**claims, "locale": "en-GB"})

    assert again.pk == user.pk
    subscriber = selectors.subscriber_get(external_id="u7")
    assert (subscriber.name, subscriber.locale, subscriber.user.email) == (
        "Grace",
        "en-GB",
        "g@example.com",
    )


def test_subscriber_forget__erases_every_row_that_names_them(alice):
    Topic.objects.create(slug="news", name="News")
    user, _ = services.subscriber_upsert(
        external_id="gone", email="gone@example.com", timezone="UTC", topics=["news"]
    )
    notification_services.notify(recipients=[user, alice], title="hi")
    room = Room.objects.create(slug="forget-me", name="Forget")
    Membership.objects.create(room=room, user=user)
    Message.objects.create(room=room, author=user, text="my words")
    SentEmail.objects.create(
        user=user, kind="missed", key="k1", created_at=timezone.now()
    )

    services.subscriber_forget(external_id="gone")

    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Subscriber.objects.filter(external_id="gone").exists()
    for model, field in [
        (Notification, "recipient_id"),
        (Preference, "user_id"),
        (Subscription, "user_id"),
        (Membership, "user_id"),
        (Message, "author_id"),
        (SentEmail, "user_id"),
        (UnreadCount, "user_id"),
    ]:
        assert not model.objects.filter(**{field: user.pk}).exists(), model
    assert Notification.objects.filter(recipient=alice).count() == 1


def test_subscriber_forget__unknown_id_is_a_no_op():
    services.subscriber_forget(external_id="never-seen")


def test_subscriber_from_claims__unchanged_claims__no_write(django_assert_num_queries):
    claims = {"sub": "u8", "name": "Lin", "timezone": "Asia/Tokyo", "exp": 1}
    services.subscriber_from_claims(claims)

    # One read of the subscriber and its user, one of the timezone; no write.
    with django_assert_num_queries(2):
        services.subscriber_from_claims(claims)
