"""Where an idle socket's memory goes: N sockets opened in-process, measured.

    .venv/bin/python -m tools.devstack exec .venv/bin/python -m bench.socket_memory
    ... -m bench.socket_memory --sockets 2000 --top 30 --frames 1
    ... -m bench.socket_memory --profile --sockets 1000   # the connect path's CPU
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_probe_mem ... (else SQLite)

Drives ``hub.asgi:application`` and the floor (bench/floor.py) through the same
small stand-in for uvicorn (one task per socket running the app, a scope shaped
like uvicorn's, the Node client's handshake headers with permessage-deflate and
``Authorization: Token``), on the real Redis channel layer and a database of its
own (migrated, and filled with one user and token per socket). Each socket
counts as open once the hub's ``hello`` (the floor's) is sent. For each app it
prints the Python memory per idle socket (``tracemalloc``: the difference of
snapshots before and after the N sockets, by file and line and by file), the
count of garbage-collected objects per socket by type (tasks, futures,
coroutines, dicts...), and what is left per socket once all are closed (a leak
would show there). The hub's figure less the floor's is what the hub adds in
Python; the bench's RSS row adds the server's own (uvicorn, websockets) and the
allocator's overhead to both.

With ``--profile`` it measures no memory: it opens the hub's sockets under
cProfile and prints the process's CPU time per connect and the event loop's
functions by their own and cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import gc
import os
import pstats
import sys
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PATH = "/ws/notifications/"
ORIGIN_FREE_HOST = b"127.0.0.1:8000"


def _environment() -> None:
    tag = f"memprobe{os.getpid()}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "probe-secret-key-not-for-deployment")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_HTTPS", "false")
    os.environ.setdefault(
        "DATABASE_URL", f"sqlite:///{VAR_DIR / 'socket_memory.sqlite3'}"
    )
    os.environ["CHANNEL_LAYER_PREFIX"] = tag
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _prepare_database(sockets: int) -> list[str]:
    """A fresh database with one user and API token per socket; the keys."""
    url = os.environ["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        VAR_DIR.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        import psycopg

        base, _, name = url.rpartition("/")
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"probe{i}") for i in range(sockets)
    )
    tokens = Token.objects.bulk_create(
        Token(user=u, key=Token.generate_key()) for u in users
    )
    return [t.key for t in tokens]


def _scope(token: str | None) -> dict:
    """A WebSocket scope as uvicorn makes it for the bench's Node client."""
    headers = [
        (b"host", ORIGIN_FREE_HOST),
        (b"connection", b"Upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (
            b"sec-websocket-extensions",
            b"permessage-deflate; client_max_window_bits",
        ),
        (b"origin", b"http://" + ORIGIN_FREE_HOST),
    ]
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "root_path": "",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": headers,
        "subprotocols": [],
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }


class _Socket:
    """The server's side of one socket, as the app sees it through receive/send."""

    __slots__ = ("_messages", "_waiter", "closed", "opened", "task")

    def __init__(self) -> None:
        self._messages = collections.deque([{"type": "websocket.connect"}])
        self._waiter: asyncio.Future | None = None
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = False
        self.task: asyncio.Task | None = None

    async def receive(self) -> dict:
        while not self._messages:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._messages.popleft()

    async def send(self, message: dict) -> None:
        kind = message["type"]
        if kind == "websocket.send" and not self.opened.done():
            self.opened.set_result(message.get("text"))
        elif kind == "websocket.close":
            self.closed = True
            if not self.opened.done():
                self.opened.set_exception(RuntimeError(f"closed: {message}"))

    def disconnect(self) -> None:
        self._messages.append({"type": "websocket.disconnect", "code": 1000})
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _gc_counts() -> collections.Counter:
    gc.collect()
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


async def _open(app, tokens: list[str | None], at_once: int) -> list[_Socket]:
    sockets = []
    for start in range(0, len(tokens), at_once):
        batch = []
        for token in tokens[start : start + at_once]:
            socket = _Socket()
            socket.task = asyncio.create_task(
                app(_scope(token), socket.receive, socket.send)
            )
            batch.append(socket)
        await asyncio.gather(*(s.opened for s in batch))
        sockets.extend(batch)
    return sockets


async def _close(sockets: list[_Socket]) -> None:
    for socket in sockets:
        socket.disconnect()
    await asyncio.gather(*(s.task for s in sockets), return_exceptions=True)


async def _measure(name: str, app, tokens: list, args) -> float:
    # Warm: first connects fill caches, pools, the layer's shard connections.
    warm = await _open(app, tokens[: args.warm], args.at_once)
    await asyncio.sleep(0.2)
    measured = tokens[args.warm : args.warm + args.sockets]
    counts_before = _gc_counts()
    before = tracemalloc.take_snapshot()
    started = time.perf_counter()
    sockets = await _open(app, measured, args.at_once)
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let leases, subscriptions and timers settle
    counts_after = _gc_counts()
    after = tracemalloc.take_snapshot()
    n = len(sockets)
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(filters), after.filter_traces(filters)
    by_line = after.compare_to(before, "traceback" if args.frames > 1 else "lineno")
    total = sum(d.size_diff for d in by_line)
    print(f"\n== {name}: {n} sockets, {seconds:.1f} s to open (timing: see uptime)")
    print(f"Python memory per idle socket (tracemalloc): {total / n / 1024:.2f} KiB")
    print(f"\n-- by line, bytes per socket (top {args.top}):")
    for diff in by_line[: args.top]:
        frames = diff.traceback.format(limit=args.frames, most_recent_first=True)
        where = " <- ".join(f.strip() for f in frames if f.strip().startswith("File"))
        print(f"{diff.size_diff / n:9.1f}  {diff.count_diff / n:6.2f} blocks  {where}")
    print("\n-- by file, bytes per socket:")
    for diff in after.compare_to(before, "filename")[: args.top]:
        if abs(diff.size_diff / n) >= 8:
            print(f"{diff.size_diff / n:9.1f}  {diff.traceback[0].filename}")
    print("\n-- objects per socket (gc-tracked, by type, at least 0.5):")
    for kind, count in (counts_after - counts_before).most_common():
        if count / n >= 0.5:
            print(f"{count / n:7.2f}  {kind}")
    await _close(sockets)
    sockets.clear()
    await asyncio.sleep(0.5)
    gc.collect()
    left = (
        tracemalloc.take_snapshot().filter_traces(filters).compare_to(before, "lineno")
    )
    print(
        "\nleft per socket once closed: "
        f"{sum(d.size_diff for d in left) / n / 1024:.2f} KiB"
    )
    await _close(warm)
    return total / n / 1024


async def _profile(app, tokens: list, args) -> None:
    """The connect path's CPU: process time per connect (every thread of this
    process: the loop and the database threads; not PostgreSQL's or Redis's),
    and cProfile of the event loop's thread: functions by own and by
    cumulative time."""
    warm = await _open(app, tokens[: args.warm], args.at_once)
    measured = tokens[args.warm : args.warm + args.sockets]
    profiler = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    profiler.enable()
    sockets = await _open(app, measured, args.at_once)
    profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(sockets)
    print(f"\n== hub connects: {n} in {wall:.2f} s (load: see uptime)")
    print(f"process CPU per connect, all threads: {cpu / n * 1000:.2f} ms")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    await _close(sockets)
    await _close(warm)


async def _main(args, tokens: list[str]) -> None:
    from bench.floor import app as floor
    from hub.asgi import application

    gc.freeze()  # as the web process does at startup (hub/asgi.py)
    if args.profile:
        await _profile(application, tokens, args)
        return
    tracemalloc.start(args.frames)
    results = {}
    if args.app in ("floor", "both"):
        results["floor"] = await _measure("floor", floor, [None] * len(tokens), args)
    if args.app in ("hub", "both"):
        results["hub"] = await _measure("hub", application, tokens, args)
    if len(results) == 2:
        hub, floor = results["hub"], results["floor"]
        print(
            f"\nhub {hub:.2f} KiB, floor {floor:.2f} KiB per socket: "
            f"the hub adds {hub - floor:.2f} KiB in Python"
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=50, help="sockets opened first")
    parser.add_argument("--at-once", type=int, default=100, help="connects in flight")
    parser.add_argument("--app", choices=("hub", "floor", "both"), default="both")
    parser.add_argument("--top", type=int, default=25, help="lines and files shown")
    parser.add_argument("--frames", type=int, default=1, help="traceback depth")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="no memory figures: the hub's connect path under cProfile instead",
    )
    args = parser.parse_args(argv)
    _environment()
    sys.path.insert(0, str(BASE_DIR))
    tokens = _prepare_database(args.warm + args.sockets)  # before any loop runs
    asyncio.run(_main(args, tokens))


if __name__ == "__main__":
    main(sys.argv[1:])
