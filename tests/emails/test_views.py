"""GET / PATCH /api/preferences/, the unsubscribe link and the preferences page."""

import re
from datetime import UTC, datetime

import pytest
from django.core import signing
from django.urls import reverse

from emails import services, tokens
from emails.models import Preference
from notifications.models import Notification

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "email": True,
    "digest": "off",
    "timezone": "UTC",
    "quiet_hours": None,
    "muted_categories": [],
    "push": True,
    "category_channels": {},
}


@pytest.fixture
def alice_client(alice, api_client):
    return api_client(alice)


def unsubscribe_path(user_id: int) -> str:
    return reverse(
        "email-unsubscribe", args=[tokens.make_token(tokens.UNSUBSCRIBE, user_id)]
    )


def preferences_path(user_id: int) -> str:
    return reverse(
        "email-preferences", args=[tokens.make_token(tokens.PREFERENCES, user_id)]
    )


# --- API --------------------------------------------------------------------------


def test_preferences__new_user_gets_the_defaults_without_a_row(alice_client):
    response = alice_client.get("/api/preferences/")

    assert response.status_code == 200
    assert response.json() == DEFAULTS
    assert not Preference.objects.exists()


def test_preferences__patch_every_field(alice_client):
    change = {
        "email": False,
        "digest": "weekly",
        "timezone": "Asia/Tokyo",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "muted_categories": ["ci", "billing", "ci"],
        "push": False,
        "category_channels": {"billing": {"push": False, "email": True}},
    }

    response = alice_client.patch("/api/preferences/", change, format="json")

    expected = {**change, "muted_categories": ["billing", "ci"]}
    assert response.status_code == 200
    assert response.json() == expected
    assert alice_client.get("/api/preferences/").json() == expected


def test_preferences__patch_is_partial_and_null_clears_quiet_hours(alice_client):
    alice_client.patch(
        "/api/preferences/",
        {"digest": "daily", "quiet_hours": {"start": "13:00", "end": "14:30:00"}},
        format="json",
    )

    response = alice_client.patch(
        "/api/preferences/", {"quiet_hours": None}, format="json"
    )

    assert response.json() == {**DEFAULTS, "digest": "daily"}


def test_preferences__own_only(alice, bob, alice_client, api_client):
    alice_client.patch("/api/preferences/", {"digest": "daily"}, format="json")

    assert api_client(bob).get("/api/preferences/").json() == DEFAULTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "perhaps"}, "email"),
        ({"email": None}, "email"),
        ({"digest": "hourly"}, "digest"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "asia/tokyo"}, "timezone"),
        ({"timezone": "x" * 500}, "timezone"),
        ({"timezone": 9}, "timezone"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": "22:00-07:00"}, "quiet_hours"),
        ({"muted_categories": "billing"}, "muted_categories"),
        ({"muted_categories": ["not a slug!"]}, "muted_categories"),
        ({"muted_categories": [f"c{i}" for i in range(51)]}, "muted_categories"),
        ({"push": "perhaps"}, "push"),
        ({"category_channels": ["billing"]}, "category_channels"),
        ({"category_channels": {"billing": {"sms": False}}}, "category_channels"),
        ({"category_channels": {"billing": {"push": "no"}}}, "category_channels"),
        ({"category_channels": {"not a slug!": {"push": False}}}, "category_channels"),
        (
            {"category_channels": {f"c{i}": {"push": False} for i in range(51)}},
            "category_channels",
        ),
        ({"category_channels": {"billing": {"in-app": False}}}, "category_channels"),
        ({"category_channels": {"billing": {"in_app": "off"}}}, "category_channels"),
        ({"category_channels": {"billing": {"in_app": 0}}}, "category_channels"),
        ({"category_channels": {"billing": {"in_app": None}}}, "category_channels"),
        ({"category_channels": {"billing": {"in_app": {}}}}, "category_channels"),
        ({"category_channels": {"billing": False}}, "category_channels"),
        ({"category_channels": {"billing": ["in_app"]}}, "category_channels"),
        ({"category_channels": {"": {"in_app": False}}}, "category_channels"),
        ({"category_channels": {"c" * 65: {"in_app": False}}}, "category_channels"),
        ({"category_channels": None}, "category_channels"),
        ({"category_channels": "billing"}, "category_channels"),
        ({"category_channels": 7}, "category_channels"),
    ],
)
def test_preferences__invalid_values_are_field_errors(alice_client, change, field):
    response = alice_client.patch("/api/preferences/", change, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert alice_client.get("/api/preferences/").json() == DEFAULTS


def test_preferences__in_app_push_and_email_per_category(alice_client):
    change = {
        "category_channels": {
            "billing": {"email": True, "in_app": False},
            "ci": {"push": False, "in_app": True},
        }
    }

    response = alice_client.patch("/api/preferences/", change, format="json")

    assert response.status_code == 200
    # Each category's channels in one order: in_app, push, email.
    assert response.json()["category_channels"] == change["category_channels"]
    assert list(response.json()["category_channels"]["billing"]) == [
        "in_app",
        "email",
    ]
    assert Preference.objects.get().category_channels == change["category_channels"]


def test_preferences__valid_edges_are_accepted(alice_client):
    change = {
        "timezone": "America/Argentina/Buenos_Aires",
        "quiet_hours": {"start": "00:00", "end": "23:59"},
        "muted_categories": [f"c{i}" for i in range(50)],
    }

    response = alice_client.patch("/api/preferences/", change, format="json")

    assert response.status_code == 200


def test_preferences__malformed_json_is_a_400(alice_client):
    response = alice_client.generic(
        "PATCH", "/api/preferences/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.json()


def test_preferences__anonymous_is_refused(client):
    assert client.get("/api/preferences/").status_code in (401, 403)
    assert client.patch("/api/preferences/", {}).status_code in (401, 403)


def test_preferences__in_the_schema(alice_client):
    schema = alice_client.get("/api/schema/?format=json").json()

    assert set(schema["paths"]["/api/preferences/"]) >= {"get", "patch"}


# --- Unsubscribe ------------------------------------------------------------------


def test_unsubscribe__get_asks_and_changes_nothing(alice, client):
    response = client.get(unsubscribe_path(alice.pk))

    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert not Preference.objects.filter(email=False).exists()


def test_unsubscribe__one_click_post_without_login(alice, client, alice_client):
    services.preference_update(user_id=alice.pk, digest="daily")

    # RFC 8058: the mail client POSTs this body, with no cookie and no CSRF token.
    response = client.post(
        unsubscribe_path(alice.pk),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert b"unsubscribed" in response.content
    shown = alice_client.get("/api/preferences/").json()
    assert (shown["email"], shown["digest"]) == (False, "off")
    assert Preference.objects.get(user=alice).unsubscribed_at is not None


def test_unsubscribe__csrf_is_not_required(alice):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(unsubscribe_path(alice.pk))

    assert response.status_code == 200


# Tokens are made in the test, not at collection: they carry a timestamp, and
# pytest-xdist's workers must collect the same test ids.
BAD_UNSUBSCRIBE_TOKENS = {
    "garbage": lambda: "garbage",
    "another-salt": lambda: signing.dumps(1, salt="another.purpose"),
    "the-preferences-link": lambda: tokens.make_token(tokens.PREFERENCES, 1),
    "no-such-user": lambda: tokens.make_token(tokens.UNSUBSCRIBE, 987654),
}


@pytest.mark.parametrize("kind", BAD_UNSUBSCRIBE_TOKENS)
def test_unsubscribe__bad_token_is_refused(alice, client, kind):
    token = BAD_UNSUBSCRIBE_TOKENS[kind]()
    response = client.post(reverse("email-unsubscribe", args=[token]))

    assert response.status_code == 400
    assert not Preference.objects.exists()


def test_unsubscribe__token_altered_to_name_another_user_is_refused(alice, bob, client):
    token = tokens.make_token(tokens.UNSUBSCRIBE, alice.pk)
    _alices, _, timestamp_and_signature = token.partition(":")
    bobs = signing.b64_encode(str(bob.pk).encode()).decode()
    forged = f"{bobs}:{timestamp_and_signature}"

    response = client.post(reverse("email-unsubscribe", args=[forged]))

    assert response.status_code == 400
    assert not Preference.objects.exists()


def test_unsubscribe__other_methods_are_refused(alice, client):
    assert client.delete(unsubscribe_path(alice.pk)).status_code == 405


# --- Preferences page -------------------------------------------------------------


def test_preferences_page__shows_the_form_without_login(alice, client):
    response = client.get(preferences_path(alice.pk))

    assert response.status_code == 200
    assert b'name="timezone" value="UTC"' in response.content


def test_preferences_page__saves_valid_input(alice, client, alice_client):
    response = client.post(
        preferences_path(alice.pk),
        {
            "digest": "daily",
            "timezone": "Europe/Paris",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "muted_categories": "ci, billing",
            "push": "on",
            "channel_categories": "billing,ci",
            "in_app:billing": "on",
            "email:billing": "on",  # push:billing left unticked
            "push:ci": "on",
            "email:ci": "on",  # in_app:ci left unticked
            "new_category": "deploys",
            "new_push": "on",
            "new_email": "on",
        },
    )

    assert response.status_code == 200
    assert b"Saved." in response.content
    assert alice_client.get("/api/preferences/").json() == {
        "email": False,  # the checkbox was left unticked
        "digest": "daily",
        "timezone": "Europe/Paris",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "muted_categories": ["billing", "ci"],
        "push": True,
        "category_channels": {
            "billing": {"push": False},
            "ci": {"in_app": False},
            "deploys": {"in_app": False},
        },
    }


def test_preferences_page__a_table_of_channels_per_category(alice, client):
    services.preference_update(
        user_id=alice.pk, category_channels={"billing": {"in_app": False}}
    )
    Notification.objects.create(recipient=alice, title="x", category="ci")

    html = client.get(preferences_path(alice.pk)).content.decode()

    assert '<th scope="col" data-channel="in_app">In-app alerts</th>' in html
    assert '<th scope="col" data-channel="push">Push</th>' in html
    assert '<th scope="col" data-channel="email">Email</th>' in html
    # billing (a setting) then ci (a category of her notifications): in_app
    # off for billing, every channel on for ci.
    assert 'name="channel_categories" value="billing,ci"' in html
    assert 'name="in_app:billing" aria-label="In-app alerts for billing">' in html
    for box in ("push:billing", "email:billing", "in_app:ci", "push:ci", "email:ci"):
        assert f'name="{box}"' in html
        assert re.search(f'name="{box}"[^>]* checked>', html), box


def test_preferences_page__keeps_a_category_it_did_not_list(alice, client):
    services.preference_update(
        user_id=alice.pk, category_channels={"ci": {"in_app": False}}
    )

    client.post(
        preferences_path(alice.pk),
        {"digest": "off", "timezone": "UTC", "channel_categories": "billing"},
    )

    assert Preference.objects.get().category_channels == {
        "ci": {"in_app": False},  # set since the page was drawn: kept
        "billing": {"in_app": False, "push": False, "email": False},
    }


def test_preferences_page__a_bad_category_name_is_shown_not_saved(alice, client):
    response = client.post(
        preferences_path(alice.pk),
        {"digest": "off", "timezone": "UTC", "new_category": "not a slug!"},
    )

    assert response.status_code == 400
    assert b'<p class="error">Enter a valid' in response.content
    assert not Preference.objects.exists()


def test_preferences_page__invalid_input_shows_errors_and_saves_nothing(alice, client):
    response = client.post(
        preferences_path(alice.pk),
        {"email": "on", "digest": "daily", "timezone": "Nowhere/Land"},
    )

    assert response.status_code == 400
    assert b"IANA timezone" in response.content
    assert not Preference.objects.exists()


def test_preferences_page__expired_link_is_refused(alice, client, settings):
    settings.EMAIL_PREFERENCES_LINK_MAX_AGE_SECS = -1

    assert client.get(preferences_path(alice.pk)).status_code == 400


def test_preferences_page__unsubscribe_token_does_not_open_it(alice, client):
    token = tokens.make_token(tokens.UNSUBSCRIBE, alice.pk)

    response = client.get(reverse("email-preferences", args=[token]))

    assert response.status_code == 400


def test_unsubscribe__turns_email_off_and_keeps_the_channels_per_category(
    alice, client
):
    services.preference_update(
        user_id=alice.pk,
        category_channels={"billing": {"in_app": False, "push": False}},
    )

    response = client.post(unsubscribe_path(alice.pk))

    assert response.status_code == 200
    preference = Preference.objects.get()
    assert (preference.email, preference.digest) == (False, "off")
    assert preference.category_channels == {"billing": {"in_app": False, "push": False}}


def test_unsubscribe__recorded_time_is_the_clock(alice):
    now = datetime(2025, 1, 1, tzinfo=UTC)

    assert (
        services.preference_unsubscribe(user_id=alice.pk, now=now).unsubscribed_at
        == now
    )


def test_preferences_page__post_needs_the_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    path = preferences_path(alice.pk)

    refused = client.post(path, {"digest": "daily", "timezone": "UTC"})
    token = client.get(path).cookies["csrftoken"].value
    accepted = client.post(
        path, {"digest": "daily", "timezone": "UTC", "csrfmiddlewaretoken": token}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
