"""GET /api/push/key/ and /api/push/subscriptions/: who may, what is refused."""

import pytest

from delivery import tokens
from delivery.models import PushSubscription
from notifications.services import notify
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

ENDPOINT = "https://push.example.com/send/abc123"
KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1"
    "XbjhazAkj7I99e8QcYP7DkM",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


def test_key__the_public_key_of_the_configured_pair(alice, vapid):
    response = api_client_for(alice).get("/api/push/key/")

    assert response.status_code == 200
    assert response.json() == {"public_key": vapid}
    assert len(vapid) == 87  # base64url of a 65-byte uncompressed P-256 point


def test_key__404_json_when_push_is_not_configured(alice, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""

    response = api_client_for(alice).get("/api/push/key/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_key__anonymous_refused(client, vapid):
    assert client.get("/api/push/key/").status_code in (401, 403)


def test_subscribe__201_then_200_for_the_same_endpoint(alice, settings):
    api = api_client_for(alice)
    body = {"endpoint": ENDPOINT, "keys": KEYS, "expirationTime": None}

    first = api.post("/api/push/subscriptions/", body, format="json")
    again = api.post("/api/push/subscriptions/", body, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert set(first.json()) == {"id", "endpoint", "created_at"}
    assert PushSubscription.objects.filter(user=alice).count() == 1


def test_subscribe__same_browser_for_another_user_moves_to_them(alice, bob):
    body = {"endpoint": ENDPOINT, "keys": KEYS}
    api_client_for(alice).post("/api/push/subscriptions/", body, format="json")

    api_client_for(bob).post("/api/push/subscriptions/", body, format="json")

    assert PushSubscription.objects.get(endpoint=ENDPOINT).user == bob


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "http://push.example.com/x", "keys": KEYS},
        {"endpoint": "javascript:alert(1)", "keys": KEYS},
        {"endpoint": ENDPOINT},
        {"endpoint": ENDPOINT, "keys": {"p256dh": "not base64!", "auth": "x"}},
        {"endpoint": ENDPOINT, "keys": {**KEYS, "auth": "a" * 33}},
        {"endpoint": 12, "keys": KEYS},
        {"endpoint": ENDPOINT, "keys": KEYS, "expirationTime": "soon"},
    ],
    ids=["http", "javascript", "no-keys", "bad-key", "long-auth", "number", "exp"],
)
def test_subscribe__bad_input_is_a_400_field_error(alice, body):
    response = api_client_for(alice).post(
        "/api/push/subscriptions/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()
    assert not PushSubscription.objects.exists()


def test_subscribe__http_endpoint_allowed_only_when_configured(alice, settings):
    settings.WEBPUSH_ALLOW_HTTP_ENDPOINTS = True
    body = {"endpoint": "http://127.0.0.1:9/notify/x", "keys": KEYS}

    response = api_client_for(alice).post(
        "/api/push/subscriptions/", body, format="json"
    )

    assert response.status_code == 201


def test_list__own_subscriptions_only(alice, bob):
    api_client_for(bob).post(
        "/api/push/subscriptions/", {"endpoint": ENDPOINT, "keys": KEYS}, format="json"
    )

    assert api_client_for(alice).get("/api/push/subscriptions/").json() == []
    [row] = api_client_for(bob).get("/api/push/subscriptions/").json()
    assert row["endpoint"] == ENDPOINT


def test_delete__own_204_someone_elses_404_and_kept(alice, bob):
    body = {"endpoint": ENDPOINT, "keys": KEYS}
    api_client_for(bob).post("/api/push/subscriptions/", body, format="json")

    refused = api_client_for(alice).delete(
        "/api/push/subscriptions/", {"endpoint": ENDPOINT}, format="json"
    )
    assert refused.status_code == 404
    assert PushSubscription.objects.filter(user=bob).exists()

    done = api_client_for(bob).delete(
        "/api/push/subscriptions/", {"endpoint": ENDPOINT}, format="json"
    )
    assert done.status_code == 204
    assert not PushSubscription.objects.exists()


def test_read__the_pushed_token_marks_that_notification_read(alice, client):
    [n] = notify(recipients=[alice], title="x")
    token = tokens.read_token(user_id=alice.pk, notification_id=n.pk)

    response = client.post(
        "/api/push/read/", {"token": token}, content_type="application/json"
    )

    assert response.status_code == 204
    n.refresh_from_db()
    assert n.read_at is not None


def test_read__a_forged_or_altered_token_is_refused(alice, bob, client):
    [n] = notify(recipients=[alice], title="x")
    bobs = tokens.read_token(user_id=bob.pk, notification_id=n.pk)  # not his

    for token in ("forged", bobs, bobs[:-2] + "xx"):
        response = client.post(
            "/api/push/read/", {"token": token}, content_type="application/json"
        )
        assert response.status_code == 404, token
    n.refresh_from_db()
    assert n.read_at is None


def test_service_worker__served_at_the_root(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b'addEventListener("push"' in response.content


def test_forgotten_subscriber__push_subscriptions_erased():
    from subscribers import services as subscriber_services

    user, _ = subscriber_services.subscriber_upsert(external_id="u-1")
    PushSubscription.objects.create(user_id=user.pk, endpoint=ENDPOINT, **KEYS)

    subscriber_services.subscriber_forget(external_id="u-1")

    assert not PushSubscription.objects.exists()
