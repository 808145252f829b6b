"""The subscriber endpoints, the token endpoint, and notify by external id."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from notifications.models import Notification, Topic
from subscribers import services
from subscribers.models import Scope, Subscriber
from subscribers.tokens import connection_token_verify
from tests.conftest import communicator, receive_until
from tests.subscribers.conftest import bearer_client, claims_for, hs256, key_client


@pytest.fixture
def admin_key(db, make_key, isolated_cache):
    return key_client(make_key(*Scope.values))


@pytest.mark.django_db
def test_put_subscriber__creates_201_then_updates_200(admin_key):
    Topic.objects.create(slug="news", name="News")
    body = {
        "email": "ada@example.com",
        "name": "Ada",
        "timezone": "Europe/Paris",
        "locale": "fr-FR",
        "topics": ["news"],
    }

    first = admin_key.put("/api/subscribers/shop:42/", body, format="json")
    second = admin_key.put("/api/subscribers/shop:42/", {"name": "A."}, format="json")

    assert first.status_code == 201
    assert first.json() == {"external_id": "shop:42", **body}
    assert second.status_code == 200
    assert second.json() == {"external_id": "shop:42", **body, "name": "A."}
    assert admin_key.get("/api/subscribers/shop:42/").json() == second.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"email": "nope"},
        {"timezone": "Mars/Base"},
        {"locale": "en_US!"},
        {"name": 42},
        {"topics": ["no-such-topic"]},
        {"topics": "news"},
        [],
    ],
)
def test_put_subscriber__bad_input__400_and_nothing_stored(admin_key, body):
    response = admin_key.put("/api/subscribers/u1/", body, format="json")

    assert response.status_code == 400
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
def test_put_subscriber__staff_only_topic__400(admin_key):
    Topic.objects.create(slug="ops", name="Ops", staff_only=True)

    response = admin_key.put("/api/subscribers/u1/", {"topics": ["ops"]}, format="json")

    assert response.status_code == 400
    assert "ops" in response.json()["topics"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["has%20space", "x" * 129, "a%2Fb", "%C3%A9"])
def test_subscriber_url__id_of_another_shape__404(admin_key, bad_id):
    assert admin_key.put(f"/api/subscribers/{bad_id}/", {}).status_code == 404


@pytest.mark.django_db
def test_get_subscriber__unknown__404(admin_key):
    assert admin_key.get("/api/subscribers/ghost/").status_code == 404


@pytest.mark.django_db
def test_delete_subscriber__forgets_them_and_is_idempotent(admin_key):
    user, _ = services.subscriber_upsert(external_id="gone", email="g@example.com")
    Notification.objects.create(recipient=user, title="private")

    assert admin_key.delete("/api/subscribers/gone/").status_code == 204
    assert admin_key.delete("/api/subscribers/gone/").status_code == 204

    assert admin_key.get("/api/subscribers/gone/").status_code == 404
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Notification.objects.filter(recipient_id=user.pk).exists()


@pytest.mark.django_db
def test_staff__may_manage_subscribers_without_a_key(staff, api_client, alice):
    client = api_client(staff)

    assert client.put("/api/subscribers/u1/", {}, format="json").status_code == 201
    assert api_client(alice).get("/api/subscribers/u1/").status_code == 403


@pytest.mark.django_db
def test_post_token__mints_a_token_that_signs_the_subscriber_in(admin_key, jwt_secret):
    response = admin_key.post(
        "/api/subscribers/u9/token/", {"ttl_secs": 120}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    assert connection_token_verify(body["token"])["sub"] == "u9"
    feed = bearer_client(body["token"]).get("/api/notifications/")
    assert feed.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("ttl", [0, -5, 86401, "long", 2**40])
def test_post_token__lifetime_out_of_range__400(admin_key, jwt_secret, ttl):
    response = admin_key.post("/api/subscribers/u9/token/", {"ttl_secs": ttl}, "json")

    assert response.status_code == 400
    assert "ttl_secs" in response.json()


@pytest.mark.django_db
def test_post_token__hub_without_a_secret__409_saying_so(admin_key, settings):
    settings.HUB_JWT_SECRET = ""

    response = admin_key.post("/api/subscribers/u9/token/")

    assert response.status_code == 409
    assert "HUB_JWT_SECRET" in response.json()["detail"]


@pytest.mark.django_db
def test_notify_by_external_id__unknown_ids_become_subscribers(admin_key, jwt_secret):
    response = admin_key.post(
        "/api/notifications/",
        {"subscribers": ["new-1", "new-2", "new-1"], "title": "Welcome"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json() == {"created": 2}
    feed = bearer_client(hs256(claims_for("new-2"))).get("/api/notifications/")
    assert [n["title"] for n in feed.json()["results"]] == ["Welcome"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"recipients": [1], "subscribers": ["a"]},
        {"subscribers": []},
        {"subscribers": ["bad id"]},
        {"subscribers": [7]},
        {"subscribers": ["x" * 129]},
    ],
)
def test_notify_by_external_id__bad_audience__400(admin_key, extra):
    response = admin_key.post(
        "/api/notifications/", {"title": "x", **extra}, format="json"
    )

    assert response.status_code == 400
    assert not Subscriber.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_notify_by_external_id__reaches_the_subscribers_socket(
    make_key, isolated_cache
):
    ensure = database_sync_to_async(services.subscribers_ensure)
    user_id = (await ensure(external_ids=["live-1"]))["live-1"]
    user = await database_sync_to_async(get_user_model().objects.get)(pk=user_id)
    # The socket signs in the existing way; the HTTP side is what is tested here.
    await database_sync_to_async(Token.objects.create)(user=user)
    comm = communicator("/ws/notifications/", user)
    assert (await comm.connect())[0]
    await receive_until(comm, "hello")
    client = key_client(await database_sync_to_async(make_key)(Scope.NOTIFY))

    response = await database_sync_to_async(client.post)(
        "/api/notifications/",
        {"subscribers": ["live-1"], "title": "Your order shipped"},
        format="json",
    )

    assert response.status_code == 201
    frame = await receive_until(comm, "notification")
    assert frame["notification"]["title"] == "Your order shipped"
    await comm.disconnect()
