"""The channel-layer hosts setting, against real Redis servers and a real Sentinel."""

import asyncio

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.exceptions import ImproperlyConfigured

from hub.settings import channel_layer_hosts
from tools.redis_server import RedisServer


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
    with RedisServer(tmp_path / "a") as a, RedisServer(tmp_path / "b") as b:
        hosts = channel_layer_hosts([a.url, b.url], [], "")
        layer = RedisPubSubChannelLayer(hosts=hosts, prefix="shardtest")
        groups = [f"user.{i}" for i in range(20)]

        assert await round_trip(layer, groups) == set(groups)
        used = {layer._get_layer()._get_shard(g).host["address"] for g in groups}
        assert len(used) == 2  # both servers carry some of the groups


async def test_channel_layer__through_sentinel(tmp_path):
    with RedisServer(tmp_path / "master") as master:
        conf = tmp_path / "sentinel.conf"
        conf.write_text(f"sentinel monitor hubmaster 127.0.0.1 {master.port} 1\n")
        with RedisServer(tmp_path / "sentinel", str(conf), "--sentinel") as sentinel:
            hosts = channel_layer_hosts([], [f"127.0.0.1:{sentinel.port}"], "hubmaster")
            layer = RedisPubSubChannelLayer(hosts=hosts, prefix="sentineltest")

            assert await round_trip(layer, ["user.1", "topic.a"]) == {
                "user.1",
                "topic.a",
            }
