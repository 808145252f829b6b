"""Password guessing (hub/lockout.py, django-axes): failures counted per account
and per address, refused before any password hash, on every login."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

LIMIT = 3
TOKEN = "/api/auth/token/"


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.LOGIN_LOCKOUT_SECS = 900


def token_login(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN, {"username": username, "password": password}, format="json", **headers
    )


def page_login(path: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        path, {"username": username, "password": password}
    )


@pytest.fixture
def hashes(monkeypatch):
    """How many times ModelBackend (the password hash) ran."""
    calls = []
    real = ModelBackend.authenticate

    def counted(self, request, *args, **kwargs):
        calls.append(kwargs.get("username"))
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return calls


def test_token__failures_under_the_limit_are_400_and_the_password_still_works(alice):
    for _ in range(LIMIT - 1):
        assert token_login("alice", "wrong").status_code == 400

    assert token_login("alice", PASSWORD).status_code == 200


def test_token__locked_account_is_429_json_with_retry_after(alice):
    for _ in range(LIMIT):
        token_login("alice", "wrong")

    response = token_login("alice", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert response.json()["detail"].startswith("Too many failed logins")


def test_token__locked_out_attempt_computes_no_password_hash(alice, hashes):
    for _ in range(LIMIT):
        token_login("alice", "wrong")
    assert len(hashes) == LIMIT

    assert token_login("alice", PASSWORD).status_code == 429
    assert len(hashes) == LIMIT  # axes' backend refused before ModelBackend


def test_token__account_is_locked_from_every_address(alice, bob):
    for i in range(LIMIT):
        token_login("alice", "wrong", address=f"10.0.1.{i}")

    assert token_login("alice", PASSWORD, address="10.0.2.1").status_code == 429
    assert token_login("bob", PASSWORD, address="10.0.2.1").status_code == 200


def test_token__address_is_locked_for_every_account(alice, bob):
    for i in range(LIMIT):
        token_login(f"nobody{i}", "wrong", address="10.0.3.1")

    assert token_login("bob", PASSWORD, address="10.0.3.1").status_code == 429
    assert token_login("bob", PASSWORD, address="10.0.3.2").status_code == 200


def test_token__x_forwarded_for_is_not_a_new_address(alice, bob):
    """Only uvicorn (FORWARDED_ALLOW_IPS) turns the header into REMOTE_ADDR;
    a header the hub receives as sent gives each guess no new address."""
    for i in range(LIMIT):
        token_login(f"nobody{i}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")

    response = token_login("bob", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert response.status_code == 429


def test_token__attempts_during_a_lockout_do_not_extend_it(alice):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        token_login("alice", "wrong")
    counted = sorted(AccessAttempt.objects.values_list("failures_since_start"))

    for _ in range(3):
        assert token_login("alice", "wrong").status_code == 429

    assert sorted(AccessAttempt.objects.values_list("failures_since_start")) == (
        counted
    )


def test_token__lockout_ends_after_the_lockout_secs(alice):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        token_login("alice", "wrong")
    assert token_login("alice", PASSWORD).status_code == 429
    # As if LOGIN_LOCKOUT_SECS had passed since the failures.
    from datetime import timedelta

    from django.utils import timezone

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=901))

    assert token_login("alice", PASSWORD).status_code == 200


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_login_pages__locked_out_shows_a_page_that_says_so(staff, path):
    for _ in range(LIMIT - 1):
        assert page_login(path, "staff", "wrong").status_code == 200  # form again

    locking = page_login(path, "staff", "wrong")
    response = page_login(path, "staff", PASSWORD)

    assert locking.status_code == 429

    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "900"
    assert b"Too many failed logins" in response.content
    assert b"Try again in 15 minutes" in response.content


def test_login_pages__failures_on_one_login_count_on_the_others(staff):
    page_login("/login/", "staff", "wrong")
    page_login("/admin/login/", "staff", "wrong")
    token_login("staff", "wrong")

    assert token_login("staff", PASSWORD).status_code == 429
    assert page_login("/login/", "staff", PASSWORD).status_code == 429


def test_lockout__a_locked_account_keeps_its_token_and_sessions(alice):
    """Only password checks are refused: a lockout someone else caused does not
    cut a signed-in user off."""
    signed_in = Client()
    signed_in.force_login(alice)
    for _ in range(LIMIT):
        token_login("alice", "wrong")

    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {alice.auth_token.key}")

    assert token_login("alice", PASSWORD).status_code == 429
    assert token.get("/api/notifications/unread-count/").status_code == 200
    assert signed_in.get("/notifications/").status_code == 200
