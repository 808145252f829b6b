"""The channel-layer hosts setting, against real Redis servers and a real Sentinel."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

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


BASE_DIR = Path(__file__).resolve().parents[2]
# A production environment as an operator writes it: DJANGO_HTTPS left unset.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7Gq2-" + "k" * 20 + "Zp9_" + "m" * 26,
    "DJANGO_ALLOWED_HOSTS": "hub.example.com",
}
# Requests made in a process of its own, with the settings its environment gives.
REQUESTS_SCRIPT = """
import django, json
django.setup()
from django.test import Client
client = Client(HTTP_HOST="hub.example.com")
plain = client.get("/login/")
proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "proxied": proxied.status_code,
    "hsts": proxied.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(proxied.cookies["csrftoken"]["secure"]),
    "healthz": client.get("/healthz").status_code,
}))
"""


def _without_test_overrides() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}


def run_in_production(args: list[str], **env_vars: str) -> subprocess.CompletedProcess:
    env = {**_without_test_overrides(), **PRODUCTION_ENV, **env_vars}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "hub.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_https__production_configuration_passes_check_deploy():
    result = run_in_production(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    )

    assert result.returncode == 0, result.stderr[-2000:]


def test_https__on_by_default_in_production():
    result = run_in_production(["-c", REQUESTS_SCRIPT])
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"] == [301, "https://hub.example.com/login/"]
    assert seen["proxied"] == 200  # the proxy's X-Forwarded-Proto is trusted
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie_secure"] is True
    assert seen["healthz"] != 301  # probes reach the process over plain HTTP


def test_https__false_serves_plain_http():
    result = run_in_production(["-c", REQUESTS_SCRIPT], DJANGO_HTTPS="false")
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"] == [200, None]
    assert seen["hsts"] is None
    assert seen["csrf_cookie_secure"] is False


@pytest.mark.parametrize(
    "hosts", ["*", ".example.com", "hub.example.com,*.example.com"]
)
def test_allowed_hosts__a_wildcard_stops_the_hub_at_start(hosts):
    result = run_in_production(["manage.py", "check"], DJANGO_ALLOWED_HOSTS=hosts)

    assert result.returncode != 0
    assert "is a wildcard" in result.stderr
