"""Who gets in over HTTP: API keys by scope, connection tokens on the subscriber's
own endpoints only; each rule as an allowed/refused pair."""

# ruff: noqa: E501

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from notifications import services as notification_services
from notifications.models import Broadcast, Notification, Topic
from subscribers import services
from subscribers.models import ApiKey, Scope
from tests.subscribers.conftest import bearer_client, claims_for, hs256, key_client

pytestmark = pytest.mark.django_db

LATER = "2099-01-01T00:00:00Z"

# (scope, method, path, body, status when allowed)
# One rule per line, so the table reads as a list of rules.
# fmt: off
SCOPED_CALLS = [
    (Scope.NOTIFY, "post", "/api/notifications/", {"subscribers": ["u1"], "title": "hi"}, 201),
    (Scope.BROADCAST, "post", "/api/broadcasts/", {"topic": None, "title": "hi", "send_at": LATER}, 202),
    (Scope.BROADCAST, "post", "/api/topics/news/events/", {"event": {"x": 1}}, 202),
    (Scope.METRICS, "post", "/api/dashboard/metrics/", {"name": "orders", "value": 3}, 200),
    (Scope.SUBSCRIBERS, "put", "/api/subscribers/u1/", {"name": "Ada"}, 201),
    (Scope.SUBSCRIBERS, "get", "/api/subscribers/known/", None, 200),
    (Scope.SUBSCRIBERS, "delete", "/api/subscribers/known/", None, 204),
    (Scope.TOKENS, "post", "/api/subscribers/u1/token/", {"ttl_secs": 60}, 200),
]
# fmt: on


@pytest.fixture
def world(jwt_secret, isolated_cache):
    Topic.objects.create(slug="news", name="News")
    services.subscriber_upsert(external_id="known")


def call(client: APIClient, method: str, path: str, body):
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(("scope", "method", "path", "body", "status"), SCOPED_CALLS)
def test_api_key__with_the_scope__allowed(
    world, make_key, scope, method, path, body, status
):
    response = call(key_client(make_key(scope)), method, path, body)

    assert response.status_code == status, response.content


@pytest.mark.parametrize(("scope", "method", "path", "body", "status"), SCOPED_CALLS)
def test_api_key__without_the_scope__refused(
    world, make_key, scope, method, path, body, status
):
    others = [s for s in Scope.values if s != scope]

    response = call(key_client(make_key(*others)), method, path, body)

    assert response.status_code == 403
    assert f"'{scope}' scope" in response.json()["detail"]
    assert not Broadcast.objects.exists()
    assert not Notification.objects.exists()


def test_api_key__refused_by_the_scope__leaves_the_subscriber(world, make_key):
    client = key_client(make_key(Scope.NOTIFY))

    client.delete("/api/subscribers/known/")

    assert client.get("/api/subscribers/known/").status_code == 403
    assert services.subscribers_ensure(external_ids=["known"])  # still there
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/notifications/"),
        ("get", "/api/notifications/unread-count/"),
        ("get", "/api/preferences/"),
        ("post", "/api/ws-ticket/"),
        ("get", "/api/dashboard/"),
        ("get", "/api/chat/rooms/"),
    ],
)
def test_api_key__is_no_user__refused_on_user_endpoints(world, make_key, method, path):
    client = key_client(make_key(*Scope.values))

    assert getattr(client, method)(path).status_code == 403


def test_api_key__revoked__refused(world, make_key):
    key = make_key(Scope.NOTIFY)
    ApiKey.objects.update(revoked=True)

    response = call(key_client(key), *SCOPED_CALLS[0][1:4])

    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]
    assert not Notification.objects.exists()


@pytest.mark.parametrize("key", ["nope", "abcdefgh.wrongsecret", ""])
def test_api_key__unknown__refused(world, make_key, key):
    real = make_key(Scope.NOTIFY)
    prefix = real.split(".")[0]
    forged = key.replace("abcdefgh", prefix)

    response = call(key_client(forged), *SCOPED_CALLS[0][1:4])

    assert response.status_code == 403
    assert not Notification.objects.exists()


def test_api_key__expired__refused(world, make_key):
    from datetime import timedelta

    from django.utils import timezone

    key = make_key(Scope.NOTIFY)
    ApiKey.objects.update(expiry_date=timezone.now() - timedelta(seconds=1))

    response = call(key_client(key), *SCOPED_CALLS[0][1:4])

    assert response.status_code == 403
    assert not Notification.objects.exists()


def test_api_key__stored_hashed(world, make_key):
    key = make_key(Scope.NOTIFY)

    row = ApiKey.objects.get()
    assert key.split(".")[1] not in row.hashed_key
    assert key not in row.pk


def test_hub_api_key_command__create_prints_a_working_key_last_then_revoke(
    world, capsys
):
    call_command("hub_api_key", "create", "shop", "--scopes", "subscribers,tokens")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = key_client(key)
    assert client.get("/api/subscribers/known/").status_code == 200

    call_command("hub_api_key", "list")
    listing = capsys.readouterr().out
    assert "shop" in listing and "subscribers,tokens" in listing and key not in listing

    call_command("hub_api_key", "revoke", "shop")
    assert client.get("/api/subscribers/known/").status_code in (401, 403)


def test_hub_api_key_command__unknown_scope__refused(world):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Unknown scopes"):
        call_command("hub_api_key", "create", "shop", "--scopes", "notify,admin")
    assert not ApiKey.objects.exists()


# --- Connection tokens ------------------------------------------------------------


@pytest.fixture
def two_subscribers(world):
    ada, _ = services.subscriber_upsert(external_id="ada")
    bob, _ = services.subscriber_upsert(external_id="bob")
    ada_note = notification_services.notify(recipients=[ada], title="for ada")[0]
    bob_note = notification_services.notify(recipients=[bob], title="for bob")[0]
    return ada_note, bob_note


def ada_client() -> APIClient:
    return bearer_client(hs256(claims_for("ada")))


def test_bearer__own_feed_and_count_only(two_subscribers):
    client = ada_client()

    feed = client.get("/api/notifications/").json()["results"]
    count = client.get("/api/notifications/unread-count/").json()

    assert [n["title"] for n in feed] == ["for ada"]
    assert count == {"unread": 1}


def test_bearer__another_subscribers_notification__not_found(two_subscribers):
    _, bob_note = two_subscribers
    client = ada_client()

    assert client.post(f"/api/notifications/{bob_note.pk}/read/").status_code == 404
    assert client.delete(f"/api/notifications/{bob_note.pk}/").status_code == 404
    assert client.post("/api/notifications/read-all/").json() == {"marked": 1}
    bob_note.refresh_from_db()
    assert bob_note.read_at is None and bob_note.archived_at is None


def test_bearer__reads_and_archives_own(two_subscribers):
    ada_note, _ = two_subscribers
    client = ada_client()

    assert client.post(f"/api/notifications/{ada_note.pk}/read/").status_code == 200
    assert client.delete(f"/api/notifications/{ada_note.pk}/").status_code == 204


def test_bearer__preferences_and_topics_are_the_subscribers(two_subscribers):
    client = ada_client()

    assert (
        client.patch("/api/preferences/", {"digest": "daily"}, format="json").json()[
            "digest"
        ]
        == "daily"
    )
    assert client.put("/api/topics/news/subscription/").status_code == 200
    topics = client.get("/api/topics/").json()
    assert topics == [
        {"slug": "news", "name": "News", "description": "", "subscribed": True}
    ]
    assert services.subscriber_upsert(external_id="ada")[0].subscriptions.count() == 1


def test_bearer__first_use_creates_the_subscriber_from_claims(world):
    client = bearer_client(
        hs256(claims_for("new-1", name="Neo", timezone="Asia/Tokyo"))
    )

    assert client.get("/api/preferences/").json()["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/notifications/", {"recipients": [1], "title": "x"}),
        ("post", "/api/broadcasts/", {"topic": None, "title": "x", "send_at": LATER}),
        ("post", "/api/topics/", {"slug": "mine", "name": "Mine"}),
        ("get", "/api/chat/rooms/", None),
        ("post", "/api/ws-ticket/", None),
        ("get", "/api/subscribers/bob/", None),
        ("post", "/api/subscribers/ada/token/", None),
    ],
)
def test_bearer__outside_the_subscribers_own_endpoints__refused(
    two_subscribers, method, path, body
):
    response = call(ada_client(), method, path, body)

    assert response.status_code in (401, 403)
    assert Notification.objects.count() == 2
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(
    "claims",
    [
        claims_for("ada", ttl_secs=-60),
        claims_for("ada", aud="elsewhere"),
    ],
)
def test_bearer__refused_token__401_with_the_reason(two_subscribers, claims):
    response = bearer_client(hs256(claims)).get("/api/notifications/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Token" in response.json()["detail"]


def test_bearer__token_in_the_url__not_accepted(two_subscribers):
    token = hs256(claims_for("ada"))

    for param in ("token", "access_token", "jwt"):
        response = APIClient().get(f"/api/notifications/?{param}={token}")
        assert response.status_code in (401, 403)


def test_api_key__writes_throttled_per_key(world, make_key, settings):
    settings.API_WRITE_RATE = "2/min"
    first = key_client(make_key(Scope.BROADCAST, name="first"))
    second = key_client(make_key(Scope.BROADCAST, name="second"))
    event = {"event": {"x": 1}}

    statuses = [
        first.post("/api/topics/news/events/", event, format="json").status_code
        for _ in range(3)
    ]

    assert statuses == [202, 202, 429]
    response = second.post("/api/topics/news/events/", event, format="json")
    assert response.status_code == 202
