"""HTTP bodies past the limits: a clear 4xx JSON error, never a 500 or HTML."""

import pytest

from tests.conftest import api_client_for

WRITE_PATHS = ["/api/notifications/", "/api/broadcasts/", "/api/topics/deploys/events/"]


def _post(world, path, body: str | bytes, content_type="application/json"):
    return api_client_for(world.users["staff"]).post(
        path, body, content_type=content_type
    )


def _assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str)
    return body


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_body__over_the_limit_is_413(world, settings, path):
    huge = '{"title": "' + "x" * (settings.API_MAX_BODY_BYTES + 1) + '"}'

    _assert_json_error(_post(world, path, huge), 413)


@pytest.mark.parametrize("path", WRITE_PATHS)
@pytest.mark.parametrize("depth", [32, 5_000, 120_000])
def test_body__nested_past_the_depth_limit_is_400(world, path, depth):
    # The stock JSON parser recurses: thousands deep raised RecursionError, a 500.
    deep = '{"event": ' + "[" * depth + "]" * depth + "}"

    body = _assert_json_error(_post(world, path, deep), 400)

    assert "nested deeper than 32" in body["detail"]


def test_body__at_the_depth_limit_is_parsed(world):
    event = "[" * 30 + "]" * 30  # inside {"event": ...}, 31 deep
    response = _post(
        world, "/api/topics/deploys/events/", '{"event": {"a": ' + event + "}}"
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00", b"", b"NaN", b'{"title": NaN}', b"[" * 10],
    ids=["malformed", "not-utf8", "empty", "bare-nan", "nan-inside", "unclosed"],
)
def test_body__not_json_is_400(world, body):
    response = _post(world, "/api/notifications/", body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_body__form_encoded_is_415(world):
    response = _post(
        world, "/api/notifications/", "title=x", "application/x-www-form-urlencoded"
    )

    _assert_json_error(response, 415)


HUGE_ID = 10**30  # past any database integer


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/notifications/", {"recipients": [HUGE_ID], "title": "t"}),
        ("post", f"/api/notifications/{HUGE_ID}/read/", None),
        ("delete", f"/api/notifications/{HUGE_ID}/", None),
        ("get", f"/api/broadcasts/{HUGE_ID}/", None),
        ("delete", f"/api/broadcasts/{HUGE_ID}/", None),
    ],
)
def test_ids__past_the_database_range_are_4xx(world, method, path, body):
    """Found by the schema fuzzer: SQLite raised OverflowError, a 500."""
    client = api_client_for(world.users["staff"])

    response = getattr(client, method)(path, body, format="json")

    assert 400 <= response.status_code < 500, response.content[:300]
    assert "detail" in response.json() or "recipients" in response.json()
