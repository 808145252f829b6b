"""HubClient and AsyncHubClient over real HTTP: requests, retries, timeouts, errors."""

import socket

import pytest
from conftest import FAST_RETRIES, Answer

from hub_client import (
    AsyncHubClient,
    HubAuthenticationError,
    HubClient,
    HubNotFoundError,
    HubPermissionError,
    HubRateLimitedError,
    HubServerError,
    HubUnavailableError,
    HubValidationError,
)

FIELD_ERRORS = {"title": ["This field is required."]}


def test_identify__puts_the_fields_with_the_api_key(hub, fake_hub):
    fake_hub.script(Answer(201, {"external_id": "u-1", "email": "a@example.com"}))

    result = hub.identify("u-1", email="a@example.com", topics=["news"])

    assert result == {"external_id": "u-1", "email": "a@example.com"}
    [seen] = fake_hub.requests
    assert (seen.method, seen.path) == ("PUT", "/api/subscribers/u-1/")
    assert seen.headers["authorization"] == "Api-Key test-key"
    assert seen.body == {"email": "a@example.com", "topics": ["news"]}


def test_notify__posts_subscribers_and_title(hub, fake_hub):
    fake_hub.script(Answer(201, {"created": 2}))

    result = hub.notify(["u-1", "u-2"], "Order shipped", body="It left", level="info")

    assert result == {"created": 2}
    [seen] = fake_hub.requests
    assert (seen.method, seen.path) == ("POST", "/api/notifications/")
    assert seen.body == {
        "subscribers": ["u-1", "u-2"],
        "title": "Order shipped",
        "body": "It left",
        "level": "info",
    }


def test_notify__one_external_id_as_a_string(hub, fake_hub):
    hub.notify("u-1", "Hi")

    assert fake_hub.requests[0].body["subscribers"] == ["u-1"]


def test_topic_event__posts_the_event(hub, fake_hub):
    fake_hub.script(Answer(202, None))

    assert hub.topic_event("deploys", {"stage": "done"}) is None
    [seen] = fake_hub.requests
    assert (seen.path, seen.body) == (
        "/api/topics/deploys/events/",
        {"event": {"stage": "done"}},
    )


def test_forget__deletes_the_subscriber(hub, fake_hub):
    fake_hub.script(Answer(204, None))

    assert hub.forget("u-1") is None
    [seen] = fake_hub.requests
    assert (seen.method, seen.path) == ("DELETE", "/api/subscribers/u-1/")


def test_get_subscriber__unknown_raises_not_found(hub, fake_hub):
    fake_hub.script(Answer(404, {"detail": "Not found."}))

    with pytest.raises(HubNotFoundError) as caught:
        hub.get_subscriber("nobody")

    assert caught.value.status == 404
    assert caught.value.detail == "Not found."


@pytest.mark.parametrize("external_id", ["", "..", ".", "a/b", "a b", "x" * 129, 7])
def test_external_id__refused_before_any_request(hub, fake_hub, external_id):
    with pytest.raises(ValueError, match="external id"):
        hub.identify(external_id)
    with pytest.raises(ValueError, match="external id"):
        hub.notify(["ok", external_id], "Hi")

    assert fake_hub.requests == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, HubValidationError),
        (401, HubAuthenticationError),
        (403, HubPermissionError),
        (404, HubNotFoundError),
        (500, HubServerError),
    ],
)
def test_errors__typed_and_carry_the_hubs_body(hub, fake_hub, status, error):
    fake_hub.script(Answer(status, FIELD_ERRORS))

    with pytest.raises(error) as caught:
        hub.notify(["u-1"], "")

    assert caught.value.status == status
    assert caught.value.body == FIELD_ERRORS
    assert "/api/notifications/" in str(caught.value)


def test_broadcast__idempotency_key_same_on_every_retry(hub, fake_hub):
    fake_hub.script(
        Answer(503), Answer(502), Answer(202, {"id": 7, "status": "queued"})
    )

    result = hub.broadcast("news", "Release 2.0", body="Out now")

    assert result == {"id": 7, "status": "queued"}
    keys = [r.headers.get("idempotency-key") for r in fake_hub.requests]
    assert len(keys) == 3
    assert keys[0]
    assert keys == [keys[0]] * 3
    assert fake_hub.requests[0].body == {
        "topic": "news",
        "title": "Release 2.0",
        "body": "Out now",
    }


def test_broadcast__a_new_key_per_call_unless_given(hub, fake_hub):
    hub.broadcast(None, "One")
    hub.broadcast(None, "Two")
    hub.broadcast(None, "Three", idempotency_key="release-2.0")

    keys = [r.headers["idempotency-key"] for r in fake_hub.requests]
    assert keys[0] != keys[1]
    assert keys[2] == "release-2.0"
    assert fake_hub.requests[0].body["topic"] is None


def test_retry__429_waits_for_retry_after(hub, fake_hub):
    fake_hub.script(Answer(429, {"detail": "Slow down."}, {"Retry-After": "1"}))

    assert hub.get_subscriber("u-1") == {}

    first, second = fake_hub.requests
    assert second.at - first.at >= 1.0


def test_retry__429_retried_even_for_notify(hub, fake_hub):
    # The hub throttles before it does anything, so a repeat cannot notify twice.
    fake_hub.script(Answer(429, {"detail": "Slow down."}), Answer(201, {"created": 1}))

    assert hub.notify(["u-1"], "Hi") == {"created": 1}
    assert len(fake_hub.requests) == 2


def test_retry__retry_after_beyond_the_cap_is_raised(hub, fake_hub):
    fake_hub.script(Answer(429, {"detail": "Slow down."}, {"Retry-After": "120"}))

    with pytest.raises(HubRateLimitedError) as caught:
        hub.get_subscriber("u-1")

    assert caught.value.retry_after == 120
    assert len(fake_hub.requests) == 1


def test_retry__503_then_200_for_an_idempotent_request(hub, fake_hub):
    fake_hub.script(Answer(503, {"detail": "Busy."}), Answer(200, {"external_id": "u"}))

    assert hub.identify("u", name="U") == {"external_id": "u"}
    assert [r.method for r in fake_hub.requests] == ["PUT", "PUT"]


def test_retry__notify_not_repeated_after_a_5xx(hub, fake_hub):
    fake_hub.script(Answer(503, {"detail": "Busy."}))

    with pytest.raises(HubServerError) as caught:
        hub.notify(["u-1"], "Hi")

    assert caught.value.body == {"detail": "Busy."}
    assert len(fake_hub.requests) == 1


def test_retry__gives_up_after_max_retries(fake_hub):
    fake_hub.script(*[Answer(500, {"detail": "Boom."})] * 5)

    with (
        HubClient(fake_hub.base_url, "k", max_retries=2, **FAST_RETRIES) as hub,
        pytest.raises(HubServerError),
    ):
        hub.get_subscriber("u-1")

    assert len(fake_hub.requests) == 3


def test_timeout__a_slow_answer_is_retried_for_a_safe_request(fake_hub):
    fake_hub.script(Answer(200, {"slow": True}, delay_secs=5))

    with HubClient(fake_hub.base_url, "k", timeout=0.3, **FAST_RETRIES) as hub:
        assert hub.get_subscriber("u-1") == {}

    assert len(fake_hub.requests) == 2


def test_timeout__notify_raises_unavailable_without_repeating(fake_hub):
    fake_hub.script(Answer(201, {"created": 1}, delay_secs=5))

    with (
        HubClient(fake_hub.base_url, "k", timeout=0.3, **FAST_RETRIES) as hub,
        pytest.raises(HubUnavailableError) as caught,
    ):
        hub.notify(["u-1"], "Hi")

    assert caught.value.status is None
    assert len(fake_hub.requests) == 1


def test_dropped_connection__retried_only_when_safe(hub, fake_hub):
    fake_hub.script(Answer(drop=True), Answer(), Answer(drop=True))

    assert hub.get_subscriber("u-1") == {}
    with pytest.raises(HubUnavailableError):
        hub.notify(["u-1"], "Hi")

    assert [r.method for r in fake_hub.requests] == ["GET", "GET", "POST"]


def test_connection_refused__retried_then_unavailable():
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with (
            HubClient(url, "k", max_retries=1, **FAST_RETRIES) as hub,
            pytest.raises(HubUnavailableError, match="ConnectError"),
        ):
            hub.notify(["u-1"], "Hi")


def test_constructor__refuses_a_base_url_without_scheme():
    with pytest.raises(ValueError, match="base_url"):
        HubClient("hub.example.com", "k")


async def test_async__the_same_calls_and_retries(async_hub, fake_hub):
    fake_hub.script(
        Answer(201, {"external_id": "u-1"}),
        Answer(503),
        Answer(202, {"id": 1, "status": "queued"}),
        Answer(400, FIELD_ERRORS),
    )

    assert await async_hub.identify("u-1", name="U") == {"external_id": "u-1"}
    assert await async_hub.broadcast("news", "Hi") == {"id": 1, "status": "queued"}
    with pytest.raises(HubValidationError) as caught:
        await async_hub.notify(["u-1"], "")

    assert caught.value.body == FIELD_ERRORS
    methods = [(r.method, r.path) for r in fake_hub.requests]
    assert methods == [
        ("PUT", "/api/subscribers/u-1/"),
        ("POST", "/api/broadcasts/"),
        ("POST", "/api/broadcasts/"),
        ("POST", "/api/notifications/"),
    ]
    assert (
        fake_hub.requests[1].headers["idempotency-key"]
        == (fake_hub.requests[2].headers["idempotency-key"])
    )


async def test_async__timeout_retried_for_a_safe_request(fake_hub):
    fake_hub.script(Answer(200, {"slow": True}, delay_secs=5))

    async with AsyncHubClient(
        fake_hub.base_url, "k", timeout=0.3, **FAST_RETRIES
    ) as hub:
        assert await hub.get_subscriber("u-1") == {}

    assert len(fake_hub.requests) == 2
