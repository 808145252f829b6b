"""Who is in a chat room right now, kept in Redis so every web process agrees.

One sorted set per room, ``<CHANNEL_LAYER_PREFIX>:chat:presence:<slug>``. Each
open socket is one member, ``[user_id, username, channel_name]`` as JSON, scored
with the time (Unix seconds) at which it expires: ``CHAT_PRESENCE_TTL_SECS`` after
the socket last refreshed it. Every socket refreshes its entry every
``CHAT_PRESENCE_HEARTBEAT_SECS``; a socket that closes removes it. A web process
that dies without saying goodbye stops refreshing, so its entries expire, and
the next heartbeat of any surviving socket in the room purges them and reports
the change. A user is present while any of their entries is live, so two tabs,
or two tabs on two web processes, make one user who leaves when the last closes.

Each operation runs as one MULTI transaction and compares the users named by
every entry before it (expired ones included: clients were last told about
those) with the users of live entries after it; the caller broadcasts a
``presence`` frame only when they differ. Times are the web hosts' clocks, so
hosts must agree to well within the TTL (NTP does).
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from dataclasses import dataclass

import redis
import redis.asyncio
from django.conf import settings

_async_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, redis.asyncio.Redis
] = weakref.WeakKeyDictionary()
_sync_client: redis.Redis | None = None


def _aclient() -> redis.asyncio.Redis:
    """One client (one connection pool) per event loop: a web process has one."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    return client


def _client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL)
    return _sync_client


def key(room_slug: str) -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:chat:presence:{room_slug}"


@dataclass(frozen=True)
class Entry:
    """One socket in one room."""

    room_slug: str
    user_id: int
    username: str
    channel_name: str

    @property
    def member(self) -> str:
        return json.dumps([self.user_id, self.username, self.channel_name])


@dataclass(frozen=True)
class Change:
    """The room's users after an operation, and whether that set changed."""

    users: list[str]
    changed: bool


def _users(members) -> set[tuple[int, str]]:
    found = set()
    for raw in members:
        user_id, username, _channel = json.loads(raw)
        found.add((user_id, username))
    return found


def _change(before, after) -> Change:
    before_users, after_users = _users(before), _users(after)
    return Change(
        users=sorted({name for _id, name in after_users}),
        changed=before_users != after_users,
    )


async def _run(entry: Entry, *, add: bool) -> Change:
    now = time.time()
    ttl = settings.CHAT_PRESENCE_TTL_SECS
    room_key = key(entry.room_slug)
    async with _aclient().pipeline(transaction=True) as pipe:
        pipe.zrange(room_key, 0, -1)
        pipe.zremrangebyscore(room_key, "-inf", now)
        if add:
            pipe.zadd(room_key, {entry.member: now + ttl})
            # The set itself goes when its last socket stops refreshing.
            pipe.expire(room_key, int(ttl) + 1)
        else:
            pipe.zrem(room_key, entry.member)
        pipe.zrange(room_key, 0, -1)
        results = await pipe.execute()
    return _change(results[0], results[-1])


async def ajoin(entry: Entry) -> Change:
    """Add a socket to its room."""
    return await _run(entry, add=True)


async def arefresh(entry: Entry) -> Change:
    """Heartbeat: extend this socket's entry (re-adding it if it had expired)
    and purge expired ones; ``changed`` when either altered the users."""
    return await _run(entry, add=True)


async def aleave(entry: Entry) -> Change:
    """Remove a socket from its room."""
    return await _run(entry, add=False)


def present_user_ids(room_slug: str) -> set[int]:
    """Users with a live socket in the room (sync: for services)."""
    members = _client().zrangebyscore(key(room_slug), time.time(), "+inf")
    return {user_id for user_id, _name in _users(members)}
