"""The channel layer the hub runs on: channels_redis' pub/sub layer, with inboxes.

channels_redis gives each consumer's channel an ``asyncio.Queue`` that the
layer's Redis reader fills, and a consumer takes one message by awaiting
``receive()``, which finds this loop's layer and waits on that queue. A
consumer that also waits on its client (channels' ``await_many_dispatch``) adds
a Task and an ``asyncio.wait`` per message. In a fan-out to thousands of
sockets those hops cost more than the sends themselves (docs/PERFORMANCE.md).

Here each channel's queue is an :class:`Inbox`: a deque and one waiter. The
layer's reader appends the raw message to every member's inbox, and
:class:`realtime.consumers.HubConsumer` waits on its inbox directly, for
the layer's messages and its client's frames alike, so a group message wakes
each consumer once. ``receive()`` still works as channels documents it.

A consumer that is idle (waiting on an empty inbox) may take a layer message
on the spot: if it set :attr:`Inbox.handle_now`, the layer's reader calls it
instead of waking the consumer's task, and only what it could not finish there
goes into the inbox (realtime.consumers, ``HubConsumer.inline_events``).

Decoding is shared too: one group message is one bytes object put into every
member's inbox, so :meth:`HubPubSubLoopLayer.decode` decodes it once and
hands each consumer its own shallow copy.
"""

import asyncio
import collections
from collections.abc import Callable

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close


class Inbox:
    """What a consumer has to handle, in arrival order; one task waits on it.

    The layer puts raw messages (``bytes``); a consumer also puts its client's
    frames. ``get()`` is for one waiting task at a time, as a channel has one
    consumer.

    ``handle_now``, if a consumer sets it, is called with a raw message put
    while that task waits on an empty inbox (the consumer is idle, so nothing
    is ahead of the message and no handler is running). It returns ``None`` if
    it handled the message, else the item to queue instead (it must not
    raise): the consumer's task is woken for that as for any other. While it
    runs, the inbox counts as busy, so whatever is put meanwhile queues behind
    that item.
    """

    __slots__ = ("_busy", "_items", "_loop", "_waiter", "handle_now")

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future | None = None
        self._busy = False
        self.handle_now: Callable[[bytes], object] | None = None

    def put_nowait(self, item) -> None:
        waiter = self._waiter
        idle = waiter is not None and not waiter.done() and not self._busy
        if idle and self.handle_now is not None and type(item) is bytes:
            self._busy = True
            try:
                item = self.handle_now(item)
            finally:
                self._busy = False
            if item is not None:  # ahead of anything put while it ran
                self._items.appendleft(item)
            if not self._items:
                return
        else:
            self._items.append(item)
            if self._busy:  # woken, if need be, once handle_now returns
                return
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
