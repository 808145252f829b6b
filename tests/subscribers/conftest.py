"""Fixtures for subscribers: API keys, signing keys, connection tokens signed here."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rest_framework.test import APIClient

from subscribers.models import ApiKey

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture
def jwt_secret(settings):
    settings.HUB_JWT_SECRET = JWT_SECRET
    settings.HUB_JWT_PUBLIC_KEY = ""
    return JWT_SECRET


def pem_public(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def claims_for(sub: str = "user-1", *, ttl_secs: int = 600, **extra) -> dict:
    claims = {"sub": sub, "aud": "hub", "exp": int(time.time()) + ttl_secs}
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def hs256(claims: dict, secret: str = JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_client(token: str, *, origin: str | None = None) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def make_key(db):
    """An API key with these scopes; returns the key string (sent as Api-Key)."""

    def make(*scopes: str, name: str | None = None) -> str:
        _, key = ApiKey.objects.create_key(
            name=name or "key-" + "-".join(scopes or ("none",)), scopes=list(scopes)
        )
        return key

    return make


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def isolated_cache(settings):
    """The Redis cache under this test's own key prefix, so write-throttle counts
    never leak between tests (as tests/security/conftest.py does)."""
    default = settings.CACHES["default"]
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            **default,
            "KEY_PREFIX": f"{default['KEY_PREFIX']}:{uuid.uuid4().hex}",
        },
    }
