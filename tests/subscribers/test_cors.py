"""CORS for the product's origins (hub.settings, django-cors-headers): exact
origins only, the subscriber's own endpoints only, no wildcard at start-up."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from hub.settings import BASE_DIR, cors_allowed_origins
from tests.subscribers.conftest import claims_for, hs256

APP = "https://app.example.com"
START_TIMEOUT_SECS = 60


@pytest.fixture
def product_origin(settings, jwt_secret):
    settings.HUB_CORS_ALLOWED_ORIGINS = [APP]
    settings.CORS_ALLOWED_ORIGINS = [APP]


def preflight(path: str, origin: str, method: str = "GET"):
    return Client().options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/notifications/", "GET"),
        ("/api/notifications/unread-count/", "GET"),
        ("/api/notifications/12/read/", "POST"),
        ("/api/notifications/12/", "DELETE"),
        ("/api/notifications/read-all/", "POST"),
        ("/api/preferences/", "PATCH"),
        ("/api/topics/", "GET"),
        ("/api/topics/news/subscription/", "PUT"),
    ],
)
def test_cors__allowed_origin_on_subscriber_endpoints__answered(
    product_origin, path, method
):
    response = preflight(path, APP, method)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.django_db
def test_cors__allowed_origin__real_request_readable(product_origin):
    response = Client().get(
        "/api/notifications/unread-count/",
        headers={"Origin": APP, "Authorization": f"Bearer {hs256(claims_for())}"},
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP


@pytest.mark.django_db
@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "http://app.example.com", f"{APP}.evil.com", "null"],
)
def test_cors__other_origin__not_answered(product_origin, origin):
    response = preflight("/api/notifications/", origin)

    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/subscribers/u1/",
        "/api/subscribers/u1/token/",
        "/api/broadcasts/",
        "/api/auth/token/",
        "/api/ws-ticket/",
        "/api/chat/rooms/",
        "/api/dashboard/metrics/",
    ],
)
def test_cors__allowed_origin_elsewhere__not_answered(product_origin, path):
    response = preflight(path, APP, "POST")

    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allowed_origins__exact_origins_pass():
    origins = ["https://app.example.com", "http://localhost:8001"]

    assert cors_allowed_origins(origins) == origins


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://*.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "app.example.com",
        "ftp://app.example.com",
        "https://",
    ],
)
def test_cors_allowed_origins__wildcard_or_not_an_origin__refused(origin):
    with pytest.raises(ImproperlyConfigured, match="scheme://host"):
        cors_allowed_origins([origin])


def test_cors_allowed_origins__wildcard__process_refuses_to_start():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_CORS_ALLOWED_ORIGINS": "https://app.example.com,*",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECS,
    )

    assert result.returncode != 0
    assert "HUB_CORS_ALLOWED_ORIGINS: '*' is not an exact origin" in result.stderr
