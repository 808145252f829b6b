"""The channel layer the hub runs on: channels_redis' pub/sub layer, with inboxes.

channels_redis gives each consumer's channel an ``asyncio.Queue`` that the
layer's Redis reader fills, and a consumer takes one message by awaiting
``receive()``, which finds this loop's layer and waits on that queue. A
consumer that also waits on its client (channels' ``await_many_dispatch``) adds
a Task and an ``asyncio.wait`` per message. In a fan-out to thousands of
sockets those hops cost more than the sends themselves (docs/PERFORMANCE.md).

Here each channel's queue is an :class:`Inbox`: a deque and one waiter. The
layer's reader appends the raw message to every member's inbox, and
:class:`hub.websocket.consumers.HubConsumer` waits on its inbox directly, for
the layer's messages and its client's frames alike, so a group message wakes
each consumer once. ``receive()`` still works as channels documents it.

Decoding is shared too: one group message is one bytes object put into every
member's inbox, so :meth:`HubPubSubLoopLayer.decode` decodes it once and
hands each consumer its own shallow copy.
"""

import asyncio
import collections

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close


class Inbox:
    """What a consumer has to handle, in arrival order; one task waits on it.

    The layer puts raw messages (``bytes``); a consumer also puts its client's
    frames. ``get()`` is for one waiting task at a time, as a channel has one
    consumer.
    """

    __slots__ = ("_items", "_loop", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self):
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items


class HubPubSubLoopLayer(RedisPubSubLoopLayer):
    """One event loop's layer: channels get an :class:`Inbox`, not a Queue."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._last_raw: bytes | None = None
        self._last_message: dict | None = None

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = Inbox()
        await self._get_shard(channel).subscribe(channel)

    def inbox(self, channel: str) -> Inbox:
        return self.channels[channel]

    async def discard_channel(self, channel: str) -> None:
        """Forget a channel whose consumer has ended, and unsubscribe from it."""
        if self.channels.pop(channel, None) is not None:
            await self._get_shard(channel).unsubscribe(channel)

    def decode(self, raw: bytes) -> dict:
        """A message from its bytes. A group message is the same bytes object
        in every member's inbox: it is decoded once (per loop, so per thread),
        and each caller gets its own copy."""
        if raw is not self._last_raw:
            self._last_message = self.channel_layer.deserialize(raw)
            self._last_raw = raw
        return dict(self._last_message)


class HubPubSubChannelLayer(RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` with inboxes and
    shared decoding; configured like it (``hosts``, ``prefix``)."""

    def _get_layer(self) -> HubPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = HubPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

    def loop_layer(self) -> HubPubSubLoopLayer:
        """This event loop's layer, for a consumer to keep for its lifetime."""
        return self._get_layer()
