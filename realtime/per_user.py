"""What one user's sockets share: an open-socket count across web processes, and
in each web process a frame budget and a turn at the database.

**Open sockets** (``WS_MAX_SOCKETS_PER_USER``, all endpoints together). One
sorted set per user in Redis, ``<CHANNEL_LAYER_PREFIX>:ws:sockets:<user_id>``;
each open socket is one member, its channel name, scored with the time (Unix
seconds, Redis's clock) at which its lease expires: ``WS_SOCKET_LEASE_SECS``
after its web process last renewed it. Opening a socket is one script call (one
round trip): drop expired members, refuse if the user has the most already,
else add. Each web process renews the leases of all its sockets every third of
the lease in one pipeline (one task per process, not one per socket); a socket
that closes removes its member. A web process that dies stops renewing, so its
sockets stop counting within ``WS_SOCKET_LEASE_SECS``. While Redis is down the
count fails open (logged): the socket is let in, and the next renewal counts
it. Times are Redis's own, so web hosts' clocks do not matter. The leases and
releases of the sockets that open or close in one turn of the event loop go to
Redis in one pipeline.

**Frames** (``WS_USER_RATE_LIMIT_PER_MIN``): one :class:`RateWindow` for all of a
user's sockets in one web process, beside each socket's own window, so twenty
sockets do not multiply the rate. It outlives the user's last socket until its
minute ends, so closing every socket and opening new ones does not refill it.
Not shared across web processes: a user is held to this budget in each process
their sockets reach.

**Database** (``WS_DB_CALLS_PER_USER``): a user's sockets run at most that many
database calls at once in one web process; the others wait their turn on the
event loop, not in a thread's queue. channels runs every socket's writes on one
shared thread (asgiref's ``thread_sensitive``), first come first served, so a
user flooding write frames from many sockets used to queue everybody's behind
theirs; now a frame of another user waits behind at most that many of theirs.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
from django.conf import settings
from redis.exceptions import RedisError

from realtime.frames import RATE_WINDOW_SECS, RateWindow

logger = logging.getLogger(__name__)

# KEYS[1]: a user's leases; ARGV: the socket, the most sockets, the lease (s).
_LEASE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
    and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], tostring(now + tonumber(ARGV[3])), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return 1
"""

# KEYS[1]: a user's leases; ARGV: the lease (s), then this process's sockets.
# A socket whose lease lapsed (the loop stalled) is counted again.
_RENEW_SCRIPT = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], tostring(expiry), ARGV[i])
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 1)
return #ARGV - 1
"""


# Connections to Redis for the socket counts of one web process, and how long a
# lease or release waits for one before the count fails open (logged).
REDIS_CONNECTIONS = 50
REDIS_WAIT_SECS = 10.0
# Most commands in one pipeline of batched leases and releases.
PIPELINE_MAX_COMMANDS = 1000


def leases_key(user_id: int) -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:ws:sockets:{user_id}"


class UserSockets:
    """The sockets of one user in this web process (each holds a reference)."""

    # One per signed-in user in each web process: slots, not a __dict__
    # (__weakref__: _Process.users is a WeakValueDictionary).
    __slots__ = (
        "__weakref__",
        "_process",
        "db_turns",
        "frame_budget",
        "leased",
        "user_id",
    )

    def __init__(self, process: _Process, user_id: int) -> None:
        self._process = process
        self.user_id = user_id
        self.frame_budget = RateWindow(settings.WS_USER_RATE_LIMIT_PER_MIN)
        self.db_turns = asyncio.Semaphore(settings.WS_DB_CALLS_PER_USER)
        self.leased: set[str] = set()  # the channel names of leased sockets

    async def lease(self, socket: str) -> bool:
        """Count an opening socket; False if its user has the most open already."""
        process = self._process

        async def add(pipe) -> None:
            await process.lease_script(
                keys=[leases_key(self.user_id)],
                args=[
                    socket,
                    settings.WS_MAX_SOCKETS_PER_USER,
                    settings.WS_SOCKET_LEASE_SECS,
                ],
                client=pipe,
            )

        try:
            taken = await process.batched(add)
        except (RedisError, OSError):
            logger.warning("socket count unavailable; socket let in", exc_info=True)
            taken = 1
        if taken:
            self.leased.add(socket)
            self._process.renew_leases_while_any()
        return bool(taken)

    async def release(self, socket: str) -> None:
        """The socket closed: it counts no more."""
        if socket not in self.leased:
            return
        self.leased.discard(socket)
        if not self.leased:
            self._process.keep_for_a_window(self)
        key = leases_key(self.user_id)

        async def add(pipe) -> None:
            pipe.zrem(key, socket)

        try:
            await self._process.batched(add)
        except (RedisError, OSError):
            logger.warning("socket count unavailable; lease left to expire")

    async def db_call(self, call, /, *args, **kwargs):
        """Await ``call`` (a database_read or database_write function) in this
        user's turn."""
        async with self.db_turns:
            return await call(*args, **kwargs)


class _Process:
    """The users with sockets on one event loop (a web process has one)."""

    def __init__(self) -> None:
        self.users: weakref.WeakValueDictionary[int, UserSockets] = (
            weakref.WeakValueDictionary()
        )
        # A blocking pool: a connect storm's leases wait for a connection
        # rather than fail (redis-py's default pool raises past 100 at once,
        # and a failed lease lets the socket in uncounted).
        self.redis = redis.asyncio.Redis(
            connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=REDIS_CONNECTIONS,
                timeout=REDIS_WAIT_SECS,
            )
        )
        self.lease_script = self.redis.register_script(_LEASE_SCRIPT)
        self.renew_script = self.redis.register_script(_RENEW_SCRIPT)
        self._renewer: asyncio.Task | None = None
        self._kept: set[UserSockets] = set()
        # Commands queued in this turn of the event loop, and the task that
        # sends them (batched()).
        self._queued: list[tuple[Callable, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def batched(self, add: Callable[[Any], Awaitable[None]]) -> Any:
        """The reply to one command, sent in one pipeline with the others
        queued in the same turn of the event loop; ``add(pipe)`` puts it on
        the pipeline. A connect storm opens and a shutting-down process closes
        thousands of sockets at once: one round trip and one ``send()`` per
        batch, not per socket (docs/PERFORMANCE.md). A command's error is
        raised to its caller only."""
        reply = asyncio.get_running_loop().create_future()
        self._queued.append((add, reply))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_queued())
        return await reply

    async def _send_queued(self) -> None:
        await asyncio.sleep(0)  # the others queuing in this turn join
        queued, self._queued = self._queued, []
        self._sender = None  # queued from here on: the next batch
        for start in range(0, len(queued), PIPELINE_MAX_COMMANDS):
            batch = queued[start : start + PIPELINE_MAX_COMMANDS]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for add, _ in batch:
                        await add(pipe)
                    replies = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:
                replies = [exc] * len(batch)
            for (_, reply), result in zip(batch, replies, strict=True):
                if reply.done():  # its caller was cancelled
                    continue
                if isinstance(result, Exception):
                    reply.set_exception(result)
                else:
                    reply.set_result(result)

    def keep_for_a_window(self, user: UserSockets) -> None:
        """Hold a user whose last socket closed until a frame window has passed,
        so the next socket spends the same budget."""
        self._kept.add(user)
        asyncio.get_running_loop().call_later(
            RATE_WINDOW_SECS, self._kept.discard, user
        )

    def renew_leases_while_any(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_while_any())

    async def _renew_while_any(self) -> None:
        while any(user.leased for user in list(self.users.values())):
            await asyncio.sleep(settings.WS_SOCKET_LEASE_SECS / 3)
            try:
                await self.renew_leases()
            except (RedisError, OSError):
                logger.warning("socket leases not renewed", exc_info=True)

    async def renew_leases(self) -> int:
        """Extend the lease of every socket of this process; how many."""
        users = [user for user in list(self.users.values()) if user.leased]
        if not users:
            return 0
        lease_secs = settings.WS_SOCKET_LEASE_SECS
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                await self.renew_script(
                    keys=[leases_key(user.user_id)],
                    args=[lease_secs, *sorted(user.leased)],
                    client=pipe,
                )
            renewed = await pipe.execute()
        return sum(renewed)


_processes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Process] = (
    weakref.WeakKeyDictionary()
)


def _process() -> _Process:
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        process = _processes[loop] = _Process()
    return process


def user_sockets(user_id: int) -> UserSockets:
    """What the sockets of ``user_id`` on this event loop share; a socket keeps
    the reference while it is open."""
    process = _process()
    user = process.users.get(user_id)
    if user is None:
        user = process.users[user_id] = UserSockets(process, user_id)
    return user


async def renew_leases() -> int:
    """Extend the leases of this process's sockets now (the renewer's step)."""
    return await _process().renew_leases()
