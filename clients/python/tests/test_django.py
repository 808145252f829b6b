"""hub_client.django in a product: the bell tag, the token view, notify on commit."""

import logging

import jwt
import pytest
from conftest import Answer
from django.contrib.auth.models import AnonymousUser, User
from django.core import checks
from django.db import transaction
from django.template import Context, Template
from django.test import override_settings

from hub_client.django import get_client, notify_on_commit

SECRET = "a-shared-secret-of-at-least-32-bytes!"
BELL = Template("{% load hub_client %}{% hub_bell %}")


@pytest.fixture
def shopper(db):
    return User.objects.create_user(
        "shopper", email="shopper@example.com", first_name="Sam", last_name="Shop"
    )


@pytest.fixture
def hub_at_fake(fake_hub, settings):
    settings.HUB_URL = fake_hub.base_url
    return fake_hub


def test_hub_bell__the_script_and_element_for_a_signed_in_user(shopper):
    html = BELL.render(Context({"user": shopper}))

    assert html == (
        '<script type="module" src="http://hub.invalid/static/hub/embed.js"></script>'
        '<hub-bell hub-url="http://hub.invalid" token-url="/hub/token/"></hub-bell>'
    )


def test_hub_bell__nothing_for_an_anonymous_visitor():
    assert BELL.render(Context({"user": AnonymousUser()})) == ""
    assert BELL.render(Context({})) == ""


def test_hub_bell__another_token_url(shopper):
    html = Template('{% load hub_client %}{% hub_bell token_url="/me/hub-token" %}')

    assert 'token-url="/me/hub-token"' in html.render(Context({"user": shopper}))


@override_settings(HUB_URL='https://hub.example.com/"><script>')
def test_hub_bell__escapes_the_hub_url(shopper):
    html = BELL.render(Context({"user": shopper}))

    assert "<script>" not in html.replace('<script type="module"', "")
    assert "&quot;&gt;&lt;script&gt;" in html


def test_token_view__a_token_for_the_signed_in_user(client, shopper):
    client.force_login(shopper)

    response = client.get("/hub/token/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience="hub")
    assert claims["sub"] == str(shopper.pk)
    assert (claims["email"], claims["name"]) == ("shopper@example.com", "Sam Shop")
    assert body["expires_at"] == claims["exp"]


@override_settings(HUB_TOKEN_TTL_SECS=60)
def test_token_view__lifetime_from_the_setting(client, shopper):
    client.force_login(shopper)

    body = client.get("/hub/token/").json()

    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience="hub")
    assert claims["exp"] - claims["iat"] == 60


def test_token_view__post_without_csrf_token_works_too(shopper):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(shopper)

    assert browser.post("/hub/token/").status_code == 200


def test_token_view__anonymous_gets_401_json(client, db):
    response = client.get("/hub/token/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Sign in to get a hub token."}


@override_settings(HUB_SUBSCRIBER_ID="django_settings.subscriber_by_username")
def test_token_view__subscriber_id_from_the_setting(client, shopper):
    client.force_login(shopper)

    token = client.get("/hub/token/").json()["token"]

    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="hub")["sub"] == (
        "shop:shopper"
    )


def test_token_view__asks_the_hub_without_a_secret(
    client, shopper, hub_at_fake, settings
):
    settings.HUB_JWT_SECRET = None
    hub_token = jwt.encode(
        {"sub": str(shopper.pk), "exp": 1_900_000_000}, SECRET + "-hub"
    )
    hub_at_fake.script(Answer(200, {"token": hub_token, "expires_at": 1_900_000_000}))
    client.force_login(shopper)

    body = client.get("/hub/token/").json()

    assert body == {"token": hub_token, "expires_at": 1_900_000_000}
    [seen] = hub_at_fake.requests
    assert seen.path == f"/api/subscribers/{shopper.pk}/token/"
    assert seen.headers["authorization"] == "Api-Key product-key"


def test_token_view__hub_refusing_gives_502_json(
    client, shopper, hub_at_fake, settings
):
    settings.HUB_JWT_SECRET = None
    hub_at_fake.script(Answer(403, {"detail": "Key lacks scope tokens."}))
    client.force_login(shopper)

    response = client.get("/hub/token/")

    assert response.status_code == 502
    assert response.json() == {"detail": "The notification hub could not be reached."}


def test_get_client__one_client_rebuilt_when_settings_change(hub_at_fake, settings):
    first = get_client()

    assert get_client() is first
    assert first.base_url == hub_at_fake.base_url
    settings.HUB_URL = "http://elsewhere.invalid"
    assert get_client().base_url == "http://elsewhere.invalid"


@pytest.mark.django_db(transaction=True)
def test_notify_on_commit__sent_only_after_the_commit(hub_at_fake):
    with transaction.atomic():
        User.objects.create_user("buyer")
        notify_on_commit(["buyer"], "Order placed", body="#1")
        assert hub_at_fake.requests == []

    [seen] = hub_at_fake.requests
    assert seen.path == "/api/notifications/"
    assert seen.body == {
        "subscribers": ["buyer"],
        "title": "Order placed",
        "body": "#1",
    }


@pytest.mark.django_db(transaction=True)
def test_notify_on_commit__nothing_sent_on_rollback(hub_at_fake):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify_on_commit("buyer", "Order placed")
        raise RuntimeError("the order failed")

    assert hub_at_fake.requests == []


@pytest.mark.django_db(transaction=True)
def test_notify_on_commit__a_failure_is_logged_not_raised(hub_at_fake, caplog):
    hub_at_fake.script(Answer(400, {"subscribers": ["Bad id."]}))

    with caplog.at_level(logging.ERROR, logger="hub_client"), transaction.atomic():
        notify_on_commit(["buyer"], "Order placed")

    [record] = caplog.records
    assert "Order placed" in record.getMessage()
    assert "Bad id." in str(record.exc_info[1].body)


@pytest.mark.django_db(transaction=True)
def test_notify_on_commit__unreachable_hub_is_logged(settings, caplog):
    settings.HUB_URL = "http://127.0.0.1:9"  # discard port: nothing answers
    settings.HUB_MAX_RETRIES = 0

    with caplog.at_level(logging.ERROR, logger="hub_client"), transaction.atomic():
        notify_on_commit(["buyer"], "Order placed")

    assert "Order placed" in caplog.records[0].getMessage()


def test_check_settings__missing_url_and_key_reported(settings):
    settings.HUB_URL = ""
    del settings.HUB_API_KEY

    errors = checks.run_checks()

    assert [e.msg for e in errors if e.id == "hub_client.E001"] == [
        "HUB_URL is not set",
        "HUB_API_KEY is not set",
    ]
