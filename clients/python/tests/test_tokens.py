"""Connection tokens: signed locally with the shared secret, or asked of the hub."""

import time

import jwt
import pytest
from conftest import Answer

from hub_client import AsyncHubClient, HubClient, mint_token

SECRET = "a-shared-secret-of-at-least-32-bytes!"


def decode(token: str, secret: str = SECRET) -> dict:
    return jwt.decode(token, secret, algorithms=["HS256"], audience="hub")


def test_mint_token__claims_the_hub_requires():
    now = int(time.time())
    token = mint_token(SECRET, "user-42", ttl_secs=600, now=now)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="hub",
    )
    assert claims == {
        "sub": "user-42",
        "aud": "hub",
        "iat": now,
        "exp": now + 600,
    }


def test_mint_token__profile_claims_without_empty_ones():
    token = mint_token(SECRET, "u", email="u@example.com", name="U", locale=None)

    claims = decode(token)
    assert (claims["email"], claims["name"]) == ("u@example.com", "U")
    assert "locale" not in claims


def test_mint_token__another_secret_does_not_verify():
    token = mint_token(SECRET, "u")

    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, "another-secret-of-at-least-32-bytes!!")


def test_mint_token__refuses_unknown_claims_and_bad_ttl():
    with pytest.raises(TypeError, match="is_staff"):
        mint_token(SECRET, "u", is_staff="yes")
    with pytest.raises(ValueError, match="ttl_secs"):
        mint_token(SECRET, "u", ttl_secs=0)


def test_connection_token__signed_locally_without_a_request(fake_hub):
    with HubClient(fake_hub.base_url, "k", jwt_secret=SECRET) as hub:
        token = hub.connection_token("u-1", ttl_secs=120, email="u@example.com")

    claims = decode(token)
    assert (claims["sub"], claims["email"]) == ("u-1", "u@example.com")
    assert claims["exp"] - claims["iat"] == 120
    assert fake_hub.requests == []


def test_connection_token__asked_of_the_hub_without_a_secret(hub, fake_hub):
    fake_hub.script(Answer(200, {"token": "t.o.k", "expires_at": 1}))

    assert hub.connection_token("u-1", ttl_secs=300) == "t.o.k"
    [seen] = fake_hub.requests
    assert (seen.method, seen.path) == ("POST", "/api/subscribers/u-1/token/")
    assert seen.headers["authorization"] == "Api-Key test-key"
    assert seen.body == {"ttl_secs": 300}


def test_connection_token__profile_needs_the_secret(hub, fake_hub):
    with pytest.raises(ValueError, match="identify"):
        hub.connection_token("u-1", email="u@example.com")

    assert fake_hub.requests == []


async def test_connection_token__async_both_ways(async_hub, fake_hub):
    fake_hub.script(Answer(200, {"token": "from-the-hub"}))

    assert await async_hub.connection_token("u-1") == "from-the-hub"
    async with AsyncHubClient(fake_hub.base_url, "k", jwt_secret=SECRET) as hub:
        assert decode(await hub.connection_token("u-2"))["sub"] == "u-2"
    assert len(fake_hub.requests) == 1
