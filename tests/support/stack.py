"""A real hub for end-to-end tests: the Procfile's own processes (uvicorn, a
Celery worker) against the test database and the test run's Redis, and the
helpers that drive and break them."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.db import connection

from hub.celery import app as celery_app
from tools.devstack import free_port, procfile

BASE_DIR = Path(__file__).resolve().parents[2]


START_TIMEOUT_SECS = 60.0


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


class LiveHub:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.worker_name = f"e2e-{self.port}@{socket.gethostname()}"

    def start(
        self,
        name: str,
        extra: str = "",
        *,
        entry: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start the Procfile's ``entry`` (default: ``name``) as process ``name``,
        with ``env`` on top of the hub's environment."""
        command = procfile()[entry or name] + (" " + extra if extra else "")
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open)
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", "exec " + command],
            env={**self.env, **(env or {})},
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self, name: str, **env: str) -> str:
        """Another web process (the Procfile's ``web``) on a port of its own, for
        tests that need sockets on two processes; returns its base URL, healthy."""
        port = free_port()
        self.start(name, entry="web", env={**env, "PORT": str(port)})
        base_url = f"http://127.0.0.1:{port}"
        self.wait_web(name, base_url)
        return base_url

    def stop(self, name: str) -> None:
        proc = self.processes.pop(name)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies without closing a socket or saying goodbye."""
        proc = self.processes.pop(name)
        proc.kill()
        proc.wait()

    def wait_web(self, name: str = "web", base_url: str | None = None) -> None:
        base_url = base_url or self.base_url
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(
            f"{name} did not become healthy; see {self.log_dir}/{name}.log"
        )

    def wait_worker(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            self._check_alive("worker")
            if celery_app.control.ping([self.worker_name], timeout=0.5):
                return
        raise TimeoutError(f"worker did not answer; see {self.log_dir}/worker.log")

    def _check_alive(self, name: str) -> None:
        if self.processes[name].poll() is not None:
            log = (self.log_dir / f"{name}.log").read_text()[-3000:]
            raise RuntimeError(f"{name} exited:\n{log}")


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
