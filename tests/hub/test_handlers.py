"""The web process's HTTP handler (hub/handlers.py), driven as uvicorn drives it."""

from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.signals import request_finished
from django.db.backends.signals import connection_created

from hub.handlers import HubASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 30


@pytest.fixture
def handler():
    handler = HubASGIHandler()
    yield handler
    handler.close_connections()


@pytest.fixture(scope="module")
def collected_static():
    """STATIC_ROOT filled, as the Procfile's release step does: with DEBUG off
    WhiteNoise serves only what is there when the handler is built."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture
def http(handler):
    transport = httpx.ASGITransport(app=handler)
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


@pytest.fixture
def connects():
    """The database connections opened while the test runs."""
    opened = []

    def record(sender, connection, **kwargs):
        opened.append(connection)

    connection_created.connect(record)
    yield opened
    connection_created.disconnect(record)


def _auth(user) -> dict:
    return {"Authorization": f"Token {user.auth_token.key}"}


async def test_sequential_requests__reuse_database_connections(http, alice, connects):
    for _ in range(REQUESTS):
        response = await http.get(
            "/api/notifications/unread-count/", headers=_auth(alice)
        )
        assert response.status_code == 200
        assert response.json() == {"unread": 0}

    # One connection per request thread, kept: Django's own ASGI handler made
    # a thread, and so a connection, per request (30 here).
    assert 1 <= len(connects) <= settings.HTTP_THREADS


async def test_close_connections__closes_every_threads_connection(
    handler, http, alice, connects
):
    for _ in range(REQUESTS):
        await http.get("/api/notifications/", headers=_auth(alice))
    assert connects and all(c.connection is not None for c in connects)

    handler.close_connections()

    assert all(c.connection is None for c in connects)


async def test_every_request__finished_once(http, alice):
    finished = []

    def record(sender, **kwargs):
        finished.append(sender)

    request_finished.connect(record)
    try:
        await http.get("/api/notifications/", headers=_auth(alice))
        await http.get("/api/no-such-endpoint/", headers=_auth(alice))
        await http.get("/healthz")
    finally:
        request_finished.disconnect(record)

    assert len(finished) == 3


async def test_middleware__still_applies(http, alice):
    response = await http.get("/api/notifications/", headers=_auth(alice))

    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_errors__are_json(http, alice, staff):
    missing = await http.post("/api/notifications/999999/read/", headers=_auth(alice))
    anonymous = await http.get("/api/notifications/")
    too_big = await http.post(
        "/api/notifications/",
        content=b'{"title": "' + b"x" * (settings.API_MAX_BODY_BYTES + 1) + b'"}',
        headers={**_auth(staff), "Content-Type": "application/json"},
    )

    assert missing.status_code == 404
    assert anonymous.status_code in (401, 403)
    assert too_big.status_code == 413
    for response in (missing, anonymous, too_big):
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json() or "error" in response.json()


async def test_static_file__streamed_whole_and_finished(collected_static, http):
    finished = []

    def record(sender, **kwargs):
        finished.append(sender)

    request_finished.connect(record)
    try:
        response = await http.get("/static/hub/hub.js")
    finally:
        request_finished.disconnect(record)

    assert response.status_code == 200
    source = Path(settings.BASE_DIR, "static", "hub", "hub.js").read_bytes()
    assert response.content == source
    assert len(finished) == 1
