"""Password validators wherever a password is set: the admin's forms and
createsuperuser (hub/management/commands/createsuperuser.py)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

STRONG = "violet-harbour-7-quartz"
# One refused password per validator beyond the minimum length.
WEAK = {
    "common": "password123",
    "numeric": "4815162342",
    "like the username": "newperson1",
}


@pytest.fixture
def admin_client(make_user):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def add_user(client, password: str):
    return client.post(
        "/admin/auth/user/add/",
        {
            "username": "newperson",
            "usable_password": "true",
            "password1": password,
            "password2": password,
        },
    )


@pytest.mark.parametrize("password", WEAK.values(), ids=WEAK.keys())
def test_admin_add_user__weak_password_is_refused(admin_client, password):
    response = add_user(admin_client, password)

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["password2"]
    assert not get_user_model().objects.filter(username="newperson").exists()


def test_admin_add_user__strong_password_is_taken(admin_client):
    response = add_user(admin_client, STRONG)

    assert response.status_code == 302
    assert get_user_model().objects.get(username="newperson").check_password(STRONG)


def test_admin_change_password__weak_password_is_refused(admin_client, alice):
    response = admin_client.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": "password123", "password2": "password123"},
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert not alice.check_password("password123")


@pytest.mark.parametrize("password", WEAK.values(), ids=WEAK.keys())
def test_createsuperuser_noinput__weak_password_is_refused(db, monkeypatch, password):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)

    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD"):
        call_command(
            "createsuperuser",
            interactive=False,
            username="newperson",
            email="new@example.com",
            verbosity=0,
        )

    assert not get_user_model().objects.filter(username="newperson").exists()


def test_createsuperuser_noinput__strong_password_is_taken(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)

    call_command(
        "createsuperuser",
        interactive=False,
        username="newperson",
        email="new@example.com",
        verbosity=0,
    )

    assert get_user_model().objects.get(username="newperson").check_password(STRONG)
