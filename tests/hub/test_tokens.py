"""API tokens that expire (API_TOKEN_TTL_SECS), rotate and can be revoked:
hub/authentication.py, hub/services.py, the token endpoints in hub/views.py,
and sockets signed in with ``Authorization: Token``."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, communicator

TTL_SECS = 3600
FEED = "/api/notifications/unread-count/"


@pytest.fixture(autouse=True)
def ttl(settings):
    settings.API_TOKEN_TTL_SECS = TTL_SECS


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def age(user, secs: int) -> None:
    """Make the user's token as old as ``secs``."""
    Token.objects.filter(user=user).update(
        created=timezone.now() - timedelta(seconds=secs)
    )


def refused_as_unknown(response) -> bool:
    """A rotated or revoked key is one the hub does not know (403 where the
    session is the first authenticator, as for any unknown key)."""
    return response.status_code == 403 and response.json() == {
        "detail": "Invalid token."
    }


def obtain(username: str = "alice", **headers):
    return APIClient().post(
        "/api/auth/token/",
        {"username": username, "password": PASSWORD},
        format="json",
        **headers,
    )


# --- expiry ---------------------------------------------------------------------


def test_expiry__a_token_inside_its_ttl_works(alice):
    age(alice, TTL_SECS - 60)

    assert with_token(alice.auth_token.key).get(FEED).status_code == 200


def test_expiry__an_expired_token_is_401_saying_so(alice):
    age(alice, TTL_SECS + 1)

    response = with_token(alice.auth_token.key).get(FEED)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Token expired.")
    assert response["WWW-Authenticate"] == "Token"


def test_expiry__zero_means_tokens_never_expire(alice, settings):
    settings.API_TOKEN_TTL_SECS = 0
    age(alice, 10 * 365 * 24 * 3600)

    assert with_token(alice.auth_token.key).get(FEED).status_code == 200
    assert obtain().json() == {"token": alice.auth_token.key, "expires_at": None}


@pytest.mark.django_db(transaction=True)
async def test_expiry__an_expired_token_opens_no_socket(alice):
    await age_async(alice, TTL_SECS + 1)
    comm = communicator("/ws/notifications/", alice, origin=None)

    await comm.connect()

    assert (await comm.receive_output(timeout=3))["code"] == 4401


@pytest.mark.django_db(transaction=True)
async def test_expiry__a_live_token_opens_a_socket(alice):
    comm = communicator("/ws/notifications/", alice, origin=None)

    ok, _ = await comm.connect()

    assert ok
    assert (await comm.receive_json_from(timeout=3))["type"] == "hello"
    await comm.disconnect()


async def age_async(user, secs: int) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(age)(user, secs)


# --- POST /api/auth/token/ ------------------------------------------------------


def test_obtain__returns_the_token_and_its_expiry(alice):
    response = obtain()

    assert response.status_code == 200
    body = response.json()
    assert body["token"] == alice.auth_token.key
    expires_at = alice.auth_token.created + timedelta(seconds=TTL_SECS)
    assert body["expires_at"] == expires_at.isoformat().replace("+00:00", "Z")


def test_obtain__an_expired_token_is_replaced_by_a_new_one(alice):
    old = alice.auth_token.key
    age(alice, TTL_SECS + 1)

    new = obtain().json()["token"]

    assert new != old
    assert not Token.objects.filter(key=old).exists()
    assert with_token(new).get(FEED).status_code == 200


def test_obtain__an_expired_token_in_the_header_does_not_stop_it(alice):
    age(alice, TTL_SECS + 1)

    response = obtain(HTTP_AUTHORIZATION=f"Token {alice.auth_token.key}")

    assert response.status_code == 200


def test_obtain__a_user_without_a_token_gets_one(make_user):
    user = make_user("carol")
    user.auth_token.delete()

    response = obtain("carol")

    assert response.status_code == 200
    assert Token.objects.get(user=user).key == response.json()["token"]


# --- POST /api/auth/token/rotate/ -----------------------------------------------


def test_rotate__the_old_token_dies_and_the_new_one_works(alice):
    old = alice.auth_token.key

    response = with_token(old).post("/api/auth/token/rotate/")

    assert response.status_code == 200
    new = response.json()["token"]
    assert new != old
    assert response.json()["expires_at"] is not None
    assert refused_as_unknown(with_token(old).get(FEED))
    assert with_token(new).get(FEED).status_code == 200


def test_rotate__restarts_the_ttl(alice):
    age(alice, TTL_SECS - 60)

    new = with_token(alice.auth_token.key).post("/api/auth/token/rotate/").json()

    assert Token.objects.get(key=new["token"]).created > timezone.now() - timedelta(
        seconds=60
    )


def test_rotate__an_expired_token_cannot_rotate(alice):
    old = alice.auth_token.key
    age(alice, TTL_SECS + 1)

    response = with_token(old).post("/api/auth/token/rotate/")

    assert response.status_code == 401
    assert Token.objects.filter(key=old).exists()  # untouched


def test_rotate__needs_a_token_not_a_session(alice):
    client = APIClient()
    client.force_login(alice)

    response = client.post("/api/auth/token/rotate/")

    assert response.status_code == 401
    assert Token.objects.filter(key=alice.auth_token.key).exists()


def test_rotate__anonymous_is_401(db):
    assert APIClient().post("/api/auth/token/rotate/").status_code == 401


def test_rotate__the_loser_of_two_rotations_is_refused(alice):
    from hub.services import TokenGone, api_token_rotate

    token = Token.objects.get(user=alice)
    api_token_rotate(token=token)

    with pytest.raises(TokenGone):
        api_token_rotate(token=token)
    assert Token.objects.filter(user=alice).count() == 1


# --- DELETE /api/auth/token/ ----------------------------------------------------


def test_revoke__the_token_stops_working(alice):
    key = alice.auth_token.key

    response = with_token(key).delete("/api/auth/token/")

    assert response.status_code == 204
    assert not Token.objects.filter(key=key).exists()
    assert refused_as_unknown(with_token(key).get(FEED))


def test_revoke__anonymous_is_401_and_revokes_nothing(alice):
    response = APIClient().delete("/api/auth/token/")

    assert response.status_code == 401
    assert Token.objects.filter(user=alice).exists()


def test_revoke__then_the_password_gets_a_new_token(alice):
    with_token(alice.auth_token.key).delete("/api/auth/token/")

    response = obtain()

    assert response.status_code == 200
    assert with_token(response.json()["token"]).get(FEED).status_code == 200


# --- the schema -----------------------------------------------------------------


def test_schema__documents_rotate_and_revoke(alice):
    schema = with_token(alice.auth_token.key).get("/api/schema/?format=json").json()

    paths = schema["paths"]
    assert set(paths["/api/auth/token/"]) >= {"post", "delete"}
    assert "post" in paths["/api/auth/token/rotate/"]
    token_schema = schema["components"]["schemas"]["ApiToken"]
    assert set(token_schema["properties"]) == {"token", "expires_at"}
