"""The hub's channel layer (inboxes, shared decoding) and the consumer loop on it.

Against the real Redis the suite uses (settings CHANNEL_LAYERS); the in-memory
layer only where the consumer's path for other layers is under test.
"""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from hub import groups
from hub.channel_layer import HubPubSubChannelLayer, Inbox
from tests.conftest import communicator, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_inbox__hands_items_out_in_arrival_order():
    inbox = Inbox()
    for item in (b"one", ("two", None), b"three"):
        inbox.put_nowait(item)

    got = [await inbox.get() for _ in range(3)]

    assert got == [b"one", ("two", None), b"three"]
    assert inbox.empty()


async def test_inbox__get_waits_for_the_next_put():
    inbox = Inbox()
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # let it start waiting
    assert not waiting.done()

    inbox.put_nowait(b"late")

    assert await asyncio.wait_for(waiting, timeout=1) == b"late"


def test_settings__run_on_the_hubs_layer():
    assert isinstance(get_channel_layer(), HubPubSubChannelLayer)


async def _numsub(layer, channel: str) -> int:
    shard = layer.loop_layer()._get_shard(channel)
    [(_, count)] = await shard._redis.pubsub_numsub(channel)
    return count


async def test_group_send__each_member_gets_its_own_copy():
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("layer-copies", channel)

    await layer.group_send("layer-copies", {"type": "topic.event", "frames": ["x"]})
    messages = [
        await asyncio.wait_for(layer.receive(channel), timeout=3)
        for channel in channels
    ]
    messages[0]["frames"] = ["changed by one consumer"]

    assert messages[1] == messages[2] == {"type": "topic.event", "frames": ["x"]}
    assert messages[0] is not messages[1]
    for channel in channels:
        await layer.group_discard("layer-copies", channel)
        await layer.loop_layer().discard_channel(channel)


async def test_discard_channel__unsubscribes_it_from_redis():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    assert await _numsub(layer, channel) == 1

    await layer.loop_layer().discard_channel(channel)

    assert channel not in layer.loop_layer().channels
    assert await _numsub(layer, channel) == 0


async def _connected_channel(user) -> tuple:
    """A socket for ``user`` past its hello, and the name of its channel."""
    layer = get_channel_layer()
    before = set(layer.loop_layer().channels)
    comm = communicator("/ws/notifications/", user)
    assert (await comm.connect())[0]
    await receive_until(comm, "hello")
    [channel] = set(layer.loop_layer().channels) - before
    return comm, channel


async def test_consumer__layer_messages_arrive_in_the_order_sent(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    for seq in range(20):
        frame = f'{{"type":"event","seq":{seq}}}'
        await layer.send(channel, {"type": "topic.event", "frames": [frame]})

    got = [(await comm.receive_json_from(timeout=3))["seq"] for _ in range(20)]
    assert got == list(range(20))
    await comm.disconnect()


async def test_consumer__client_frames_are_answered_between_layer_messages(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    await comm.send_json_to({"type": "ping"})
    await layer.send(channel, {"type": "topic.event", "frames": ['{"type":"event"}']})
    await comm.send_json_to({"type": "ping"})

    got = [(await comm.receive_json_from(timeout=3))["type"] for _ in range(3)]
    assert sorted(got) == ["event", "pong", "pong"]
    await comm.disconnect()


async def test_consumer__disconnect_leaves_no_channel_behind(alice):
    comm, channel = await _connected_channel(alice)
    layer = get_channel_layer()

    await comm.disconnect()

    assert channel not in layer.loop_layer().channels
    assert await _numsub(layer, channel) == 0


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)
async def test_consumer__on_another_layer_still_gets_group_messages(alice):
    from channels.layers import channel_layers

    channel_layers.backends.clear()  # build the in-memory layer from the override
    try:
        comm = communicator("/ws/notifications/", alice)
        assert (await comm.connect())[0]
        await receive_until(comm, "hello")

        await get_channel_layer().group_send(
            groups.user(alice.pk),
            {"type": "notification.read", "frames": ['{"type":"unread","unread":0}']},
        )

        assert await receive_until(comm, "unread") == {"type": "unread", "unread": 0}
        await comm.send_json_to({"type": "ping"})
        assert await receive_until(comm, "pong") == {"type": "pong"}
        await comm.disconnect()
    finally:
        channel_layers.backends.clear()
