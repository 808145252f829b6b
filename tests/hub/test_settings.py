"""The channel-layer hosts setting, against real Redis servers and a real Sentinel."""

import asyncio
import contextlib
import shutil
import subprocess
import time

import pytest
import redis
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.exceptions import ImproperlyConfigured

from hub.settings import channel_layer_hosts
from tests.e2e.conftest import free_port

START_TIMEOUT_SECS = 10.0


def test_channel_layer_hosts__urls_pass_through_for_sharding():
    urls = ["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"]

    assert channel_layer_hosts(urls, [], "") == urls


def test_channel_layer_hosts__sentinels_become_one_master_entry():
    hosts = channel_layer_hosts(["redis://x"], ["s1:26379", "10.0.0.3:26380"], "hub")

    assert hosts == [
        {"master_name": "hub", "sentinels": [("s1", 26379), ("10.0.0.3", 26380)]}
    ]


def test_channel_layer_hosts__sentinels_without_master__refused():
    with pytest.raises(ImproperlyConfigured, match="SENTINEL_MASTER"):
        channel_layer_hosts([], ["s1:26379"], "")


@contextlib.contextmanager
def redis_server(*args: str, port: int | None = None):
    """A private redis-server (or sentinel) on a free port; yields the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server on PATH")
    port = port or free_port()
    proc = subprocess.Popen(
        [binary, *args, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + START_TIMEOUT_SECS
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server {args} did not start") from None
                time.sleep(0.05)  # polling a starting server
        yield port
    finally:
        client.close()
        proc.kill()
        proc.wait()


async def round_trip(layer: RedisPubSubChannelLayer, groups: list[str]) -> set[str]:
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    for group in groups:
        await layer.group_send(group, {"type": "x.y", "group": group})
    got = {(await asyncio.wait_for(layer.receive(channel), 5))["group"] for _ in groups}
    await layer.flush()
    return got


async def test_channel_layer__sharded_over_two_servers(tmp_path):
    with redis_server() as a, redis_server() as b:
        hosts = channel_layer_hosts(
            [f"redis://127.0.0.1:{a}/0", f"redis://127.0.0.1:{b}/0"], [], ""
        )
        layer = RedisPubSubChannelLayer(hosts=hosts, prefix="shardtest")
        groups = [f"user.{i}" for i in range(20)]

        assert await round_trip(layer, groups) == set(groups)
        used = {layer._get_layer()._get_shard(g).host["address"] for g in groups}
        assert len(used) == 2  # both servers carry some of the groups


async def test_channel_layer__through_sentinel(tmp_path):
    with redis_server() as master:
        conf = tmp_path / "sentinel.conf"
        conf.write_text(f"sentinel monitor hubmaster 127.0.0.1 {master} 1\n")
        with redis_server(str(conf), "--sentinel") as sentinel:
            hosts = channel_layer_hosts([], [f"127.0.0.1:{sentinel}"], "hubmaster")
            layer = RedisPubSubChannelLayer(hosts=hosts, prefix="sentineltest")

            assert await round_trip(layer, ["user.1", "topic.a"]) == {
                "user.1",
                "topic.a",
            }
