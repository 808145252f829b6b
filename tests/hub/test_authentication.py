"""API tokens (hub/authentication.py): the key's user, for HTTP and sockets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.authentication import token_lookup


@pytest.mark.django_db
def test_token_lookup__the_keys_user_in_one_query(staff):
    with CaptureQueriesContext(connection) as queries:
        token = token_lookup(staff.auth_token.key)

    assert len(queries) == 1
    assert token.key == staff.auth_token.key
    assert token.created == staff.auth_token.created
    assert token.user == staff
    assert (token.user.username, token.user.is_staff) == ("staff", True)
    assert token.user.check_password("correct-horse-battery")


@pytest.mark.django_db
def test_token_lookup__unknown_key_is_none(alice):
    assert token_lookup("not-" + alice.auth_token.key) is None


@pytest.mark.django_db
def test_api__token_of_an_inactive_user_is_refused(client, alice):
    alice.is_active = False
    alice.save()

    response = client.get(
        "/api/notifications/", HTTP_AUTHORIZATION=f"Token {alice.auth_token.key}"
    )

    assert (
        response.status_code == 403
    )  # DRF: the first authenticator (session) has no challenge
    assert "inactive" in response.json()["detail"]


@pytest.mark.django_db
def test_api__unknown_token_is_refused(client, alice):
    response = client.get("/api/notifications/", HTTP_AUTHORIZATION="Token nope")

    assert (
        response.status_code == 403
    )  # DRF: the first authenticator (session) has no challenge
    assert response.json()["detail"] == "Invalid token."
