"""``HubClient`` and ``AsyncHubClient``: the hub's API for a product's back end."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator
from typing import Any

import httpx

from . import protocol
from .protocol import Call, RetryPolicy, Sleep
from .tokens import DEFAULT_TOKEN_TTL_SECS, mint_token

__version__ = "0.1.0"
DEFAULT_TIMEOUT_SECS = 10.0


class _HubAPI:
    """The methods of both clients; each builds a ``Call`` and hands it to ``_run``.

    ``_run`` returns the result (``HubClient``) or an awaitable of it
    (``AsyncHubClient``), so every method here is sync or async with its client.
    """

    _http_class: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        jwt_secret: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_SECS,
        max_retries: int = 3,
        backoff_base_secs: float = 0.5,
        backoff_max_secs: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        """``timeout`` is per attempt, in seconds (or an ``httpx.Timeout``);
        see ``RetryPolicy`` for ``max_retries`` and the backoff arguments."""
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL: {base_url!r}")
        if not api_key:
            raise ValueError(
                "api_key is required (python manage.py hub_api_key create)"
            )
        self.base_url = base_url.rstrip("/")
        self.jwt_secret = jwt_secret
        self.retry = RetryPolicy(
            max_retries=max_retries,
            backoff_base_secs=backoff_base_secs,
            backoff_max_secs=backoff_max_secs,
            rng=rng or random.Random(),  # noqa: S311 (jitter, not a secret)
        )
        self._http = self._http_class(
            base_url=self.base_url,
            timeout=timeout,
            headers={
                "Authorization": f"Api-Key {api_key}",
                "Accept": "application/json",
                "User-Agent": f"hub-client/{__version__}",
            },
        )

    def _steps(self, call: Call) -> Generator:
        headers = dict(call.headers)
        content = None
        if call.payload is not None:
            content = protocol.encode_json(call.payload)
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            call.method, call.path, content=content, headers=headers
        )
        return protocol.exchange(call, request, self.retry)

    def _run(self, call: Call) -> Any:
        raise NotImplementedError

    def identify(self, external_id: str, **fields: Any) -> Any:
        """Create or update a subscriber (``email``, ``name``, ``timezone``, ``locale``,
        ``topics``); returns the hub's subscriber object."""
        return self._run(protocol.identify(external_id, fields))

    def get_subscriber(self, external_id: str) -> Any:
        """The subscriber object; ``HubNotFoundError`` if the hub does not know them."""
        return self._run(protocol.get_subscriber(external_id))

    def forget(self, external_id: str) -> Any:
        """Erase a subscriber and everything the hub holds on them (GDPR erasure);
        an id the hub does not know is already forgotten. Returns ``None``."""
        return self._run(protocol.forget(external_id))

    def notify(self, subscribers: str | list[str], title: str, **fields: Any) -> Any:
        """Notify subscribers by external id (unknown ones are created); ``fields``
        are ``body``, ``level``, ``category``, ``data``, ``url``. Returns
        ``{"created": n}``. Not retried after the request was sent (no idempotency
        key), so a 5xx or timeout is raised rather than risking a double notice."""
        return self._run(protocol.notify(subscribers, title, fields))

    def broadcast(
        self,
        topic: str | None,
        title: str,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Any:
        """Broadcast to a topic's followers (``None``: everyone); returns
        ``{"id", "status"}``. Every broadcast carries an ``Idempotency-Key``
        (generated when not given, the same on every retry); pass your own to make
        a repeat of the same call, in another process or later, a no-op."""
        return self._run(protocol.broadcast(topic, title, idempotency_key, fields))

    def topic_event(self, topic: str, event: dict[str, Any]) -> Any:
        """Push an ephemeral event (not stored) to the topic's open sockets; returns
        the hub's answer (202)."""
        return self._run(protocol.topic_event(topic, event))

    def connection_token(
        self,
        external_id: str,
        ttl_secs: int = DEFAULT_TOKEN_TTL_SECS,
        **profile: str | None,
    ) -> Any:
        """A connection token (JWT string) for one subscriber's browser.

        Signed here with HS256 when the client has ``jwt_secret`` (no request; the
        optional ``name``, ``email``, ``timezone``, ``locale`` go into the token);
        otherwise asked of the hub (``POST /api/subscribers/{id}/token/``, key
        scope ``tokens``), which takes no profile: use ``identify()`` for that.
        """
        protocol.external_id_segment(external_id)
        if self.jwt_secret:
            token = mint_token(
                self.jwt_secret, external_id, ttl_secs=ttl_secs, **profile
            )
            return self._run(Call.local(token))
        if any(v is not None for v in profile.values()):
            raise ValueError(
                "profile claims need jwt_secret; without it, call identify() first"
            )
        return self._run(protocol.remote_token(external_id, ttl_secs))


class HubClient(_HubAPI):
    """The hub's API over blocking HTTP. Make one per process and share it (it
    keeps connections open).

    ``with HubClient(...) as hub:`` closes its connections at the end; so does
    ``close()``.
    """

    _http_class = httpx.Client

    def _run(self, call: Call) -> Any:
        if call.is_local:
            return call.local_result
        steps = self._steps(call)
        answer = None
        try:
            while True:
                step = steps.send(answer)
                if isinstance(step, Sleep):
                    time.sleep(step.secs)
                    answer = None
                    continue
                try:
                    answer = self._http.send(step)
                except httpx.TransportError as exc:
                    answer = exc
        except StopIteration as done:
            return done.value

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncHubClient(_HubAPI):
    """The hub's API for asyncio code: the same methods as ``HubClient``, awaited.

    ``async with AsyncHubClient(...) as hub:`` closes its connections at the end;
    so does ``await aclose()``.
    """

    _http_class = httpx.AsyncClient

    async def _run(self, call: Call) -> Any:
        if call.is_local:
            return call.local_result
        steps = self._steps(call)
        answer = None
        try:
            while True:
                step = steps.send(answer)
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.secs)
                    answer = None
                    continue
                try:
                    answer = await self._http.send(step)
                except httpx.TransportError as exc:
                    answer = exc
        except StopIteration as done:
            return done.value

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncHubClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
