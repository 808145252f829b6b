"""Connection tokens: real JWTs signed here (HS256, RS256, ES256); every classic
mistake refused with a reason."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import jwt
import pytest

from hub.settings import BASE_DIR
from subscribers.errors import TokenSigningUnavailable
from subscribers.tokens import (
    InvalidConnectionToken,
    connection_token_mint,
    connection_token_verify,
)
from tests.subscribers.conftest import JWT_SECRET, claims_for, hs256, pem_public

START_TIMEOUT_SECS = 60


@pytest.fixture
def rsa_hub(settings, rsa_key):
    """A hub that holds only an RSA public key."""
    settings.HUB_JWT_SECRET = ""
    settings.HUB_JWT_PUBLIC_KEY = pem_public(rsa_key)
    return rsa_key


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict, claims: dict, secret: bytes | None) -> str:
    """A JWT made without PyJWT, which refuses to make the forged ones."""
    signing_input = f"{b64url(json.dumps(header).encode())}." + b64url(
        json.dumps(claims).encode()
    )
    signature = b""
    if secret is not None:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def refused(token: str, match: str) -> None:
    with pytest.raises(InvalidConnectionToken, match=match):
        connection_token_verify(token)


def test_connection_token_verify__hs256_with_the_secret__claims(jwt_secret):
    claims = connection_token_verify(hs256(claims_for("acme:7", name="Ada")))

    assert (claims["sub"], claims["name"], claims["aud"]) == ("acme:7", "Ada", "hub")


def test_connection_token_verify__rs256_with_the_public_key__claims(rsa_hub):
    token = jwt.encode(claims_for("u1"), rsa_hub, algorithm="RS256")

    assert connection_token_verify(token)["sub"] == "u1"


def test_connection_token_verify__es256_with_the_public_key__claims(settings, ec_key):
    settings.HUB_JWT_SECRET = ""
    settings.HUB_JWT_PUBLIC_KEY = pem_public(ec_key)
    token = jwt.encode(claims_for("u1"), ec_key, algorithm="ES256")

    assert connection_token_verify(token)["sub"] == "u1"


def test_connection_token_verify__expired__refused(jwt_secret):
    refused(hs256(claims_for(ttl_secs=-60)), "expired")


def test_connection_token_verify__missing_exp__refused(jwt_secret):
    claims = claims_for()
    del claims["exp"]

    refused(hs256(claims), "'exp'")


def test_connection_token_verify__wrong_secret__refused(jwt_secret):
    refused(hs256(claims_for(), secret="another-secret-" * 4), "signature")


def test_connection_token_verify__signed_by_another_rsa_key__refused(rsa_hub):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    refused(jwt.encode(claims_for(), other, algorithm="RS256"), "signature")


def test_connection_token_verify__wrong_audience__refused(jwt_secret):
    refused(hs256(claims_for(aud="another-service")), "aud")


def test_connection_token_verify__missing_audience__refused(jwt_secret):
    claims = claims_for()
    del claims["aud"]

    refused(hs256(claims), "aud")


def test_connection_token_verify__alg_none__refused(jwt_secret):
    token = hand_signed({"alg": "none", "typ": "JWT"}, claims_for(), None)

    refused(token, "'none' is not accepted")


def test_connection_token_verify__another_hmac_alg__refused(jwt_secret):
    refused(jwt.encode(claims_for(), JWT_SECRET * 2, algorithm="HS512"), "'HS512'")


def test_connection_token_verify__hs256_signed_with_the_public_pem__refused(rsa_hub):
    # Algorithm confusion: the attacker knows the public key and uses its PEM as
    # an HMAC secret, hoping the hub verifies HS256 with "its key".
    pem = pem_public(rsa_hub).encode()
    token = hand_signed({"alg": "HS256", "typ": "JWT"}, claims_for(), pem)

    refused(token, "'HS256' is not accepted")


def test_connection_token_verify__confusion_with_secret_and_key_set__refused(
    settings, rsa_key
):
    settings.HUB_JWT_SECRET = JWT_SECRET
    settings.HUB_JWT_PUBLIC_KEY = pem_public(rsa_key)
    pem = pem_public(rsa_key).encode()
    token = hand_signed({"alg": "HS256", "typ": "JWT"}, claims_for(), pem)

    refused(token, "signature")


def test_connection_token_verify__rs256_when_the_hub_has_only_a_secret__refused(
    jwt_secret, rsa_key
):
    refused(jwt.encode(claims_for(), rsa_key, algorithm="RS256"), "'RS256'")


def test_connection_token_verify__lifetime_over_the_maximum__refused(
    jwt_secret, settings
):
    settings.HUB_TOKEN_MAX_TTL_SECS = 3600

    refused(hs256(claims_for(ttl_secs=3600 + 120)), "HUB_TOKEN_MAX_TTL_SECS")
    assert connection_token_verify(hs256(claims_for(ttl_secs=3500)))["sub"]


@pytest.mark.parametrize("sub", [None, "", "has space", "x" * 129, 42, "a/b"])
def test_connection_token_verify__missing_or_invalid_sub__refused(jwt_secret, sub):
    refused(hs256(claims_for(sub=sub)), "(?i)sub")


@pytest.mark.parametrize(
    "claim",
    [
        {"timezone": "Mars/Olympus"},
        {"email": "not-an-email"},
        {"locale": "<script>"},
        {"name": "x" * 151},
        {"name": 7},
    ],
)
def test_connection_token_verify__malformed_profile_claim__refused(jwt_secret, claim):
    refused(hs256(claims_for(**claim)), next(iter(claim)))


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "Bearer x.y.z"])
def test_connection_token_verify__garbage__refused(jwt_secret, token):
    with pytest.raises(InvalidConnectionToken):
        connection_token_verify(token)


def test_connection_token_verify__no_key_configured__refused(settings):
    settings.HUB_JWT_SECRET = ""
    settings.HUB_JWT_PUBLIC_KEY = ""

    refused(hs256(claims_for()), "no connection tokens")


def test_connection_token_mint__verifies_and_expires_when_it_says(jwt_secret):
    token, expires_at = connection_token_mint(
        external_id="u1", ttl_secs=600, name="Ada"
    )

    claims = connection_token_verify(token)
    assert claims["sub"] == "u1" and claims["name"] == "Ada"
    assert claims["exp"] == int(expires_at.timestamp())
    assert abs(expires_at.timestamp() - (time.time() + 600)) < 5


def test_connection_token_mint__without_a_secret__says_so(settings):
    settings.HUB_JWT_SECRET = ""

    with pytest.raises(TokenSigningUnavailable, match="HUB_JWT_SECRET"):
        connection_token_mint(external_id="u1", ttl_secs=60)


def run_check(**env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_DEBUG": "1", **env_vars}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECS,
    )


def test_settings__public_key_with_escaped_newlines__starts(rsa_key):
    escaped = pem_public(rsa_key).replace("\n", "\\n")

    assert run_check(HUB_JWT_PUBLIC_KEY=escaped).returncode == 0


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HUB_JWT_PUBLIC_KEY", "not a key", "not a PEM public key"),
        ("HUB_JWT_SECRET", "short", "at least 32 characters"),
    ],
)
def test_settings__unusable_jwt_key__process_refuses_to_start(name, value, says):
    result = run_check(**{name: value})

    assert result.returncode != 0
    assert says in result.stderr
