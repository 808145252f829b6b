"""The API schema and its docs page: who may read them, and no CDN."""

import re

import pytest
from django.contrib.staticfiles import finders

from tests.conftest import api_client_for


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema__closed_to_anonymous_by_default_in_production(client, path):
    response = client.get(path)

    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema__open_with_api_schema_public(client, settings, path):
    settings.API_SCHEMA_PUBLIC = True

    assert client.get(path).status_code == 200


def test_schema__signed_in_users_may_read_it(alice):
    response = api_client_for(alice).get("/api/schema/?format=json")

    assert response.status_code == 200
    assert "/api/notifications/" in response.json()["paths"]


def test_docs__swagger_ui_is_served_by_the_hub_not_a_cdn(client, alice):
    client.force_login(alice)

    page = client.get("/api/docs/").content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in src for src in sources), sources
    assert not [src for src in sources if "//" in src], sources  # no other host
    for src in sources:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src
