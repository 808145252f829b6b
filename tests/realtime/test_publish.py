"""realtime.publish on the real Redis layer: pipelined batches, online detection."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from notifications import services
from realtime import groups, publish
from tests.conftest import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user):
    comm = communicator("/ws/notifications/", user)
    ok, _ = await comm.connect()
    assert ok
    assert (await comm.receive_json_from())["type"] == "hello"
    return comm


async def test_send_many__one_batch_arrives_complete_and_in_order(alice, bob):
    a, b = await connect(alice), await connect(bob)
    batch = [
        (
            groups.user(user.pk),
            publish.message(
                groups.NOTIFICATION_READ, [{"type": "unread", "unread": i}]
            ),
        )
        for i in range(50)
        for user in (alice, bob)
    ]

    assert await database_sync_to_async(publish.send_many)(batch)

    for comm in (a, b):
        got = [(await comm.receive_json_from(timeout=3))["unread"] for _ in range(50)]
        assert got == list(range(50))
        await comm.disconnect()


async def test_online_users__connected_users_only(alice, bob, staff):
    comm = await connect(alice)

    online = await database_sync_to_async(publish.online_users)()
    some = await database_sync_to_async(publish.online_user_ids)([alice.pk, bob.pk])

    assert alice.pk in online and bob.pk not in online
    assert some == {alice.pk}
    await comm.disconnect(timeout=5)
    assert await eventually_offline(alice.pk)


async def eventually_offline(user_id: int, timeout: float = 5.0) -> bool:
    """Poll until the user's last socket has left Redis, or the timeout passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        online = await database_sync_to_async(publish.online_user_ids)([user_id])
        if user_id not in online:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_publish_created__large_batch_pushes_connected_users(make_user, settings):
    settings.ONLINE_CHECK_MIN_USERS = 2
    users = [await database_sync_to_async(make_user)(f"u{i}") for i in range(5)]
    comm = await connect(users[3])

    created = await database_sync_to_async(services.notify)(
        recipients=users, title="to five"
    )

    frame = await comm.receive_json_from(timeout=3)
    assert frame["notification"]["title"] == "to five"
    assert len(created) == 5
    await comm.disconnect()
