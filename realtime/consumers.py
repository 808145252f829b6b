"""The base of every hub consumer: frame limits, JSON parsing, error frames.

A subclass maps frame types to methods in ``frame_handlers``; a handler gets the
parsed frame (a dict) and raises :class:`FrameError` for bad input, which becomes
``{"type": "error", "code", "message"}`` while the socket stays open.
"""

import asyncio
import functools
import json
import logging
import time

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from hub import metrics
from realtime.layer import HubPubSubChannelLayer, Inbox

logger = logging.getLogger(__name__)

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_BIG = 1009

# Deepest JSON nesting a frame may have; deeper frames get `invalid_json`.
WS_MAX_JSON_DEPTH = 32
_RATE_WINDOW_SECS = 60.0


class FrameError(Exception):
    """Bad input on a socket: becomes an error frame; the socket stays open."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Forbidden(FrameError):
    code = "forbidden"


class NotFound(FrameError):
    code = "not_found"


class RateWindow:
    """Counts hits in fixed one-minute windows; hits past the limit are strikes.

    One per limit and socket: every frame counts against the frame limit, and a
    consumer may keep tighter ones for costly frames (chat messages).
    """

    def __init__(self, limit_per_min: int) -> None:
        self.limit_per_min = limit_per_min
        self._start = time.monotonic()
        self._count = 0
        self._strikes = 0

    def hit(self) -> int:
        """Count one hit: 0 if within the limit, else this window's strike number."""
        now = time.monotonic()
        if now - self._start >= _RATE_WINDOW_SECS:
            self._start, self._count, self._strikes = now, 0, 0
        self._count += 1
        if self._count <= self.limit_per_min:
            return 0
        self._strikes += 1
        return self._strikes


def _too_deep(text: str, limit: int) -> bool:
    """True if brackets nest deeper than ``limit`` (strings are skipped)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def require_int(frame: dict, field: str, *, minimum: int = 0) -> int:
    """The integer ``frame[field]``, or a FrameError naming the field."""
    value = frame.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError(f"'{field}' must be an integer.")
    if value < minimum:
        raise FrameError(f"'{field}' must be at least {minimum}.")
    return value


def require_str(frame: dict, field: str, *, max_chars: int) -> str:
    """The string ``frame[field]``, non-empty and at most ``max_chars`` long."""
    value = frame.get(field)
    if not isinstance(value, str) or not value:
        raise FrameError(f"'{field}' must be a non-empty string.")
    if len(value) > max_chars:
        raise FrameError(f"'{field}' must be at most {max_chars} characters.")
    return value


async def _read_client(inbox: Inbox, receive) -> None:
    """Put each client message into ``inbox`` as ``(message, handled)`` and wait
    until the consumer has handled it before reading the next."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message = await receive()
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            inbox.put_nowait(exc)
            return
        handled = loop.create_future()
        inbox.put_nowait((message, handled))
        await handled


async def _read_layer(inbox: Inbox, channel_receive) -> None:
    """Put each message another channel layer delivers into ``inbox``."""
    while True:
        try:
            inbox.put_nowait(await channel_receive())
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            inbox.put_nowait(exc)
            return


class _Unfinished:
    """A handler the layer's reader started (``HubConsumer.handle_now``) that has
    to wait: the server stopped writing to a client that reads slowly. The
    consumer's own task awaits the rest, so the reader goes on to the group's
    other sockets meanwhile."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro, waiting_on) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self):
        # ``yield from`` for a coroutine already started elsewhere: hand what it
        # waits on to this task, and send or throw back what the task got.
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 (a cancel, thrown in)
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class HubConsumer(AsyncWebsocketConsumer):
    """A JSON-frame WebSocket consumer with the hub's limits and error frames."""

    # frame type -> name of the async method handling it
    frame_handlers: dict[str, str] = {"ping": "frame_ping"}
    # Channel-layer event types whose handler only checks this consumer's state
    # and sends frames the publisher encoded (``send_frames``): while the socket
    # is accepted and the consumer idle, the layer's reader runs the handler
    # itself (``handle_now``) rather than waking this consumer's task for it.
    # A fan-out to thousands of sockets then costs no task wake-up per socket.
    # No database, no await but the send: the handler runs in the reader's task.
    inline_events: frozenset[str] = frozenset()

    async def __call__(self, scope, receive, send):
        """channels' ``AsyncConsumer.__call__`` with one inbox and no per-message Task.

        channels waits on its two sources (the client, the channel layer) with
        ``asyncio.wait`` and a new Task for every message; in a fan-out to
        thousands of sockets that bookkeeping cost more than the sends. Here the
        hub's layer puts this channel's messages straight into an inbox
        (realtime.layer), a reader task adds the client's frames, and this
        task handles the inbox in arrival order, one message at a time, as
        channels does. The client's reader waits for each frame to be handled
        before reading the next, so uvicorn's flow control (it stops reading the
        socket until the app takes the frame) still holds a fast client back.
        Another layer (the in-memory one in unit tests) gets a reader too.

        While this task waits on an empty inbox, the layer's reader handles the
        ``inline_events`` itself (``handle_now``), and queues here only what
        it could not finish: a fan-out then wakes no task per socket.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(
            self.channel_layer.receive, self.channel_name
        )
        self.base_send = send
        if isinstance(self.channel_layer, HubPubSubChannelLayer):
            loop_layer = self.channel_layer.loop_layer()
            inbox, decode = loop_layer.inbox(self.channel_name), loop_layer.decode
            self._inbox, self._decode = inbox, decode
            readers = [asyncio.create_task(_read_client(inbox, receive))]
        else:
            inbox, decode, loop_layer = Inbox(), None, None
            readers = [
                asyncio.create_task(_read_client(inbox, receive)),
                asyncio.create_task(_read_layer(inbox, self.channel_receive)),
            ]
        try:
            while True:
                item = await inbox.get()
                if type(item) is bytes:  # from the hub's layer
                    await self.dispatch(decode(item))
                elif type(item) is dict:  # from another layer's reader
                    await self.dispatch(item)
                elif type(item) is tuple:  # a client frame: (message, handled)
                    message, handled = item
                    try:
                        await self.dispatch(message)
                    finally:
                        if not handled.done():
                            handled.set_result(None)
                elif type(item) is _Unfinished:  # started by handle_now
                    await item
                else:  # a reader's exception
                    raise item
        except StopConsumer:
            pass
        finally:
            inbox.handle_now = None
            for reader in readers:
                reader.cancel()
            # The in-memory layer's reader forgets the channel when cancelled.
            await asyncio.gather(*readers, return_exceptions=True)
            if loop_layer is not None:
                await loop_layer.discard_channel(self.channel_name)
            # Counted closed once its groups and channel are gone too: closing
            # thousands at once keeps the process busy for seconds after the
            # sockets themselves are shut (the bench waits on this count).
            if getattr(self, "_accepted", False):
                metrics.SOCKETS_OPEN.labels(path=self.metrics_path).dec()
                self._accepted = False

    async def dispatch(self, message):
        # channels runs close_old_connections() in a worker thread before every
        # message; the hub's database work goes through database_sync_to_async,
        # which does that itself, so the per-message thread hop is skipped.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def handle_now(self, raw: bytes):
        """Handle a layer message in the layer's reader, the consumer being idle
        (realtime.layer.Inbox): ``None`` if done, else what this consumer's
        task must still handle, in the inbox's order.

        A handler that would wait (the server's ``send`` when the client reads
        slowly) is handed to this consumer's task as it stands, and so is an
        error it raises (a send to a closed socket): the task raises it, as if
        it had run the handler itself.
        """
        try:
            message = self._decode(raw)
            handler = self._inline_handlers.get(message.get("type"))
            if handler is None:
                return message  # the task dispatches it
            coro = handler(message)
            try:
                waiting_on = coro.send(None)
            except StopIteration:
                return None
            return _Unfinished(coro, waiting_on)
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            return exc

    async def websocket_connect(self, message):
        self.frame_rate = RateWindow(settings.WS_RATE_LIMIT_PER_MIN)
        self._accepted = False
        self._closed = False
        await super().websocket_connect(message)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self._accepted = True
        inbox = getattr(self, "_inbox", None)  # only on the hub's layer
        if inbox is not None and self.inline_events:
            self._inline_handlers = {
                kind: getattr(self, kind.replace(".", "_"))
                for kind in self.inline_events
            }
            inbox.handle_now = self.handle_now
        metrics.SOCKETS_OPEN.labels(path=self.metrics_path).inc()
        metrics.SOCKETS_ACCEPTED.labels(path=self.metrics_path).inc()

    @property
    def metrics_path(self) -> str:
        return type(self).__name__

    async def refuse(self, code: int, reason: str = "") -> None:
        """Accept, then close with an application code browsers can read."""
        metrics.SOCKETS_REFUSED.labels(code=str(code)).inc()
        await super().accept()
        await self.close(code=code, reason=reason)

    async def close(self, code=None, reason=None) -> None:
        # The server sends no frame after its close: the ASGI server would raise,
        # and frames still queued (group events, a flood past 4429) are moot.
        if not self._closed:
            self._closed = True
            inbox = getattr(self, "_inbox", None)
            if inbox is not None:
                inbox.handle_now = None
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
        if text_data is None:
            await self.send_error("invalid_json", "Frames must be JSON text.")
            return
        frame = self._parse(text_data)
        if frame is None:
            await self.send_error(
                "invalid_json",
                "Frames must be a JSON object nested at most "
                f"{WS_MAX_JSON_DEPTH} deep.",
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

    @staticmethod
    def _parse(text: str) -> dict | None:
        if _too_deep(text, WS_MAX_JSON_DEPTH):
            return None
        try:
            frame = json.loads(text)
        except ValueError:
            return None
        return frame if isinstance(frame, dict) else None

    async def frame_ping(self, frame: dict) -> None:
        await self.send_json({"type": "pong"})


class UnknownPathConsumer(HubConsumer):
    """Any WebSocket path no app routes: refused with 4404 and a reason."""

    async def connect(self) -> None:
        await self.refuse(CLOSE_NOT_FOUND, "no such WebSocket endpoint")
