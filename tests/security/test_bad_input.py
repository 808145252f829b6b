"""Bad input that once got a 500 (CONTRACT 2): forged cursors, deep nesting on
the token endpoint, numbers out of range, wrong types, bodies past the limit."""

import asyncio
import base64

import pytest
from rest_framework.test import APIClient

from hub.asgi import application
from notifications.models import Notification
from tests.conftest import PASSWORD, api_client_for


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


# Well-formed base64 whose position is not an id: DRF's CursorPagination passes
# it to the ORM as is, and the id lookup raised ValueError (a 500).
FORGED_CURSORS = [
    _cursor("p=abc"),
    _cursor("p="),
    _cursor("p=1e999"),
    _cursor("p=%00"),
    _cursor("p=" + "9" * 30),
    _cursor("p=-5"),
]
HISTORY_PATH = "/api/chat/rooms/support-alice/messages/"


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
@pytest.mark.parametrize("path", ["/api/notifications/", HISTORY_PATH])
def test_cursor__forged_is_404(world, path, cursor):
    response = api_client_for(world.users["alice"]).get(path, {"cursor": cursor})

    assert response.status_code == 404, response.content[:300]
    assert response.json() == {"detail": "Invalid cursor"}


def test_cursor__from_a_real_page_still_pages(world):
    alice = world.users["alice"]
    for n in range(3):
        Notification.objects.create(recipient=alice, title=f"n{n}")
    client = api_client_for(alice)
    first = client.get("/api/notifications/", {"limit": 2}).json()

    second = client.get(first["next"])

    assert second.status_code == 200
    assert len(second.json()["results"]) == 2


@pytest.mark.parametrize("depth", [5_000, 120_000])
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8"]
)
def test_token_endpoint__deeply_nested_json_is_400(db, depth, content_type):
    deep = '{"username": ' + "[" * depth + "]" * depth + "}"

    response = APIClient().post("/api/auth/token/", deep, content_type=content_type)

    assert response.status_code == 400, response.content[:300]
    assert "nested deeper than" in response.json()["detail"]


def test_token_endpoint__still_answers_a_good_password(alice):
    response = APIClient().post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["token"] == alice.auth_token.key


@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_metric__number_too_large_for_a_float_is_400(world, value):
    client = api_client_for(world.users["staff"])

    response = client.post(
        "/api/dashboard/metrics/",
        f'{{"name": "queue", "value": {value}}}',
        content_type="application/json",
    )

    assert response.status_code == 400, response.content[:300]
    assert "value" in response.json()


@pytest.mark.parametrize("user_id", [2**63, 2**64, 10**30])
def test_recipients__id_beyond_64_bits_is_400(world, user_id):
    client = api_client_for(world.users["staff"])

    response = client.post(
        "/api/notifications/", {"recipients": [user_id], "title": "t"}, format="json"
    )

    assert response.status_code == 400, response.content[:300]
    assert "recipients" in response.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/notifications/", {"recipients": [1], "title": 5}, "title"),
        ("/api/notifications/", {"recipients": [1], "title": "t", "body": 5}, "body"),
        (
            "/api/notifications/",
            {"recipients": [1], "title": "t", "category": 7},
            "category",
        ),
        ("/api/broadcasts/", {"topic": None, "title": 5.5}, "title"),
        ("/api/broadcasts/", {"topic": 5, "title": "t"}, "topic"),
        ("/api/topics/", {"slug": 5, "name": "Five"}, "slug"),
        ("/api/topics/", {"slug": "five", "name": 5}, "name"),
        ("/api/dashboard/metrics/", {"name": 5, "value": 1}, "name"),
        ("/api/chat/rooms/", {"slug": 5}, "slug"),
        ("/api/chat/rooms/", {"slug": "r", "name": 5}, "name"),
    ],
)
def test_strings__a_number_is_a_field_error(world, path, body, field):
    client = api_client_for(world.users["staff"])

    response = client.post(path, body, format="json")

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


def test_preferences__a_number_for_the_timezone_is_a_field_error(world):
    client = api_client_for(world.users["alice"])

    response = client.patch("/api/preferences/", {"timezone": 5}, format="json")

    assert response.status_code == 400
    assert "timezone" in response.json()


async def _post_endless_body(path: str, chunk_bytes: int, chunks: int):
    """POST ``chunks`` chunks to the ASGI app, as a client that would send far
    more than any limit; returns (status, body, chunks the hub read)."""
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read += 1
        return {
            "type": "http.request",
            "body": b"x" * chunk_bytes,
            "more_body": read < chunks,
        }

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await asyncio.wait_for(application(scope, receive, send), timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return start["status"], body, read


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/notifications/", "/api/auth/token/", "/login/"])
def test_body__reading_stops_at_the_limit_with_413(settings, path):
    chunk_bytes = 64 * 1024
    chunks = 16 * 1024  # 1 GiB, if the hub read it all

    status, body, read = asyncio.run(_post_endless_body(path, chunk_bytes, chunks))

    assert status == 413
    assert b'"detail"' in body
    assert read * chunk_bytes <= settings.HTTP_MAX_BODY_BYTES + chunk_bytes
