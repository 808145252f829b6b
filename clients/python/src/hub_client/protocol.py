"""What both clients share: the calls, the retry policy, answer handling; no I/O.

Each client method builds a ``Call``; ``exchange()`` is a generator that yields the
``httpx.Request`` to send (and is sent back the response or the transport error) or a
``Sleep`` before the next attempt, and returns the parsed result. ``HubClient`` drives
it with blocking I/O, ``AsyncHubClient`` with ``await``: one implementation of the
retry rules, two thin drivers.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from .errors import HubError, HubRateLimitedError, HubUnavailableError, error_class

# The hub's rule for external ids (CONTRACT section 6). "." and ".." are refused here
# too: a URL path cannot carry them as a segment.
EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
ERROR_DETAIL_MAX_CHARS = 300
# Answers that say "try again later"; 429 is handled apart for its Retry-After.
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Call:
    """One hub operation: the request to make, or a result known without one."""

    method: str = "GET"
    path: str = ""
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Safe to send twice: idempotent, or deduplicated by an Idempotency-Key.
    retry_safe: bool = False
    parse: Callable[[httpx.Response], Any] = lambda r: json_or_none(r)
    local_result: Any = None
    is_local: bool = False

    @classmethod
    def local(cls, result: Any) -> Call:
        return cls(local_result=result, is_local=True)


@dataclass(frozen=True)
class Sleep:
    secs: float


@dataclass
class RetryPolicy:
    """When and how long to wait before trying a request again.

    Retried: 429 (after ``Retry-After`` when the hub sends one), 5xx and transport
    errors, up to ``max_retries`` times, with exponential backoff and full jitter
    (``uniform(0, min(backoff_max_secs, backoff_base_secs * 2**attempt))``).
    A request that is not ``retry_safe`` is retried only when it certainly was not
    processed: the connection was never made, or the hub answered 429 (it throttles
    before doing anything). A ``Retry-After`` longer than ``backoff_max_secs`` is
    not waited for: the error is raised with ``retry_after`` set.
    """

    max_retries: int = 3
    backoff_base_secs: float = 0.5
    backoff_max_secs: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        cap = min(self.backoff_max_secs, self.backoff_base_secs * 2**attempt)
        return self.rng.uniform(0, cap)

    def delay(
        self,
        attempt: int,
        call: Call,
        answer: httpx.Response | httpx.TransportError,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None``: stop here."""
        if attempt >= self.max_retries:
            return None
        if isinstance(answer, httpx.TransportError):
            never_sent = isinstance(answer, httpx.ConnectError | httpx.ConnectTimeout)
            return self.backoff(attempt) if call.retry_safe or never_sent else None
        if answer.status_code == 429:
            wait = retry_after_secs(answer)
            if wait is None:
                return self.backoff(attempt)
            return wait if wait <= self.backoff_max_secs else None
        if answer.status_code in RETRYABLE_STATUSES and call.retry_safe:
            return self.backoff(attempt)
        return None


def exchange(
    call: Call, request: httpx.Request, policy: RetryPolicy
) -> Generator[httpx.Request | Sleep, httpx.Response | httpx.TransportError, Any]:
    """Send ``request`` until it succeeds or the policy gives up; return the result.

    The same request object (so the same Idempotency-Key) goes out on every attempt.
    """
    attempt = 0
    while True:
        answer = yield request
        wait = policy.delay(attempt, call, answer)
        if wait is None:
            return handle(call, request, answer)
        yield Sleep(wait)
        attempt += 1


def handle(
    call: Call, request: httpx.Request, answer: httpx.Response | httpx.TransportError
) -> Any:
    """The parsed result of a successful answer; raise the typed error otherwise."""
    where = {"method": request.method, "url": str(request.url)}
    if isinstance(answer, httpx.TransportError):
        raise HubUnavailableError(
            f"no answer from the hub ({type(answer).__name__}: {answer})", **where
        ) from answer
    if answer.is_success:
        return call.parse(answer)
    body = json_or_none(answer)
    detail = _detail(body, answer)
    cls = error_class(answer.status_code)
    if cls is HubRateLimitedError:
        raise HubRateLimitedError(
            detail,
            retry_after=retry_after_secs(answer),
            status=429,
            body=body,
            **where,
        )
    raise cls(detail, status=answer.status_code, body=body, **where)


def _detail(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    if body is not None:
        return json.dumps(body)[:ERROR_DETAIL_MAX_CHARS]
    return response.text[:ERROR_DETAIL_MAX_CHARS] or response.reason_phrase


def json_or_none(response: httpx.Response) -> Any:
    """The answer's JSON body, or ``None`` when it has none (204) or is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def retry_after_secs(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (from seconds or an HTTP date), if present."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def encode_json(payload: Any) -> bytes:
    """JSON for a request body; datetimes as ISO 8601, UUIDs and Decimals as strings."""
    return json.dumps(payload, default=_json_default).encode()


def external_id_segment(external_id: str) -> str:
    """``external_id`` as a URL path segment; ``ValueError`` if the hub refuses it."""
    if (
        not isinstance(external_id, str)
        or not EXTERNAL_ID_RE.fullmatch(external_id)
        or external_id in (".", "..")
    ):
        raise ValueError(
            f"external id {external_id!r}: use 1-128 characters of "
            "A-Z a-z 0-9 _ . : @ - (not '.' or '..')"
        )
    return quote(external_id, safe=":@")  # both are allowed in a path segment


def slug_segment(slug: str) -> str:
    if not isinstance(slug, str) or not slug or slug in (".", ".."):
        raise ValueError(f"topic slug {slug!r}: a non-empty string")
    return quote(slug, safe="")


# --- the hub's calls ----------------------------------------------------------


def identify(external_id: str, fields: dict[str, Any]) -> Call:
    return Call(
        "PUT",
        f"/api/subscribers/{external_id_segment(external_id)}/",
        fields,
        retry_safe=True,
    )


def get_subscriber(external_id: str) -> Call:
    return Call(
        "GET", f"/api/subscribers/{external_id_segment(external_id)}/", retry_safe=True
    )


def forget(external_id: str) -> Call:
    # The hub answers 204 for an unknown id too, so a repeat is harmless.
    return Call(
        "DELETE",
        f"/api/subscribers/{external_id_segment(external_id)}/",
        retry_safe=True,
    )


def notify(subscribers: str | list[str], title: str, fields: dict[str, Any]) -> Call:
    ids = [subscribers] if isinstance(subscribers, str) else list(subscribers)
    for external_id in ids:
        external_id_segment(external_id)
    # Not retry-safe: the hub has no idempotency key for it, so a repeat after a
    # lost answer would notify twice.
    return Call(
        "POST", "/api/notifications/", {**fields, "subscribers": ids, "title": title}
    )


def broadcast(
    topic: str | None, title: str, idempotency_key: str | None, fields: dict[str, Any]
) -> Call:
    key = idempotency_key or uuid.uuid4().hex
    return Call(
        "POST",
        "/api/broadcasts/",
        {**fields, "topic": topic, "title": title},
        headers={"Idempotency-Key": key},
        retry_safe=True,
    )


def topic_event(topic: str, event: dict[str, Any]) -> Call:
    return Call("POST", f"/api/topics/{slug_segment(topic)}/events/", {"event": event})


def _token(response: httpx.Response) -> str:
    body = json_or_none(response)
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise HubError(
            "the hub's token answer has no token", status=response.status_code
        )
    return body["token"]


def remote_token(external_id: str, ttl_secs: int) -> Call:
    # Minting a token changes nothing on the hub, so a repeat is harmless.
    return Call(
        "POST",
        f"/api/subscribers/{external_id_segment(external_id)}/token/",
        {"ttl_secs": ttl_secs},
        retry_safe=True,
        parse=_token,
    )
