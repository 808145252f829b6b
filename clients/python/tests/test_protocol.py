"""The retry policy's arithmetic: exponential backoff, full jitter, Retry-After."""

import email.utils
import random
import time

import httpx
import pytest

from hub_client import protocol
from hub_client.protocol import Call, RetryPolicy


class Highest(random.Random):
    """Jitter that always picks the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_backoff__doubles_up_to_the_cap():
    policy = RetryPolicy(backoff_base_secs=0.5, backoff_max_secs=3.0, rng=Highest())

    assert [policy.backoff(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff__full_jitter_stays_within_the_range():
    policy = RetryPolicy(backoff_base_secs=1.0, backoff_max_secs=8.0)

    delays = [policy.backoff(3) for _ in range(200)]

    assert all(0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100  # jittered, so retries of many clients spread out


@pytest.mark.parametrize(
    ("call", "status", "retried"),
    [
        (Call("GET", retry_safe=True), 503, True),
        (Call("GET", retry_safe=True), 500, True),
        (Call("POST"), 503, False),
        (Call("POST"), 429, True),
        (Call("GET", retry_safe=True), 400, False),
        (Call("GET", retry_safe=True), 404, False),
        (Call("GET", retry_safe=True), 501, False),
    ],
)
def test_delay__which_answers_are_retried(call, status, retried):
    policy = RetryPolicy()

    assert (policy.delay(0, call, answer(status)) is not None) is retried


def test_delay__transport_errors_retried_for_unsent_or_safe_requests():
    policy = RetryPolicy()
    unsent = httpx.ConnectError("refused")
    lost = httpx.ReadTimeout("slow")

    assert policy.delay(0, Call("POST"), unsent) is not None
    assert policy.delay(0, Call("POST"), lost) is None
    assert policy.delay(0, Call("GET", retry_safe=True), lost) is not None


def test_delay__none_after_max_retries():
    policy = RetryPolicy(max_retries=2)
    call = Call("GET", retry_safe=True)

    assert policy.delay(1, call, answer(503)) is not None
    assert policy.delay(2, call, answer(503)) is None


def test_retry_after__seconds_and_http_date():
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)

    assert protocol.retry_after_secs(answer(429, **{"Retry-After": "3"})) == 3.0
    assert 8 < protocol.retry_after_secs(answer(429, **{"Retry-After": in_ten})) <= 10
    assert protocol.retry_after_secs(answer(429, **{"Retry-After": "soon"})) is None
    assert protocol.retry_after_secs(answer(429)) is None


def test_encode_json__datetimes_and_uuids():
    import datetime as dt
    import uuid

    when = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    key = uuid.UUID(int=1)

    assert protocol.encode_json({"send_at": when, "key": key}) == (
        b'{"send_at": "2026-01-02T03:04:00+00:00", '
        b'"key": "00000000-0000-0000-0000-000000000001"}'
    )
