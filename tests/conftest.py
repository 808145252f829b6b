"""Shared fixtures: users, API clients, sockets on the real Redis channel layer."""

import json
import os
import secrets

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hub.asgi import application

PASSWORD = "correct-horse-battery"
ORIGIN = b"http://localhost"


@pytest.fixture
def make_user(db):
    def make(username: str, **extra):
        user = get_user_model().objects.create_user(
            username=username, password=PASSWORD, **extra
        )
        Token.objects.create(user=user)
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True)


def api_client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def api_client():
    return api_client_for


@pytest.fixture(params=[True, False], ids=["hub-loop", "channels-loop"])
def consumer_loop(request, settings):
    """Run a consumer test on the hub's loop (WS_INLINE_FANOUT) and on channels'."""
    settings.WS_INLINE_FANOUT = request.param
    return request.param


def communicator(path: str, user=None, *, origin: bytes | None = ORIGIN, headers=()):
    """A WebSocket to the full ASGI stack (origin check, auth, routing)."""
    # As a browser's handshake: the Host the page was served from (the hub's).
    all_headers = list(headers)
    if not any(name == b"host" for name, _ in all_headers):
        all_headers.insert(0, (b"host", b"localhost"))
    if origin is not None:
        all_headers.append((b"origin", origin))
    if user is not None:
        all_headers.append((b"authorization", f"Token {user.auth_token.key}".encode()))
    return WebsocketCommunicator(application, path, headers=all_headers)


async def receive_until(comm, frame_type: str, timeout: float = 3.0) -> dict:
    """Receive frames until one of ``frame_type`` arrives; return it."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame


async def nothing_before_marker(comm, group: str) -> None:
    """Prove that ``comm`` was sent nothing so far: publish a marker event to
    ``group`` (one the socket is in) and require it as the next frame. Redis
    hands one subscriber its messages in the order they were published, and
    the consumer keeps that order, so anything published before the marker
    would arrive first."""
    from realtime import groups, publish

    marker = {"type": "event", "topic": "marker", "event": {"n": secrets.token_hex(4)}}
    await publish.asend(group, publish.message(groups.TOPIC_EVENT, [marker]))
    assert await comm.receive_json_from(timeout=3) == marker


async def send_raw(comm, text: str) -> dict:
    await comm.send_to(text_data=text)
    return json.loads(await comm.receive_from(timeout=3))


def pytest_configure(config):
    from django.conf import settings

    # Real hashing costs ~0.5 s per user created; tests need no brute-force resistance.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Under pytest-xdist (make test-fast) each worker has its own database
    # (pytest-django suffixes its name) and here its own Redis names: user ids
    # repeat across workers' databases, so a shared user.1 group would cross.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        prefix = f"{settings.CHANNEL_LAYER_PREFIX}{worker}"
        settings.CHANNEL_LAYER_PREFIX = prefix
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = prefix
        settings.CACHES["default"]["KEY_PREFIX"] = prefix
        settings.CELERY_TASK_DEFAULT_QUEUE = prefix
