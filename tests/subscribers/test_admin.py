"""The admin makes scoped API keys (the key shown once, stored hashed) and lists
subscribers."""

import pytest

from subscribers import services
from subscribers.models import ApiKey
from tests.subscribers.conftest import key_client


@pytest.fixture
def admin_client(make_user, client, isolated_cache):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_admin__creates_a_scoped_key_shown_once(admin_client):
    response = admin_client.post(
        "/admin/subscribers/apikey/add/",
        {"name": "shop", "scopes": ["subscribers", "notify"]},
        follow=True,
    )

    api_key = ApiKey.objects.get()
    assert sorted(api_key.scopes) == ["notify", "subscribers"]
    [message] = [str(m) for m in response.context["messages"] if "is: " in str(m)]
    key = message.split("is: ")[1].split(". ")[0]
    assert key_client(key).get("/api/subscribers/nobody/").status_code == 404
    assert key not in api_key.hashed_key


def test_admin__lists_subscribers_and_keys(admin_client):
    services.subscriber_upsert(external_id="shop:1", name="Ada")
    ApiKey.objects.create_key(name="shop", scopes=["notify"])

    assert b"shop:1" in admin_client.get("/admin/subscribers/subscriber/").content
    assert b"notify" in admin_client.get("/admin/subscribers/apikey/").content
