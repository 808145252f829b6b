"""The base consumer while the channel layer's Redis is down: a handshake is
accepted and closed with 1013 (try again later), which clients retry with
backoff, and a socket opened once Redis is back works.

The layer runs on a private redis-server that each test kills; the rest of the
hub (the socket counts, the cache) stays on the test run's Redis.
"""

import asyncio
import time

import pytest
from channels.layers import get_channel_layer

from realtime import groups
from realtime.consumers import CLOSE_TRY_AGAIN_LATER
from tests.conftest import communicator, receive_until
from tools.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

CHANNEL_MADE_WITHIN_SECS = 5.0
ATTEMPTS = 20  # each lands on either shard: 2**-20 to miss the live one


def layer_on(urls: list[str], settings) -> dict:
    """CHANNEL_LAYERS with the test run's layer moved to ``urls``."""
    default = settings.CHANNEL_LAYERS["default"]
    return {"default": {**default, "CONFIG": {**default["CONFIG"], "hosts": urls}}}


@pytest.fixture
def layer_redis(tmp_path, settings):
    """The channel layer alone on a private redis-server the test may kill."""
    server = RedisServer(tmp_path).start()
    settings.CHANNEL_LAYERS = layer_on([server.url], settings)
    yield server
    server.stop()


async def closed_with(comm) -> int:
    """Accepted, then closed: the close code (the handshake did not fail)."""
    connected, _ = await comm.connect(timeout=10)
    assert connected
    message = await comm.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def opens(alice) -> None:
    comm = communicator("/ws/notifications/", alice)
    connected, _ = await comm.connect(timeout=10)
    assert connected
    await receive_until(comm, "hello")
    await comm.disconnect()


async def test_handshake__layer_redis_down__closed_1013(
    consumer_loop, layer_redis, alice
):
    """Before: the consumer could not make its channel and the handshake
    failed (uvicorn answers HTTP 500)."""
    layer = get_channel_layer().loop_layer()
    layer_redis.kill()

    comm = communicator("/ws/notifications/", alice)
    assert await closed_with(comm) == CLOSE_TRY_AGAIN_LATER
    await comm.wait(timeout=5)
    assert not layer.channels  # the refused socket's inbox is not kept

    layer_redis.start()
    await opens(alice)


async def test_handshake__the_groups_shard_down__closed_1013(
    consumer_loop, tmp_path, settings, alice
):
    """A layer sharded over two Redis servers, the one carrying the user's
    group down: a socket whose own channel is on the other one gets its channel
    but cannot join, and is closed with 1013 too (before: HTTP 500)."""
    servers = [RedisServer(tmp_path / name).start() for name in ("a", "b")]
    settings.CHANNEL_LAYERS = layer_on([s.url for s in servers], settings)
    try:
        layer = get_channel_layer().loop_layer()
        group_shard, _ = layer.route(groups.user(alice.pk))
        down = servers[layer.shards().index(group_shard)]
        down.kill()

        for _ in range(ATTEMPTS):  # until the channel lands on the live shard
            comm = communicator("/ws/notifications/", alice)
            comm.future  # noqa: B018 (starts the consumer: it makes its channel)
            channel = await made_channel(layer)
            on_live_shard = layer._get_shard(channel) is not group_shard
            assert await closed_with(comm) == CLOSE_TRY_AGAIN_LATER
            await comm.wait(timeout=5)
            if on_live_shard:
                break
        else:
            raise AssertionError(f"no channel on the live shard in {ATTEMPTS} tries")

        down.start()
        await opens(alice)
    finally:
        for server in servers:
            server.stop()


async def made_channel(layer) -> str:
    """The name of the channel a starting consumer makes (the layer has one)."""
    deadline = time.monotonic() + CHANNEL_MADE_WITHIN_SECS
    while not layer.channels:
        assert time.monotonic() < deadline, "the consumer made no channel"
        await asyncio.sleep(0.005)  # polling the layer the consumer fills
    return next(iter(layer.channels))
