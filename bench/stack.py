"""The processes and stores `make bench` runs against, and their clean-up.

Everything started here is in a process group of its own and is stopped by
:meth:`Stack.close`, which the bench runs on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tools.devstack import free_port, procfile

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "bench"
START_TIMEOUT_SECS = 60.0
CLIENT_REPLY_TIMEOUT_SECS = 180.0
PG_ADDRESS = ("127.0.0.1", 5432)
# The bench's own Redis database number (make test uses 15).
REDIS_DB = 13


def _vapid_private_key() -> str:
    from delivery.webpush import new_private_key_pem

    return new_private_key_pem()


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def postgres_answers() -> bool:
    try:
        with socket.create_connection(PG_ADDRESS, timeout=0.5):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Client:
    """The Node load client (bench/client.js): one JSON command per line."""

    def __init__(self, log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            ["node", str(BENCH_DIR / "client.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=BENCH_DIR,
            start_new_session=True,
        )

    def call(self, cmd: str, timeout: float = CLIENT_REPLY_TIMEOUT_SECS, **args):
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"load client gave no answer to {cmd} in {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("load client exited; see its log")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"load client: {reply['error']}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        _stop(self.proc)
        self._log.close()


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


BENCH_JWT_SECRET = "bench-connection-token-secret-0123456789abcdef"  # noqa: S105


class Stack:
    """The bench's processes (web, worker, floor, client) and its database."""

    def __init__(self, log_dir: Path, redis_url: str) -> None:
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        # By web process name: its command and environment (restart_web).
        self.webs: dict[str, tuple[str, dict[str, str]]] = {}
        self.client: Client | None = None
        self.extra_clients: dict[str, Client] = {}
        self.pg_database: str | None = None
        self.sqlite_path: Path | None = None
        tag = f"hubbench{os.getpid()}"
        base = redis_url.rsplit("/", 1)[0] if redis_url.count("/") >= 3 else redis_url
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "false",  # served over plain HTTP
            "METRICS_PUBLIC": "true",  # hub_metrics() reads /metrics
            "DJANGO_SECRET_KEY": "bench-secret-key-not-for-deployment",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "REDIS_URL": f"{base}/{REDIS_DB}",
            "CHANNEL_LAYER_PREFIX": tag,
            "CELERY_QUEUE": tag,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            # Connection tokens for the storm's subscribers (bench.run).
            "HUB_JWT_SECRET": BENCH_JWT_SECRET,
            # The push scenario pushes to a local push service over http://.
            "WEBPUSH_VAPID_PRIVATE_KEY": _vapid_private_key(),
            "WEBPUSH_ALLOW_HTTP_ENDPOINTS": "true",
        }
        self.env.pop("CELERY_BROKER_URL", None)

    # --- database -----------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """PostgreSQL when it answers on 127.0.0.1:5432 (database ``name``, created
        here and dropped in close()), else a fresh SQLite file under var/bench/."""
        if postgres_answers():
            import psycopg

            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            self.pg_database = name
            url = f"postgres://postgres@127.0.0.1:5432/{name}"
        else:
            self.sqlite_path = BASE_DIR / "var" / "bench" / f"{name}.sqlite3"
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.sqlite_path}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{self.sqlite_path}"
        self.env["DATABASE_URL"] = url
        return url

    def _drop_database(self) -> None:
        if self.pg_database:
            import psycopg

            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                conn.execute(
                    f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)'
                )
            self.pg_database = None
        if self.sqlite_path:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.sqlite_path}{suffix}").unlink(missing_ok=True)
            self.sqlite_path = None

    # --- processes ----------------------------------------------------------------

    def start(self, name: str, command: str, **env: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (child keeps it)
        proc = subprocess.Popen(
            ["/bin/sh", "-c", "exec " + command],
            env={**self.env, **env},
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = proc
        return proc

    def start_web(
        self, name: str, app: str = "hub.asgi:application", **env: str
    ) -> str:
        """The Procfile's web command (its flags as they are), serving ``app``."""
        port = free_port()
        command = procfile()["web"].replace("hub.asgi:application", app)
        self.start(name, command, PORT=str(port), **env)
        self.webs[name] = (command, {"PORT": str(port), **env})
        base_url = f"http://127.0.0.1:{port}"
        self._wait_http(name, base_url + "/healthz")
        return base_url

    def restart_web(self, name: str) -> tuple[float, float]:
        """Stop web process ``name`` as a deploy does (SIGTERM: uvicorn closes
        its sockets with 1012 and drains for up to its graceful timeout), then
        start it again on the same port; the monotonic times the old one had
        exited and the new one answered."""
        command, env = self.webs[name]
        self.stop(name)
        exited_at = time.monotonic()
        self.start(name, command, **env)
        self._wait_http(name, f"http://127.0.0.1:{env['PORT']}/healthz", pause=0.02)
        return exited_at, time.monotonic()

    def start_node(self, name: str, script: str, **env: str) -> str:
        """``node bench/<script>``, a server that listens on $PORT and answers
        ``GET /healthz``; its base URL."""
        port = free_port()
        self.start(
            name, f"node {shlex.quote(str(BENCH_DIR / script))}", PORT=str(port), **env
        )
        base_url = f"http://127.0.0.1:{port}"
        self._wait_http(name, base_url + "/healthz")
        return base_url

    def start_worker(self, name: str = "worker") -> None:
        node = f"bench-{os.getpid()}@{socket.gethostname()}"
        command = procfile()["worker"] + " -I bench.tasks -n " + shlex.quote(node)
        self.start(name, command)
        from hub.celery import app

        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            self._check_alive(name)
            if app.control.ping([node], timeout=0.5):
                return
        raise TimeoutError(f"{name} did not answer; see {self.log_dir}/{name}.log")

    def stop(self, name: str) -> None:
        _stop(self.processes.pop(name))

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def _wait_http(self, name: str, url: str, pause: float = 0.1) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(pause)  # polling a starting process; nothing to wait on
        raise TimeoutError(f"{name} did not answer; see {self.log_dir}/{name}.log")

    def _check_alive(self, name: str) -> None:
        if self.processes[name].poll() is not None:
            log = (self.log_dir / f"{name}.log").read_text()[-3000:]
            raise RuntimeError(f"{name} exited:\n{log}")

    def start_client(self) -> Client:
        self.client = Client(self.log_dir / "client.log")
        return self.client

    def start_extra_client(self, name: str) -> Client:
        """Another load client, for sockets past one process's open-file limit;
        stopped by close() or stop_extra_client()."""
        client = Client(self.log_dir / f"{name}.log")
        self.extra_clients[name] = client
        return client

    def stop_extra_client(self, name: str) -> None:
        self.extra_clients.pop(name).close()

    def close(self) -> None:
        """Stop everything started here and drop the bench's database."""
        if self.client:
            self.client.close()
            self.client = None
        for name in list(self.extra_clients):
            self.stop_extra_client(name)
        for name in list(self.processes):
            self.stop(name)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        self._drop_database()
