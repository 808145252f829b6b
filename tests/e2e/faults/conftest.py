"""Fixtures for the fault tests: hubs of their own, a private Redis, socket
clients that count every notification id they are pushed.

Each hub here is a ``LiveHub`` (the Procfile's own commands as real processes);
the tests break its processes or the servers under it and count, by id, what
every socket and every recipient row got.
"""

import asyncio
import json
import os
import shlex
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from hub.celery import app as celery_app
from tests.e2e.conftest import LiveHub, database_url, free_port
from tools.redis_server import RedisServer

FRAME_TIMEOUT_SECS = 10.0
WAIT_SECS = 30.0


def hub_env(**overrides: str) -> dict[str, str]:
    """The environment of a production-mode hub on the test database."""
    return {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "false",  # served over plain HTTP
        "DJANGO_SECRET_KEY": "faults-secret-key-for-tests-only",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(),
        "PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def start_worker(hub: LiveHub, name: str, *, wait: bool = True) -> str:
    """A Celery worker named ``<name>-<port>@host``; returns its node name."""
    node = f"{name}-{hub.port}@{socket.gethostname()}"
    hub.start(name, f"--concurrency 1 -n {node}", entry="worker")
    if wait:
        wait_worker(hub, name, node)
    return node


def wait_worker(hub: LiveHub, name: str, node: str) -> None:
    """Wait until ``node`` answers a ping (on the hub's own broker, if it has
    one: then as /healthz counts workers, through the hub)."""
    if hub.env.get("CELERY_BROKER_URL", hub.env["REDIS_URL"]) != os.environ.get(
        "REDIS_URL"
    ):

        def answers():
            hub._check_alive(name)
            response = httpx.get(hub.base_url + "/healthz", timeout=5)
            return response.json()["workers"] > 0
    else:

        def answers():
            hub._check_alive(name)
            return celery_app.control.ping([node], timeout=0.5)

    wait_for(answers, f"worker {node} to answer; see {hub.log_dir}")


def kill_group(hub: LiveHub, name: str) -> None:
    """SIGKILL a process and every child (a worker's prefork pool): a crash."""
    proc = hub.processes.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session=True
    proc.wait()


def wait_for(predicate, what: str, timeout: float = WAIT_SECS):
    """Poll ``predicate`` (an HTTP resource or a row count) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)  # polling state another process changes, not a race fix
    raise TimeoutError(f"timed out waiting for {what}")


def health(base_url: str) -> int | None:
    try:
        return httpx.get(base_url + "/healthz", timeout=3).status_code
    except httpx.HTTPError:
        return None


def api(base_url: str, user, method: str, path: str, payload=None) -> httpx.Response:
    return httpx.request(
        method,
        base_url + path,
        json=payload,
        headers={"Authorization": f"Token {user.auth_token.key}"},
        timeout=15,
    )


class Socket:
    """A /ws/notifications/ client that records every notification id it sees.

    ``live`` counts ids pushed live on this connection; ``resumed`` ids replayed
    by ``resume``; ``last_id`` is the highest id seen, what a client resumes from.
    """

    def __init__(self, ws_url: str, user) -> None:
        self.ws_url = ws_url
        self.user = user
        self.live: Counter[int] = Counter()
        self.resumed: Counter[int] = Counter()
        self.titles: dict[int, str] = {}
        self.last_id = 0
        self.ws = None

    async def open(self, ws_url: str | None = None) -> dict:
        self.ws_url = ws_url or self.ws_url
        self.ws = await connect(
            self.ws_url + "/ws/notifications/",
            additional_headers={"Authorization": f"Token {self.user.auth_token.key}"},
        )
        hello = await self.frame()
        assert hello["type"] == "hello"
        if not self.last_id:
            self.last_id = hello["last_id"]
        return hello

    async def frame(self, timeout: float = FRAME_TIMEOUT_SECS) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    def _record(self, frame: dict, into: Counter) -> None:
        n = frame["notification"]
        into[n["id"]] += 1
        self.titles[n["id"]] = n["title"]
        self.last_id = max(self.last_id, n["id"])

    async def until_title(self, title: str, timeout: float = FRAME_TIMEOUT_SECS):
        """Read live frames until the notification titled ``title`` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.frame(max(0.01, deadline - time.monotonic()))
            if frame["type"] == "notification":
                self._record(frame, self.live)
                if frame["notification"]["title"] == title:
                    return frame

    async def resume(self, last_id: int | None = None) -> int:
        """Resume from ``last_id`` (default: the highest id seen); record what
        comes; return the count."""
        after = self.last_id if last_id is None else last_id
        count = 0
        while True:
            await self.ws.send(json.dumps({"type": "resume", "last_id": after}))
            while (frame := await self.frame())["type"] != "resumed":
                if frame["type"] == "notification":
                    self._record(frame, self.resumed)
            count += frame["count"]
            if not frame.get("more"):
                return count
            after = frame["last_id"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def assert_once_each(sock: Socket, expected_ids: set[int]) -> None:
    """Every expected id reached this socket, none twice live, none twice by
    resume, nothing else: what a client that ignores ids it has ends up with."""
    seen = set(sock.live) | set(sock.resumed)
    twice = {i: c for i, c in (sock.live | sock.resumed).items() if c > 1}
    who = sock.user.username
    assert not expected_ids - seen, f"{who} lost {sorted(expected_ids - seen)}"
    assert not twice, f"{who} got duplicates {twice}"
    assert not seen - expected_ids, f"{who} got others' {sorted(seen - expected_ids)}"


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
