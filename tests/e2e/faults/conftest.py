"""Fixtures for the fault tests: hubs of their own, a private Redis, socket
clients that count every notification id they are pushed.

Each hub here is a ``LiveHub`` (the Procfile's own commands as real processes);
the tests break its processes or the servers under it and count, by id, what
every socket and every recipient row got.
"""

import shlex

import pytest

from tests.support.stack import LiveHub, hub_env, start_worker
from tools.redis_server import RedisServer


@pytest.fixture(scope="package", autouse=True)
def session_worker_paused(live_hub):
    """The session hub's worker consumes the same Celery queue as the hubs here:
    while these tests kill and count their own workers, it must take no task."""
    live_hub.stop("worker")
    yield
    live_hub.start("worker", "--concurrency 1 -n " + shlex.quote(live_hub.worker_name))
    live_hub.wait_worker()


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def hub_factory(tmp_path_factory):
    """Start hubs (web + one worker) with extra environment; stopped afterwards."""
    hubs: list[LiveHub] = []

    def make(*, worker: bool = True, **env: str) -> LiveHub:
        hub = LiveHub(hub_env(**env), tmp_path_factory.mktemp("faults-hub"))
        hubs.append(hub)
        hub.start("web")
        hub.wait_web()
        if worker:
            start_worker(hub, "worker")
        return hub

    yield make
    for hub in hubs:
        for name in list(hub.processes):
            hub.stop(name)
