"""How channel-layer messages and client frames reach a hub consumer.

channels' consumer loop waits on its two sources (the client, the channel
layer) with ``asyncio.wait`` and a new Task for every message; in a fan-out to
thousands of sockets that bookkeeping cost more than the sends
(docs/PERFORMANCE.md). :class:`InboxLoop` has the hub's layer put a channel's
messages straight into an :class:`realtime.layer.Inbox`, a reader task adds the
client's frames, and the consumer's task handles the inbox in arrival order,
one :class:`realtime.layer.Item` at a time, as channels does. While it waits on
an empty inbox, the layer's reader runs the handlers of ``inline_events``
itself, so a fan-out wakes no task per socket. ``WS_INLINE_FANOUT=false``
runs channels' stock loop instead, with the same handlers.
"""

from __future__ import annotations

import asyncio
import functools

from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from realtime.eager import start_eagerly
from realtime.layer import HubPubSubChannelLayer, Inbox, Item, Kind

# The close code and reason of a socket refused because the channel layer's
# Redis is unavailable (RFC 6455 1013, "try again later").
CLOSE_TRY_AGAIN_LATER = 1013
TRY_LATER = "try again later"


class LayerUnavailable(Exception):
    """The channel layer could not subscribe a channel or group: its Redis is
    down, or the connection was being torn down under the SUBSCRIBE. Besides
    redis-py's errors the soak saw uvloop's RuntimeError (a write on a closed
    transport) and AttributeError (the connection's writer already gone)."""


async def _read_client(inbox: Inbox, receive) -> None:
    """Put each client message into ``inbox`` and wait until the consumer has
    handled it before reading the next (so uvicorn's flow control still holds
    a fast client back)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message = await receive()
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            inbox.put(Item(Kind.FAILED, exc))
            return
        handled = loop.create_future()
        inbox.put(Item(Kind.CLIENT, message, handled))
        await handled


async def _read_layer(inbox: Inbox, channel_receive) -> None:
    """Put each message another channel layer delivers into ``inbox``."""
    while True:
        try:
            inbox.put(Item(Kind.MESSAGE, await channel_receive()))
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            inbox.put(Item(Kind.FAILED, exc))
            return


class InboxLoop:
    """Mixin for a channels consumer: the hub's loop in place of channels'."""

    # Slots, not entries in each socket's __dict__ (docs/PERFORMANCE.md).
    __slots__ = ("_inbox", "_loop_layer")

    # Channel-layer event types whose handler only checks this consumer's state
    # and sends frames the publisher encoded (``send_frames``): while the socket
    # is accepted and the consumer idle, the layer's reader runs the handler
    # itself (``handle_now``) rather than waking this consumer's task for it.
    # No database, no await but the send: the handler runs in the reader's task.
    inline_events: frozenset[str] = frozenset()

    def __call__(self, scope, receive, send):
        """channels' consumer loop, or the hub's (``WS_INLINE_FANOUT``): the
        coroutine to await, returned rather than awaited here, so a socket's
        task does not keep this frame for its lifetime.

        channels waits on its two sources (the client, the channel layer) with
        ``asyncio.wait`` and a new Task for every message. The hub's loop has
        the layer put this channel's messages straight into an :class:`Inbox`,
        a reader task adds the client's frames, and this task handles the inbox
        in arrival order, one item at a time, as channels does. While it waits
        on an empty inbox, the layer's reader handles ``inline_events`` itself.
        Both loops run the same handlers; the consumer tests run on both.
        """
        if settings.WS_INLINE_FANOUT:
            return self._run_inbox_loop(scope, receive, send)
        return super().__call__(scope, receive, send)

    async def refuse_without_channel(self, receive, send, exc: Exception) -> None:
        """The channel layer could not make this socket's channel (its Redis is
        down or failing over, past its retries). Answer the handshake with an
        accept and a close with 1013, try again later, which clients retry
        with backoff; without this it failed with an HTTP 500."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send(
            {
                "type": "websocket.close",
                "code": CLOSE_TRY_AGAIN_LATER,
                "reason": TRY_LATER,
            }
        )

    async def _run_inbox_loop(self, scope, receive, send) -> None:
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send
        loop_layer = None
        if isinstance(self.channel_layer, HubPubSubChannelLayer):
            loop_layer = self._loop_layer = self.channel_layer.loop_layer()
            self._inbox = loop_layer.inbox(self.channel_name)
            readers = [asyncio.create_task(_read_client(self._inbox, receive))]
        else:
            self._inbox = Inbox()
            self.channel_receive = functools.partial(
                self.channel_layer.receive, self.channel_name
            )
            readers = [
                asyncio.create_task(_read_client(self._inbox, receive)),
                asyncio.create_task(_read_layer(self._inbox, self.channel_receive)),
            ]
        try:
            while True:
                await self._handle(await self._inbox.get())
        except StopConsumer:
            pass
        finally:
            self._inbox.handle_now = None
            for reader in readers:
                reader.cancel()
            # The in-memory layer's reader forgets the channel when cancelled.
            await asyncio.gather(*readers, return_exceptions=True)
            if loop_layer is not None:
                await loop_layer.discard_channel(self.channel_name)

    async def _handle(self, item: Item) -> None:
        match item.kind:
            case Kind.RAW:
                await self.dispatch(self._loop_layer.decode(item.payload))
            case Kind.MESSAGE:
                await self.dispatch(item.payload)
            case Kind.CLIENT:
                try:
                    await self.dispatch(item.payload)
                finally:
                    if not item.done.done():
                        item.done.set_result(None)
            case Kind.PENDING:
                await item.payload
            case Kind.FAILED:
                raise item.payload

    async def dispatch(self, message):
        # channels runs close_old_connections() in a worker thread before every
        # message; the hub's database work goes through database_sync_to_async,
        # which does that itself, so the per-message thread hop is skipped.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def handle_now(self, raw: bytes) -> Item | None:
        """Handle a layer message in the layer's reader, the consumer being idle
        (realtime.layer.Inbox): ``None`` if done, else the Item this consumer's
        task must still handle, in the inbox's order.

        A handler that would wait (the server's ``send`` when the client reads
        slowly) is handed to this consumer's task as it stands, and so is an
        error it raises (a send to a closed socket): the task raises it, as if
        it had run the handler itself.
        """
        try:
            message = self._loop_layer.decode(raw)
            name = self._inline_handler_names().get(message.get("type"))
            if name is None:
                return Item(Kind.MESSAGE, message)
            rest = start_eagerly(getattr(self, name)(message))
            return None if rest is None else Item(Kind.PENDING, rest)
        except Exception as exc:  # noqa: BLE001 (raised again by the consumer)
            return Item(Kind.FAILED, exc)

    def handle_inline_events(self) -> None:
        """From now on, let the layer's reader run ``inline_events`` (on the
        hub's layer, in the hub's loop; the socket must be accepted)."""
        inbox = getattr(self, "_inbox", None)
        if inbox is None or not self.inline_events or not hasattr(self, "_loop_layer"):
            return
        inbox.handle_now = self.handle_now

    @classmethod
    def _inline_handler_names(cls) -> dict[str, str]:
        """Event type -> handler method name, made once per class (not per
        socket: thousands of idle sockets would each hold the same dict)."""
        names = cls.__dict__.get("_inline_names")
        if names is None:
            names = {kind: kind.replace(".", "_") for kind in cls.inline_events}
            cls._inline_names = names
        return names

    def stop_inline_events(self) -> None:
        """The socket is closing: its task handles whatever comes from now on."""
        inbox = getattr(self, "_inbox", None)
        if inbox is not None:
            inbox.handle_now = None
