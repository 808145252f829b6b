"""What one user's sockets share: the open-socket count in Redis (across web
processes), and each web process's turn at the database."""

import asyncio
import time

import pytest
import redis.asyncio

from realtime import per_user
from realtime.db import database_write
from tests.conftest import communicator
from tests.support.write_thread import held_write_thread

pytestmark = pytest.mark.django_db(transaction=True)


def lease_key(settings, user_id: int) -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:ws:sockets:{user_id}"


async def connected(user):
    comm = communicator("/ws/notifications/", user)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from(timeout=3))["type"] == "hello"
    return comm


async def refused_code(user) -> int:
    comm = communicator("/ws/notifications/", user)
    assert (await comm.connect())[0]  # accepted, then closed: browsers read the code
    closed = await comm.receive_output(timeout=3)
    assert closed["type"] == "websocket.close"
    return closed["code"]


def leases_of_another_process(user_id: int, count: int) -> list[bool]:
    """Open ``count`` sockets' leases as another web process would (its own
    event loop), and end without releasing them, as a crashed one does."""

    async def lease_all() -> list[bool]:
        user = per_user.user_sockets(user_id)
        return [await user.lease(f"other-process!{i}") for i in range(count)]

    return asyncio.run(lease_all())


async def test_lease__sockets_of_other_web_processes_count(alice, bob, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    leased = await asyncio.to_thread(leases_of_another_process, alice.pk, 2)

    assert leased == [True, True]
    assert await refused_code(alice) == 4429
    other_user = await connected(bob)
    await other_user.disconnect()


async def test_lease__a_storm_of_leases_is_counted_not_let_in_uncounted(settings):
    """More leases at once than the process has Redis connections wait for one:
    each socket is counted (a failed lease would let it in uncounted)."""
    storm = per_user.REDIS_CONNECTIONS * 10
    users = [per_user.user_sockets(10_000 + i) for i in range(storm)]

    leased = await asyncio.gather(
        *(user.lease(f"storm!{i}") for i, user in enumerate(users))
    )

    assert all(leased)
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    try:
        counted = [
            await client.zscore(lease_key(settings, 10_000 + i), f"storm!{i}")
            for i in range(storm)
        ]
    finally:
        await client.aclose()
    assert None not in counted
    for i, user in enumerate(users):
        await user.release(f"storm!{i}")


async def test_lease__leases_sent_together_each_get_their_own_answer(settings):
    """The leases asked for in one turn of the loop go in one pipeline: each
    still gets its own answer, in the order asked, and releases sent together
    all count."""
    settings.WS_MAX_SOCKETS_PER_USER = 3
    user = per_user.user_sockets(20_000)

    leased = await asyncio.gather(*(user.lease(f"together!{i}") for i in range(5)))

    assert leased == [True, True, True, False, False]
    await asyncio.gather(*(user.release(f"together!{i}") for i in range(3)))
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    try:
        assert await client.zcard(lease_key(settings, 20_000)) == 0
    finally:
        await client.aclose()


async def test_lease__a_dead_process_sockets_stop_counting_when_their_lease_lapses(
    alice, settings
):
    settings.WS_MAX_SOCKETS_PER_USER = 1
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    key = lease_key(settings, alice.pk)
    # Its web process died a lease ago: it renewed the lease for the last time.
    await client.zadd(key, {"dead-process!1": time.time() - 1})

    comm = await connected(alice)
    [(member, expiry)] = await client.zrange(key, 0, -1, withscores=True)
    assert member != b"dead-process!1"
    assert time.time() < expiry <= time.time() + settings.WS_SOCKET_LEASE_SECS
    assert await refused_code(alice) == 4429  # the live one counts
    await comm.disconnect()

    assert await client.zcard(key) == 0  # a closed socket counts no more
    await client.aclose()


async def test_renew_leases__a_lapsed_lease_of_an_open_socket_counts_again(
    alice, bob, settings
):
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    sockets = [await connected(alice), await connected(bob)]
    keys = [lease_key(settings, alice.pk), lease_key(settings, bob.pk)]
    # The event loop stalled past the lease: each socket's lease lapsed.
    for key in keys:
        [member] = await client.zrange(key, 0, -1)
        await client.zadd(key, {member: time.time() - 1})

    assert await per_user.renew_leases() == 2

    for key in keys:
        [(_member, expiry)] = await client.zrange(key, 0, -1, withscores=True)
        assert expiry > time.time()
    for comm in sockets:
        await comm.disconnect()
    await client.aclose()


async def test_renewer__renews_leases_without_being_asked(alice, settings):
    settings.WS_SOCKET_LEASE_SECS = 0.3
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    comm = await connected(alice)
    key = lease_key(settings, alice.pk)
    [(member, first_expiry)] = await client.zrange(key, 0, -1, withscores=True)

    async def renewed() -> float:
        while (expiry := await client.zscore(key, member)) == first_expiry:
            await asyncio.sleep(0.05)  # polling Redis, which the renewer changes
        return expiry

    assert await asyncio.wait_for(renewed(), timeout=5) > first_expiry
    await comm.disconnect()
    await client.aclose()


async def test_db_turns__a_flooding_user_queues_one_call_ahead_of_another(
    alice, bob, settings
):
    """20 sockets of one user flood write frames; another user's write runs
    after at most WS_DB_CALLS_PER_USER of theirs, not after all 20."""
    ran: list[str] = []
    record = database_write(ran.append)
    flooder = per_user.user_sockets(alice.pk)
    other = per_user.user_sockets(bob.pk)

    async with held_write_thread():
        floods = [
            asyncio.create_task(flooder.db_call(record, f"alice-{i}"))
            for i in range(20)
        ]
        victim = asyncio.create_task(other.db_call(record, "bob"))
        # One turn of the loop: each task runs to its first wait, in the write
        # thread's queue or in its user's turn.
        await asyncio.sleep(0)
    await asyncio.gather(*floods, victim)

    assert settings.WS_DB_CALLS_PER_USER == 1
    assert ran[:2] == ["alice-0", "bob"]
    assert sorted(ran[2:]) == sorted(f"alice-{i}" for i in range(1, 20))
