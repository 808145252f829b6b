"""The channel layer the hub runs on: channels_redis' pub/sub layer, with inboxes.

This is the one module that knows channels_redis' internals; everything else
uses the public methods of :class:`HubPubSubChannelLayer` (``publish_many``,
``subscriber_counts``, ``groups_with_subscribers``, ``loop_layer``) or the
channel-layer API channels documents. The names it relies on, and the versions
they were read from, are pinned by ``tests/realtime/test_layer.py``:
``RedisPubSubChannelLayer._get_layer``, ``._layers``, ``._args``, ``._kwargs``
and ``channels_redis.utils._wrap_close`` (one layer per event loop);
``RedisPubSubLoopLayer.channels``, ``.groups``, ``._shards``, ``._get_shard``,
``._get_group_channel_name`` and ``._subscribe_to_channel`` (routing, and the
per-channel queue); a shard's ``_lock``, ``_ensure_redis`` and ``_redis`` (a
pipeline and PUBSUB queries on the shard's own connection), its
``_subscribed_to`` and ``_ensure_receiver`` (unsubscribing many groups in one
command), and its
``_pubsub``, ``_receive_message`` and ``RedisSingleShardConnection(host,
layer)`` (reconnects, below); redis-py's ``PubSub.on_connect`` and
``Connection.send_command``.

Reconnects. channels_redis 4.3 keeps one connection pool and one ``PubSub``
per shard and leaves a broken connection (Redis restarted or failed over) to
redis-py, with no retry: the first command on a stale pooled connection fails.
Here every shard's connections retry a command whose connection broke
(``reconnect_retries`` times, backoff from ``reconnect_backoff_base_secs`` up to
``reconnect_backoff_cap_secs``), so the first publish after a restart goes out.
redis-py's ``PubSub`` subscribes to every channel again when its connection
comes back; the shard then sends a PING behind those SUBSCRIBEs, and when the
PONG arrives (Redis has processed them: every later publish reaches this
process) the layer puts a ``layer.reconnected`` event into every inbox, so each
consumer can fetch from the database what was published while it was deaf.
channels_redis' ``on_disconnect``/``on_reconnect`` arguments are stored but
never called in 4.3, so they cannot serve. A channel or group left while Redis
is down (a socket closing in the outage) does not raise: redis-py would
subscribe to it again on reconnect, so the layer unsubscribes it once back.

Why a subclass. channels_redis gives each consumer's channel an
``asyncio.Queue`` that the layer's Redis reader fills, and a consumer takes
one message by awaiting ``receive()``, which finds this loop's layer and waits
on that queue; channels' consumer loop adds a Task and an ``asyncio.wait`` per
message. Here each channel's queue is an :class:`Inbox` that the hub's base
consumer (realtime.consumers) waits on directly, for the layer's messages and
its client's frames alike, so a group message wakes each consumer once, and an
idle consumer may even handle it in the reader (:attr:`Inbox.handle_now`).
One group message is one bytes object put into every member's inbox, so
:meth:`HubPubSubLoopLayer.decode` decodes it once. ``receive()`` still works as
channels documents it (channels' stock consumer loop uses it). A consumer's own
channel is an inbox with no Redis subscription (the hub sends to groups only;
:meth:`HubPubSubLoopLayer.new_channel`).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from realtime import groups

logger = logging.getLogger(__name__)

# The PING a shard's subscriber connection sends behind its SUBSCRIBEs on a
# reconnect; its PONG tells that Redis has processed them.
_RESUBSCRIBED_MARKER = b"hub-layer-resubscribed"
# Most channels one UNSUBSCRIBE or SUBSCRIBE names (group_discard's and
# group_add's batches).
UNSUBSCRIBE_BATCH = SUBSCRIBE_BATCH = 1000


class Kind(enum.Enum):
    """What an :class:`Item` carries."""

    RAW = "raw"  # bytes from the hub's layer, decoded by the consumer
    MESSAGE = "message"  # a decoded message from another layer
    CLIENT = "client"  # a client's ASGI message; ``done`` is set once handled
    PENDING = "pending"  # the rest of a handler the layer's reader started
    FAILED = "failed"  # a reader's exception, raised again by the consumer


@dataclass(slots=True, frozen=True)
class Item:
    """One thing a consumer has to handle, tagged with its :class:`Kind`."""

    kind: Kind
    payload: Any
    done: asyncio.Future | None = None


class Inbox:
    """What a consumer has to handle, in arrival order; one task waits on it.

    The layer's reader puts raw messages (``put_nowait(bytes)``, channels_redis'
    queue interface); the consumer puts its client's frames and its readers'
    failures as :class:`Item`. ``get()`` returns Items, for one waiting task at
    a time, as a channel has one consumer.

    ``handle_now``, if a consumer sets it, is called with a raw message put
    while that task waits on an empty inbox (the consumer is idle, so nothing
    is ahead of the message and no handler is running). It returns ``None`` if
    it handled the message, else the Item to queue instead (it must not
    raise). While it runs the inbox counts as busy, so whatever is put
    meanwhile queues behind that Item.
    """

    __slots__ = ("_busy", "_items", "_loop", "_waiter", "handle_now")

    def __init__(self) -> None:
        # Made when something queues: an idle socket's inbox holds no deque
        # (an empty one is 624 bytes), and the inline fan-out queues nothing.
        self._items: collections.deque[Item] | None = None
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future | None = None
        self._busy = False
        self.handle_now: Callable[[bytes], Item | None] | None = None

    def put_nowait(self, raw: bytes) -> None:
        """Queue a raw layer message (or hand it to ``handle_now``)."""
        waiter = self._waiter
        idle = waiter is not None and not waiter.done() and not self._busy
        if idle and self.handle_now is not None:
            self._busy = True
            try:
                item = self.handle_now(raw)
            finally:
                self._busy = False
            if item is not None:  # ahead of anything put while it ran
                self._queue().appendleft(item)
            if self._items:
                self._wake()
            return
        self.put(Item(Kind.RAW, raw))

    def _queue(self) -> collections.deque[Item]:
        if self._items is None:
            self._items = collections.deque()
        return self._items

    def put(self, item: Item) -> None:
        """Queue an Item for the consumer's task."""
        self._queue().append(item)
        if not self._busy:  # else woken, if need be, once handle_now returns
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Item:
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items


class _ResubscribingPubSub(PubSub):
    """redis-py's ``PubSub`` that, once it has subscribed again after a
    reconnect, asks Redis for a PONG that marks the moment."""

    async def on_connect(self, connection) -> None:
        await super().on_connect(connection)
        if self.subscribed:  # a reconnect: the SUBSCRIBEs just went out
            await connection.send_command("PING", _RESUBSCRIBED_MARKER)


class _Shard(RedisSingleShardConnection):
    """A channels_redis shard whose subscriber tells the layer when it is back."""

    def _ensure_redis(self) -> None:
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = _ResubscribingPubSub(self._redis.connection_pool)

    async def subscribe_many(
        self, redis_channels: list[str], wanted: Callable[[str], bool]
    ) -> None:
        """One SUBSCRIBE for those of ``redis_channels`` not subscribed yet and,
        checked under the shard's lock, still ``wanted`` (a group left again
        meanwhile is not subscribed for nobody)."""
        async with self._lock:
            joining = [
                c for c in redis_channels if c not in self._subscribed_to and wanted(c)
            ]
            if not joining:
                return
            self._ensure_redis()
            self._ensure_receiver()
            await self._pubsub.subscribe(*joining)
            self._subscribed_to.update(joining)

    async def unsubscribe_unused(
        self, redis_channels: list[str], unused: Callable[[str], bool]
    ) -> None:
        """One UNSUBSCRIBE for those of ``redis_channels`` that are subscribed
        and, checked under the shard's lock, still ``unused``: a group joined
        again meanwhile keeps its subscription (its SUBSCRIBE waits for the
        lock, and finds the channel gone from the set if it was sent)."""
        async with self._lock:
            leaving = [
                channel
                for channel in redis_channels
                if channel in self._subscribed_to and unused(channel)
            ]
            if not leaving:
                return
            self._ensure_redis()
            self._ensure_receiver()
            # Out of the set before the command goes: a group_add meanwhile
            # then subscribes again after it (waiting for this lock) instead
            # of taking the channel for subscribed.
            self._subscribed_to.difference_update(leaving)
            try:
                await self._pubsub.unsubscribe(*leaving)
            except BaseException:
                self._subscribed_to.update(leaving)  # as redis-py still has them
                raise

    def _receive_message(self, message) -> None:
        if (
            message is not None
            and message.get("type") == "pong"
            and message.get("data") == _RESUBSCRIBED_MARKER
        ):
            self.channel_layer.resubscribed(self.host)
            return
        super()._receive_message(message)


class HubPubSubLoopLayer(RedisPubSubLoopLayer):
    """One event loop's layer: channels get an :class:`Inbox`, not a Queue.

    ``reconnect_retries`` (default 3), ``reconnect_backoff_base_secs`` (0.05)
    and ``reconnect_backoff_cap_secs`` (0.5): how a command whose connection
    broke is tried again on a new one (see the module docstring). Raise them
    for a failover that takes longer than about a second; a sync publisher
    waits at most ``PUBLISH_TIMEOUT_SECS`` whatever they say.
    """

    def __init__(
        self,
        hosts=None,
        *args,
        reconnect_retries: int = 3,
        reconnect_backoff_base_secs: float = 0.05,
        reconnect_backoff_cap_secs: float = 0.5,
        **kwargs,
    ) -> None:
        super().__init__(hosts, *args, **kwargs)
        retry = Retry(
            ExponentialBackoff(
                cap=reconnect_backoff_cap_secs, base=reconnect_backoff_base_secs
            ),
            reconnect_retries,
        )
        self._shards = [
            _Shard({"retry": retry, **host}, self) for host in decode_hosts(hosts)
        ]
        self._last_raw: bytes | None = None
        self._last_message: dict | None = None
        # Redis channels left while Redis was down (see _left_subscribed).
        self._unsubscribe_later: set[str] = set()
        self._unsubscribing: asyncio.Task | None = None
        # Groups' Redis channels left by their last member in this turn of
        # the loop, and the task that unsubscribes them together.
        self._leaving: set[str] = set()
        self._leaving_sent: asyncio.Task | None = None
        # By shard: groups' Redis channels joined in this turn of the loop,
        # and the task that subscribes them together.
        self._joining: dict[Any, set[str]] = {}
        self._joining_sent: dict[Any, asyncio.Task] = {}
        # Consumer channel names: unique to this process, then a counter
        # (uuid4 per socket cost a getrandom() syscall each, ~0.09 ms here).
        self._channel_base = uuid.uuid4().hex[:16]
        self._channel_seq = itertools.count()

    def resubscribed(self, host: dict) -> None:
        """A shard's subscriber is back: every consumer here may have missed
        messages, so each gets a ``layer.reconnected`` event in its inbox."""
        logger.warning(
            "channel layer subscribed again to %s; %d channel(s) told to catch up",
            host.get("address") or host.get("master_name") or host,
            len(self.channels),
        )
        event = Item(Kind.MESSAGE, {"type": groups.LAYER_RECONNECTED})
        for inbox in self.channels.values():
            inbox.put(event)
        if self._unsubscribe_later and (
            self._unsubscribing is None or self._unsubscribing.done()
        ):
            self._unsubscribing = asyncio.ensure_future(self._unsubscribe_left())

    def _left_subscribed(self, redis_channel: str) -> None:
        """Unsubscribing failed (Redis down): redis-py keeps the channel and
        subscribes to it again when it reconnects, so it is unsubscribed once
        the shard is back, if nobody here has used it again by then."""
        logger.warning(
            "channel layer unavailable; %s left until it is back", redis_channel
        )
        self._unsubscribe_later.add(redis_channel)

    async def _unsubscribe_left(self) -> None:
        for redis_channel in sorted(self._unsubscribe_later):
            if redis_channel not in self.channels and not self.groups.get(
                redis_channel
            ):
                try:
                    await self._get_shard(redis_channel).unsubscribe(redis_channel)
                except (RedisError, OSError):
                    continue  # its shard is still down: at its own reconnect
            self._unsubscribe_later.discard(redis_channel)

    async def group_add(self, group: str, channel: str) -> None:
        """channels_redis' ``group_add``, with the same effect when it returns
        (the group's Redis channel is subscribed: a message published from
        then on reaches ``channel``), but the groups joined in one turn of the
        event loop are subscribed with one SUBSCRIBE per shard: a connect
        storm joins thousands at once. If that SUBSCRIBE fails, every caller
        of its batch gets the error."""
        if channel not in self.channels:
            raise RuntimeError(
                "You can only call group_add() on channels that exist in-process."
            )
        group_channel = self._get_group_channel_name(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        shard = self._get_shard(group_channel)
        if group_channel in shard._subscribed_to:
            # Subscribed already. An UNSUBSCRIBE queued for it checks
            # membership under the shard's lock first, and one under way has
            # taken it out of the set already.
            return
        self._joining.setdefault(shard, set()).add(group_channel)
        sent = self._joining_sent.get(shard)
        if sent is None:
            sent = self._joining_sent[shard] = asyncio.ensure_future(
                self._subscribe_joining(shard)
            )
        # Shielded: one caller cancelled does not cancel the others' batch.
        await asyncio.shield(sent)

    async def _subscribe_joining(self, shard) -> None:
        await asyncio.sleep(0)  # the other sockets joining now join the batch
        joining = sorted(self._joining.pop(shard, ()))
        del self._joining_sent[shard]  # joined from here on: the next batch
        for start in range(0, len(joining), SUBSCRIBE_BATCH):
            await shard.subscribe_many(
                joining[start : start + SUBSCRIBE_BATCH], self._wanted
            )

    async def group_discard(self, group: str, channel: str) -> None:
        """channels_redis' ``group_discard``, with the same effect when it
        returns (a group left by its last member here is unsubscribed), but:

        - the groups left by their last member in one turn of the event loop
          are unsubscribed with one UNSUBSCRIBE per shard, not one each: a web
          process shutting down closes all its sockets at once, and while it
          drains them nobody can connect (docs/PERFORMANCE.md, restart);
        - it does not raise while Redis is down (a socket closing in an
          outage leaves its groups): the channel is unsubscribed once back.
        """
        group_channel = self._get_group_channel_name(group)
        members = self.groups.get(group_channel)
        if not members or channel not in members:
            return
        members.remove(channel)
        if members:
            return
        del self.groups[group_channel]
        self._leaving.add(group_channel)
        if self._leaving_sent is None:
            self._leaving_sent = asyncio.ensure_future(self._unsubscribe_leaving())
        # Shielded: one caller cancelled does not cancel the others' batch.
        await asyncio.shield(self._leaving_sent)

    def _wanted(self, redis_channel: str) -> bool:
        return bool(self.groups.get(redis_channel))

    def _unused(self, redis_channel: str) -> bool:
        return redis_channel not in self.channels and not self.groups.get(redis_channel)

    async def _unsubscribe_leaving(self) -> None:
        await asyncio.sleep(0)  # the other sockets closing now join the batch
        leaving, self._leaving = self._leaving, set()
        self._leaving_sent = None  # a group left from here on: the next batch
        by_shard: dict[Any, list[str]] = collections.defaultdict(list)
        for redis_channel in sorted(leaving):
            by_shard[self._get_shard(redis_channel)].append(redis_channel)
        for shard, redis_channels in by_shard.items():
            for start in range(0, len(redis_channels), UNSUBSCRIBE_BATCH):
                batch = redis_channels[start : start + UNSUBSCRIBE_BATCH]
                try:
                    await shard.unsubscribe_unused(batch, self._unused)
                except (RedisError, OSError):
                    for redis_channel in batch:
                        if self._unused(redis_channel):
                            self._left_subscribed(redis_channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A consumer's channel in this process: an inbox, no Redis subscription.

        The hub delivers to groups only (every socket is in its user's groups,
        realtime.groups): the layer subscribes to a group's Redis channel once
        per process and puts each message into its members' inboxes. So a
        consumer's own channel needs no SUBSCRIBE when it opens and no
        UNSUBSCRIBE when it closes (channels_redis makes both): one Redis round
        trip fewer per connect, and no entry in redis-py's tables per socket
        (docs/PERFORMANCE.md). :meth:`send` to such a channel reaches it from
        this process only.
        """
        channel = f"{self.prefix}{prefix}{self._channel_base}.{next(self._channel_seq)}"
        self.channels[channel] = Inbox()
        return channel

    async def send(self, channel: str, message: dict) -> None:
        """channels' ``send``: to a channel of this process, straight into its
        inbox (it has no Redis subscription); else published, as channels_redis
        does, for a process that subscribed to it."""
        inbox = self.channels.get(channel)
        if inbox is not None:
            inbox.put_nowait(self.channel_layer.serialize(message))
            return
        await super().send(channel, message)

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = Inbox()
        try:
            await self._get_shard(channel).subscribe(channel)
        except BaseException:
            # Not subscribed (Redis down): no consumer will discard it.
            del self.channels[channel]
            raise

    async def receive(self, channel: str) -> dict:
        """channels' ``receive``: the next message of a channel, decoded."""
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        inbox = self.channels[channel]
        try:
            item = await inbox.get()
        except (asyncio.CancelledError, GeneratorExit):
            # As channels_redis does: a cancelled receive is a consumer ending.
            await self.discard_channel(channel)
            raise
        if item.kind is Kind.MESSAGE:  # a local event (resubscribed)
            return dict(item.payload)
        return self.decode(item.payload)

    def inbox(self, channel: str) -> Inbox:
        return self.channels[channel]

    async def discard_channel(self, channel: str) -> None:
        """Forget a channel whose consumer has ended; unsubscribe from it if
        ``receive()`` subscribed (the shard skips one :meth:`new_channel` made)."""
        if self.channels.pop(channel, None) is not None:
            try:
                await self._get_shard(channel).unsubscribe(channel)
            except (RedisError, OSError):
                self._left_subscribed(channel)

    def decode(self, raw: bytes) -> dict:
        """A message from its bytes. A group message is the same bytes object
        in every member's inbox: it is decoded once (per loop, so per thread),
        and each caller gets its own copy."""
        if raw is not self._last_raw:
            self._last_message = self.channel_layer.deserialize(raw)
            self._last_raw = raw
        return dict(self._last_message)

    def route(self, group: str) -> tuple[Any, str]:
        """The shard and Redis channel that carry ``group`` (as group_send picks)."""
        channel = self._get_group_channel_name(group)
        return self._get_shard(channel), channel

    def group_of(self, redis_channel: bytes | str) -> str:
        """The group name a Redis channel of this layer carries."""
        name = (
            redis_channel.decode()
            if isinstance(redis_channel, bytes)
            else redis_channel
        )
        return name[len(self._get_group_channel_name("")) :]

    def shards(self) -> list:
        return list(self._shards)


async def _on_shard(shard, command: Callable[[Any], Any]) -> Any:
    """Run ``command(redis)`` on a shard's connection, under the shard's lock
    (as its own publish does), connecting first if need be."""
    async with shard._lock:
        shard._ensure_redis()
        return await command(shard._redis)


class HubPubSubChannelLayer(RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` with inboxes, shared
    decoding and batch operations; configured like it (``hosts``, ``prefix``)."""

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

    async def publish_many(self, batch: Iterable[tuple[str, dict]]) -> None:
        """``group_send`` each (group, message) pair, in order, with one pipeline
        (one round trip) per shard. Messages land exactly where ``group_send``
        would put them: same Redis channel, same shard, same per-shard lock."""
        layer = self._get_layer()
        by_shard: dict[Any, list[tuple[str, bytes]]] = {}
        for group, message in batch:
            shard, channel = layer.route(group)
            by_shard.setdefault(shard, []).append((channel, self.serialize(message)))

        for shard, items in by_shard.items():

            async def send(redis, items=items):
                pipe = redis.pipeline(transaction=False)
                for channel, data in items:
                    pipe.publish(channel, data)
                await pipe.execute()

            await _on_shard(shard, send)

    async def subscriber_counts(self, group_names: Iterable[str]) -> dict[str, int]:
        """How many processes subscribe to each group's Redis channel, cluster
        wide (PUBSUB NUMSUB, one round trip per shard)."""
        layer = self._get_layer()
        by_shard: dict[Any, list[str]] = {}
        for group in group_names:
            shard, channel = layer.route(group)
            by_shard.setdefault(shard, []).append(channel)
        counts: dict[str, int] = {}
        for shard, channels in by_shard.items():
            replies = await _on_shard(
                shard, lambda redis, c=channels: redis.pubsub_numsub(*c)
            )
            for channel, subscribers in replies:
                counts[layer.group_of(channel)] = subscribers
        return counts

    async def groups_with_subscribers(self, prefix: str) -> list[str]:
        """The groups starting with ``prefix`` that some process subscribes to,
        cluster wide (PUBSUB CHANNELS, one round trip per shard)."""
        layer = self._get_layer()
        _, pattern = layer.route(prefix)
        found: list[str] = []
        for shard in layer.shards():
            channels = await _on_shard(
                shard, lambda redis: redis.pubsub_channels(pattern + "*")
            )
            found.extend(layer.group_of(channel) for channel in channels)
        return found
