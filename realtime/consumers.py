"""The base of every hub consumer: who the user is, the groups it is in, frame
limits and error frames, and the loop that feeds it.

A subclass says what a signed-in socket does in :meth:`HubConsumer.opened`
(join groups, read the state, return the first frames, or raise
:class:`Refused`), maps frame types to methods in ``frame_handlers``, and
handles channel-layer events named after their type (``notification.created``
-> ``notification_created``). Handlers raise :class:`realtime.frames.FrameError`
for bad input, which becomes an error frame while the socket stays open.

A signed-in socket counts towards its user's open sockets
(``WS_MAX_SOCKETS_PER_USER``, else closed with 4429), spends its user's frame
budget as well as its own, and runs database calls in its user's turn
(:meth:`HubConsumer.db_call`): realtime/per_user.py.

How messages reach a consumer (its inbox, group events sent by the channel
layer's reader) is realtime/loop.py.

Authentication (docs/PROTOCOL.md): the handshake's credential (session cookie,
``?ticket=``, ``Authorization: Token`` or ``Bearer``, set by realtime.security)
signs the socket in before it is accepted. A handshake with none is accepted
and must send ``{"type": "auth", "token": <connection token>}`` first, within
``WS_AUTH_TIMEOUT_SECS``. A socket signed in by a connection token is closed
with 4401 when the token expires, unless an ``auth`` frame with a newer token
for the same subscriber extends it.

Revocation (docs/SECURITY.md): every signed-in socket is in a group where its
user's access changes are published (:meth:`HubConsumer.revocation_group`); on
``access.changed`` it signs its user in again from its credential and asks the
subclass to re-check the rest (:meth:`HubConsumer.recheck_access`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from hub import metrics
from realtime import frames, groups, per_user, security
from realtime.frames import FrameError, RateWindow
from realtime.loop import (
    CLOSE_TRY_AGAIN_LATER,
    TRY_LATER,
    InboxLoop,
    LayerUnavailable,
)

logger = logging.getLogger(__name__)

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_BIG = 1009


class Refused(Exception):
    """Raised by :meth:`HubConsumer.opened`: the socket is closed with ``code``."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class HubConsumer(InboxLoop, AsyncWebsocketConsumer):
    """A signed-in JSON-frame WebSocket with the hub's limits and error frames."""

    # The base's own per-socket state in slots, not in each socket's __dict__
    # (docs/PERFORMANCE.md: where a socket's memory goes); channels' attributes
    # and a subclass's stay in the __dict__.
    __slots__ = (
        "_accepted",
        "_closed",
        "_closing",
        "_expiry",
        "_token_sub",
        "frame_rate",
        "joined_groups",
        "user",
        "user_sockets",
    )

    # frame type -> name of the async method handling it
    frame_handlers: dict[str, str] = {"ping": "frame_ping", "auth": "frame_auth"}

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:
            # Both loops make the consumer's channel first, before they read
            # the handshake: an error with no channel yet is the layer's,
            # whichever it is (realtime.loop.LayerUnavailable).
            if "channel_name" in vars(self):
                raise
            await self.refuse_without_channel(receive, send, exc)
        finally:
            # Counted closed once its groups and channel are gone too: closing
            # thousands at once keeps the process busy for seconds after the
            # sockets themselves are shut (the bench waits on this count).
            if getattr(self, "_accepted", False):
                metrics.SOCKETS_OPEN.labels(path=self.metrics_path).dec()
                self._accepted = False
            await self._stop_counting()

    # --- opening: who the user is ---------------------------------------------

    async def websocket_connect(self, message):
        self.frame_rate = RateWindow(settings.WS_RATE_LIMIT_PER_MIN)
        self.user = None
        self.user_sockets: per_user.UserSockets | None = None
        self.joined_groups: set[str] = set()
        self._accepted = False
        self._closed = False
        self._token_sub: str | None = None
        self._expiry: asyncio.TimerHandle | None = None
        await super().websocket_connect(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            try:
                first_frames = await self._open(user, self.scope.get("token_claims"))
            except Refused as refused:
                await self.refuse(refused.code, refused.reason)
                return
            await self.accept()
            await self._send_opening(first_frames)
        elif self.scope.get("credential_given"):
            await self.refuse(CLOSE_NOT_AUTHENTICATED, "authentication required")
        else:
            # No credential on the handshake: the first frame must be `auth`.
            await self.accept()
            self._expiry = asyncio.get_running_loop().call_later(
                settings.WS_AUTH_TIMEOUT_SECS, self._close_unauthenticated
            )

    async def opened(self, user) -> list[dict]:
        """A subclass's hook: ``user`` is signed in. Join groups (:meth:`join`),
        read the state, and return the frames the socket starts with; raise
        :class:`Refused` to close it instead."""
        return []

    async def ready(self) -> None:
        """A subclass's hook: the opening frames are sent."""

    async def _open(self, user, claims: dict | None) -> list[dict]:
        self.user = user
        # Counted before opened(): a refused socket costs one Redis round trip.
        self.user_sockets = per_user.user_sockets(user.pk)
        if not await self.user_sockets.lease(self.channel_name):
            raise Refused(
                CLOSE_RATE_LIMITED,
                f"more than {settings.WS_MAX_SOCKETS_PER_USER} open sockets",
            )
        if claims is not None:
            self._token_sub = claims["sub"]
            self._expire_at(claims["exp"])
        try:
            # Before the subclass checks access: a revocation from now on is heard.
            await self.join(self.revocation_group(user))
            return await self.opened(user)
        except Refused:
            await self._stop_counting()
            raise
        except LayerUnavailable as exc:
            # The channel layer cannot subscribe the socket (Redis down or
            # failing over; its own retries are spent). Without this the
            # handshake ended in an HTTP 500; 1013 tells clients to back off
            # and retry, and they resume from their last id once in.
            logger.warning(
                "socket refused, channel layer unavailable: %r", exc.__cause__
            )
            await self._stop_counting()
            raise Refused(CLOSE_TRY_AGAIN_LATER, TRY_LATER) from exc

    async def _stop_counting(self) -> None:
        """This socket no longer counts towards its user's open sockets."""
        if getattr(self, "user_sockets", None) is not None:
            await self.user_sockets.release(self.channel_name)

    async def db_call(self, call, /, *args, **kwargs):
        """Await a database call (``realtime.db``) in this socket's user's turn:
        at most WS_DB_CALLS_PER_USER of a user's calls run or queue at once."""
        return await self.user_sockets.db_call(call, *args, **kwargs)

    async def _send_opening(self, first_frames: list[dict]) -> None:
        for frame in first_frames:
            await self.send_json(frame)
        await self.ready()

    def _expire_at(self, exp: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_later(
            max(0.0, exp - time.time()), self._close_unauthenticated
        )

    def _close_unauthenticated(self) -> None:
        """The auth deadline or the token's expiry passed: close with 4401."""
        self._expiry = None
        if not self._closed:
            metrics.SOCKETS_REFUSED.labels(code=str(CLOSE_NOT_AUTHENTICATED)).inc()
            reason = "token expired" if self.user else "authentication required"
            task = asyncio.ensure_future(self.close(CLOSE_NOT_AUTHENTICATED, reason))
            self._closing = task  # keep a reference until it is done

    async def frame_auth(self, frame: dict) -> None:
        """Sign in with a connection token, or extend the one the socket has."""
        token = frames.require_str(frame, "token", max_chars=8192)
        if self.user is None and self._expiry is not None:
            # The auth frame came in time: the deadline is the client's, not
            # how long its sign-in takes (in a connect storm the token's check
            # waits its turn). Every way on from here signs in or closes.
            self._expiry.cancel()
            self._expiry = None
        try:
            user, claims = await security.connection_token_user(token)
        except security.InvalidCredential as exc:
            if self.user is None:
                await self.close(CLOSE_NOT_AUTHENTICATED, "invalid token")
                return
            raise FrameError(str(exc), "forbidden") from exc
        if self.user is None:
            try:
                first_frames = await self._open(user, claims)
            except Refused as refused:
                await self.close(refused.code, refused.reason)
                return
            await self._send_opening(first_frames)
            return
        if self._token_sub != claims["sub"]:
            raise FrameError(
                "A socket's token can only be replaced by one for the same subscriber.",
                "forbidden",
            )
        self._expire_at(claims["exp"])
        await self.send_json({"type": "auth_ok", "expires_at": int(claims["exp"])})

    # --- groups -----------------------------------------------------------------

    async def join(self, group: str) -> bool:
        """Join a channel-layer group; False if this socket is in it already."""
        if group in self.joined_groups:
            return False
        self.joined_groups.add(group)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:
            raise LayerUnavailable(f"could not join {group}") from exc
        return True

    async def leave(self, group: str) -> bool:
        """Leave a channel-layer group; False if this socket was not in it."""
        if group not in self.joined_groups:
            return False
        self.joined_groups.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)
        return True

    async def websocket_disconnect(self, message):
        if self._expiry is not None:
            self._expiry.cancel()
        for group in list(self.joined_groups):
            await self.leave(group)
        await self._stop_counting()
        # Not channels' websocket_disconnect: it leaves the class's `groups`
        # (the hub's consumers track theirs in joined_groups, left above) and
        # then runs close_old_connections() on channels' one shared thread,
        # which a closing process hopped to once per socket, one socket after
        # another. The hub's database calls close stale connections
        # themselves (realtime.db). What it bought a restart:
        # docs/PERFORMANCE.md.
        await self.disconnect(message["code"])
        raise StopConsumer()

    # --- sending ----------------------------------------------------------------

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self._accepted = True
        self.handle_inline_events()
        metrics.SOCKETS_OPEN.labels(path=self.metrics_path).inc()
        metrics.SOCKETS_ACCEPTED.labels(path=self.metrics_path).inc()

    async def refuse_without_channel(self, receive, send, exc: Exception) -> None:
        # redis-py's errors are the outage itself; anything else gets its trace.
        expected = isinstance(exc, RedisError | OSError)
        logger.warning(
            "socket refused, channel layer unavailable: %r", exc, exc_info=not expected
        )
        metrics.SOCKETS_REFUSED.labels(code=str(CLOSE_TRY_AGAIN_LATER)).inc()
        await super().refuse_without_channel(receive, send, exc)

    @property
    def metrics_path(self) -> str:
        return type(self).__name__

    async def refuse(self, code: int, reason: str = "") -> None:
        """Accept, then close with an application code browsers can read."""
        metrics.SOCKETS_REFUSED.labels(code=str(code)).inc()
        if not self._accepted:
            await super().accept()
        await self.close(code=code, reason=reason)

    async def close(self, code=None, reason=None) -> None:
        # The server sends no frame after its close: the ASGI server would raise,
        # and frames still queued (group events, a flood past 4429) are moot.
        if not self._closed:
            self._closed = True
            self.stop_inline_events()
            await super().close(code=code, reason=reason)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        if not self._closed:
            await super().send(text_data, bytes_data, close)

    async def send_json(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":"), default=str))

    async def send_error(self, code: str, message: str) -> None:
        metrics.ERROR_FRAMES.labels(code=code).inc()
        await self.send_json({"type": "error", "code": code, "message": message})

    async def send_frames(self, event: dict) -> None:
        """Send frames that the publisher already encoded (the fan-out path:
        straight to the server's ``send``, past channels' wrappers)."""
        if self._closed:
            return
        for text in event["frames"]:
            await self.base_send({"type": "websocket.send", "text": text})
        metrics.FRAMES_DELIVERED.inc(len(event["frames"]))

    # --- receiving --------------------------------------------------------------

    async def rate_limited(self, window: RateWindow, what: str = "frames") -> bool:
        """Count one hit on ``window``; True if the frame must be dropped.

        Past the limit the client gets a ``rate_limited`` error frame; after
        WS_RATE_LIMIT_CLOSE_AFTER such strikes in one window the socket is
        closed with 4429.
        """
        strikes = window.hit()
        if not strikes:
            return False
        if strikes > settings.WS_RATE_LIMIT_CLOSE_AFTER:
            await self.close(code=CLOSE_RATE_LIMITED)
        else:
            await self.send_error(
                "rate_limited",
                f"More than {window.limit_per_min} {what} a minute; "
                "slow down or the socket will be closed.",
            )
        return True

    async def receive(self, text_data=None, bytes_data=None):
        if self._closed:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data)
        if size > settings.WS_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        if await self.rate_limited(self.frame_rate):
            return
        if self.user_sockets is not None and await self.rate_limited(
            self.user_sockets.frame_budget, "frames from all your sockets"
        ):
            return
        frame = frames.parse(text_data) if text_data is not None else None
        if self.user is None and (frame is None or frame.get("type") != "auth"):
            # Not signed in yet: the one frame taken is `auth`.
            await self.close(CLOSE_NOT_AUTHENTICATED, "send auth first")
            return
        if frame is None:
            await self.send_error(
                "invalid_json",
                "Frames must be JSON text: an object nested at most "
                f"{frames.WS_MAX_JSON_DEPTH} deep.",
            )
            return
        handler_name = self.frame_handlers.get(self.frame_type(frame))
        if handler_name is None:
            known = ", ".join(sorted(self.frame_handlers))
            await self.send_error(
                "unknown_type", f"Unknown frame type; this socket takes: {known}."
            )
            return
        try:
            await getattr(self, handler_name)(frame)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message)

    def frame_type(self, frame: dict) -> str | None:
        kind = frame.get("type")
        return kind if isinstance(kind, str) else None

    async def frame_ping(self, frame: dict) -> None:
        await self.send_json({"type": "pong"})

    async def layer_reconnected(self, event: dict) -> None:
        """The channel layer was deaf for a while (realtime.layer): a consumer
        whose client must not miss what was published meanwhile fetches it."""

    # --- revocation: access checked again on open sockets (docs/SECURITY.md) ------

    def revocation_group(self, user) -> str:
        """Where ``access.changed`` for this socket's user is published."""
        return groups.user_access(user.pk)

    async def recheck_access(self, user) -> None:
        """A subclass's hook: ``user`` (as the database has it now) is still
        signed in; leave what it may no longer see, or raise :class:`Refused`
        to close the socket."""

    async def access_changed(self, event: dict) -> None:
        """A revocation may concern this socket: its user, its sign-in (a
        session that ended, an API token deleted), or a topic or room it is in."""
        if self.user is None or self._closed:
            return
        credential = event.get("credential")
        if credential is not None and credential == security.scope_fingerprint(
            self.scope
        ):
            await self._revoke(CLOSE_NOT_AUTHENTICATED, "signed out")
            return
        user = await security.user_still_signed_in(self.scope, self.user.pk)
        if user is None:
            await self._revoke(CLOSE_NOT_AUTHENTICATED, "access revoked")
            return
        self.user = user
        try:
            await self.recheck_access(user)
        except Refused as refused:
            await self._revoke(refused.code, refused.reason)

    async def _revoke(self, code: int, reason: str) -> None:
        metrics.SOCKETS_REFUSED.labels(code=str(code)).inc()
        await self.close(code, reason)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any WebSocket path no app routes: refused with 4404 and a reason."""

    async def connect(self) -> None:
        metrics.SOCKETS_REFUSED.labels(code=str(CLOSE_NOT_FOUND)).inc()
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND, reason="no such WebSocket endpoint")
