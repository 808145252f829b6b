"""Soak: thousands of sockets for minutes of mixed traffic against a real stack,
with the stack's Redis killed and started again in the middle.

    make soak                                  # 2,000 sockets for 600 s
    SOAK_SECS=180 make soak                    # shorter
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_soak make soak
    SOAK_REDIS_RESTART_AT_SECS=0 make soak     # no Redis restart

Starts a private redis-server of its own (tools/redis_server.py, on a free
port, no persistence) and the Procfile's ``web``, ``worker`` and ``beat`` (real
uvicorn and Celery, Beat's sweepers included) on it, on a fresh database
(SQLite under SOAK_VAR_DIR unless DATABASE_URL is set; a PostgreSQL database is
created if missing and must be the soak's own: it is flushed). Opens
SOAK_SOCKETS sockets (SOAK_CHAT_SOCKETS of them in SOAK_CHAT_ROOMS chat rooms,
the rest on /ws/notifications/, one user each) and runs, for SOAK_SECS:

- notifications: POST /api/notifications/ to 3 random users, SOAK_NOTIFY_PER_SEC;
- broadcasts: one to every user each SOAK_BROADCAST_EVERY_SECS;
- chat: every chat socket posts a message every SOAK_CHAT_EVERY_SECS;
- reconnects: SOAK_RECONNECTS_PER_SEC notification sockets a second drop and
  reconnect, resuming from the last id they saw, as a client does;
- a Redis restart: at SOAK_REDIS_RESTART_AT_SECS (default: half of SOAK_SECS;
  0 = none) the redis-server is SIGKILLed (everything in it is lost: queued
  tasks, subscriptions, socket counts) and started again on the same port
  SOAK_REDIS_DOWN_SECS (default 5) later.

A socket closed by the server, or refused (close 1013 while the channel layer's
Redis is down, or any failed connect), reconnects with the backoff of
static/hub/socket.js (full jitter, 0.25-0.5 s first, at most 10 s) and resumes
from its last id, as hub.js does. Errors are counted by phase: ``before`` the
kill, ``during`` the outage (from the kill until Redis answers again) and
``after``; a connect or request is charged to the phase it began in. A hub
process that exits is started again, as a process manager would, and reported.

At the end every socket resumes once more, and each user's stored ids are
compared with what its socket got (live or by resume): lost = stored but never
received; duplicated = received twice. Also reported: when Redis went down and
came back, errors per phase, reconnects, chat deliveries per phase (chat frames
are live only, not replayed, so messages posted during the outage are counted
apart), and the web process's RSS after SOAK_WARMUP_SECS against the end
(target: growth under 5 %), and from SOAK_WARMUP_SECS after Redis came back to
the end (whether the outage left it growing). The report is printed and written to
SOAK_VAR_DIR/soak-report.json (SOAK_VAR_DIR: var/ by default; the logs and the
redis-server's files go under it in soak/), with the first duplicates and how
each copy came (which connection, live or by resume). Exit code 1 when anything
was lost or duplicated, an error occurred before or after the outage, a hub
process exited, or the restart asked for did not happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tools.devstack import free_port, procfile
from tools.redis_server import RedisServer

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SOAK_VAR_DIR") or BASE_DIR / "var")

SOAK_SECS = int(os.environ.get("SOAK_SECS", "600"))
SOCKETS = int(os.environ.get("SOAK_SOCKETS", "2000"))
CHAT_SOCKETS = int(os.environ.get("SOAK_CHAT_SOCKETS", "100"))
CHAT_ROOMS = int(os.environ.get("SOAK_CHAT_ROOMS", "10"))
WARMUP_SECS = int(os.environ.get("SOAK_WARMUP_SECS", "30"))
NOTIFY_PER_SEC = float(os.environ.get("SOAK_NOTIFY_PER_SEC", "10"))
NOTIFY_RECIPIENTS = 3
BROADCAST_EVERY_SECS = float(os.environ.get("SOAK_BROADCAST_EVERY_SECS", "60"))
CHAT_EVERY_SECS = float(os.environ.get("SOAK_CHAT_EVERY_SECS", "10"))
RECONNECTS_PER_SEC = float(os.environ.get("SOAK_RECONNECTS_PER_SEC", "3"))
# Seconds into the traffic at which Redis is killed (0: never), and for how long.
REDIS_RESTART_AT_SECS = float(
    os.environ.get("SOAK_REDIS_RESTART_AT_SECS", str(SOAK_SECS / 2))
)
REDIS_DOWN_SECS = float(os.environ.get("SOAK_REDIS_DOWN_SECS", "5"))
RSS_SAMPLE_SECS = 10
CONNECTS_AT_ONCE = 50
START_TIMEOUT_SECS = 60
FRAME_TIMEOUT_SECS = 30
DRAIN_TIMEOUT_SECS = 180  # a fan-out lost with Redis is re-queued by Beat in ~90 s
RECOVER_TIMEOUT_SECS = 60  # for every socket to be back before the final resume
# static/hub/socket.js's backoff: full jitter over 0.5 s doubling, at most 10 s.
BACKOFF_BASE_SECS = 0.5
BACKOFF_MAX_SECS = 10.0
SOAK_ENV = (
    "SOAK_SECS",
    "SOAK_SOCKETS",
    "SOAK_CHAT_SOCKETS",
    "SOAK_CHAT_ROOMS",
    "SOAK_WARMUP_SECS",
    "SOAK_NOTIFY_PER_SEC",
    "SOAK_BROADCAST_EVERY_SECS",
    "SOAK_CHAT_EVERY_SECS",
    "SOAK_RECONNECTS_PER_SEC",
    "SOAK_REDIS_RESTART_AT_SECS",
    "SOAK_REDIS_DOWN_SECS",
)

_rng = random.Random()  # noqa: S311 (backoff jitter, not a secret)


def backoff_secs(attempt: int) -> float:
    """socket.js's backoffDelay: full jitter over an exponential window."""
    window = min(BACKOFF_MAX_SECS, BACKOFF_BASE_SECS * 2**attempt)
    return window / 2 + _rng.random() * window / 2


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, SOCKETS * 4 + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def soak_env(redis_url: str) -> dict[str, str]:
    tag = f"soak{os.getpid()}"
    database = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'soak.sqlite3'}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "false",  # served over plain HTTP
        "DJANGO_SECRET_KEY": "soak-secret-key-not-for-deployment",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database,
        # Everything on the soak's own redis-server, which it restarts.
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_LAYER_HOSTS": redis_url,
        "CHANNEL_LAYER_PREFIX": tag,
        "CELERY_QUEUE": tag,
        "PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
        # The soak's staff token is one bulk sender, as a service would be: the
        # per-user write throttle (120/min by default) is for people, not load.
        "API_WRITE_RATE": os.environ.get("API_WRITE_RATE", "100000/min"),
    }


def command_line(env: dict[str, str]) -> str:
    """The command that reproduces this run (the settings it was given)."""
    given = [f"{name}={os.environ[name]}" for name in SOAK_ENV if name in os.environ]
    if "DATABASE_URL" in os.environ:
        given.insert(0, f"DATABASE_URL={env['DATABASE_URL']}")
    return " ".join([*given, "make soak"])


def prepare_database(env: dict[str, str]) -> None:
    url = env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        import psycopg

        base, _, name = url.rpartition("/")
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        env=env,
        cwd=BASE_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not url.startswith("sqlite:///"):
        subprocess.run(
            [sys.executable, "manage.py", "flush", "--noinput"],
            env=env,
            cwd=BASE_DIR,
            check=True,
        )
        # flush empties Beat's schedule too: write its rows again.
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            env=env,
            cwd=BASE_DIR,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def create_users(env: dict[str, str]) -> tuple[list[tuple[int, str]], str]:
    """SOCKETS users with tokens, all following topic ``soak``; staff's token."""
    os.environ.update(env)  # this process reads the same database and Redis
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from chat.models import Room
    from notifications.models import Subscription, Topic

    User = get_user_model()
    staff = User.objects.create_user("soak-staff", is_staff=True)
    staff_token = Token.objects.create(user=staff).key
    users = User.objects.bulk_create(User(username=f"soak{i}") for i in range(SOCKETS))
    tokens = Token.objects.bulk_create(
        Token(user=u, key=Token.generate_key()) for u in users
    )
    topic = Topic.objects.create(slug="soak", name="Soak")
    Subscription.objects.bulk_create(Subscription(user=u, topic=topic) for u in users)
    Room.objects.bulk_create(Room(slug=f"soak-room-{i}") for i in range(CHAT_ROOMS))
    return [(u.pk, t.key) for u, t in zip(users, tokens, strict=True)], staff_token


def stored_ids() -> dict[int, set[int]]:
    from notifications.models import Notification

    by_user: dict[int, set[int]] = {}
    for pk, user_id in Notification.objects.values_list("pk", "recipient_id"):
        by_user.setdefault(user_id, set()).add(pk)
    return by_user


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


PHASES = ("before", "during", "after")


class Outage:
    """When the soak's Redis was down, and so the phase of any moment:
    ``before`` the kill, ``during`` (until it answers PING again), ``after``."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.down_at: float | None = None
        self.up_at: float | None = None
        self.down_iso = self.up_iso = None

    def phase(self) -> str:
        now = time.monotonic()
        if self.down_at is None or now < self.down_at:
            return "before"
        if self.up_at is None or now < self.up_at:
            return "during"
        return "after"

    def went_down(self) -> None:
        self.down_at, self.down_iso = time.monotonic(), now_iso()

    def came_back(self) -> None:
        self.up_at, self.up_iso = time.monotonic(), now_iso()

    def report(self) -> dict:
        def secs(at):
            return None if at is None else round(at - self.started, 1)

        return {
            "restart_at_secs": REDIS_RESTART_AT_SECS or None,
            "restarted": self.up_at is not None,
            "went_down_at": self.down_iso,
            "came_back_at": self.up_iso,
            "went_down_secs_into_traffic": secs(self.down_at),
            "came_back_secs_into_traffic": secs(self.up_at),
            "down_secs": (
                round(self.up_at - self.down_at, 2) if self.up_at is not None else None
            ),
        }


class Stats:
    def __init__(self, outage: Outage) -> None:
        self.outage = outage
        self.errors: dict[str, Counter[str]] = {p: Counter() for p in PHASES}
        self.sent: Counter[str] = Counter()
        self.reconnects = 0  # asked for by the traffic, resumed
        self.recoveries: Counter[str] = Counter()  # after a close or refusal, by phase
        self.chat_sent: Counter[str] = Counter()  # by phase
        self.chat_received: Counter[str] = Counter()  # by the phase it was sent in
        self.chat_duplicates = 0
        self.chat_phase_of: dict[str, str] = {}  # message text -> phase it was sent
        self.failed_connect_secs: dict[str, float] = {}  # the longest, by phase

    def connect_failed(self, exc: BaseException, phase: str, began: float) -> None:
        self.error(connect_error(exc), phase)
        took = time.monotonic() - began
        self.failed_connect_secs[phase] = max(
            took, self.failed_connect_secs.get(phase, 0.0)
        )

    def error(self, kind: str, phase: str | None = None) -> None:
        """Count an error in ``phase`` (default: now's). A request or connect
        is charged to the phase it started in: one begun while Redis was down
        and failing after it came back is the outage's."""
        self.errors[phase or self.outage.phase()][kind] += 1


def connect_error(exc: BaseException) -> str:
    """What a failed (re)connect ran into, as one error kind."""
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else "none"
        return f"connect closed {code}"
    if isinstance(exc, InvalidStatus):
        return f"connect HTTP {exc.response.status_code}"
    return f"connect {type(exc).__name__}"


class Reconnecting:
    """What the two clients share: a socket that, closed by the server or
    refused, comes back with socket.js's backoff (one recovery at a time)."""

    ws = None
    reader: asyncio.Task | None = None
    recovery: asyncio.Task | None = None
    stopping = False

    async def open(self) -> None:
        raise NotImplementedError

    def lost(self, ws, exc: BaseException | None) -> None:
        """The reader of ``ws`` ended: if not by our close, count and recover."""
        if ws is not self.ws or self.stopping:
            return
        if exc is not None and not isinstance(exc, ConnectionClosed):
            self.stats.error(f"socket {type(exc).__name__}")
        else:
            code = ws.close_code if ws.close_code is not None else "none"
            self.stats.error(f"closed by server {code}")
        self.ws = None
        self.recover()

    def recover(self) -> None:
        if self.recovery is None or self.recovery.done():
            self.recovery = asyncio.create_task(self._recover())

    async def _recover(self, attempt: int = 0) -> None:
        while not self.stopping:
            await asyncio.sleep(backoff_secs(attempt))
            phase, began = self.stats.outage.phase(), time.monotonic()
            try:
                await self.open()
            except Exception as exc:  # noqa: BLE001 (counted, then retried)
                self.stats.connect_failed(exc, phase, began)
                await self.drop()
                attempt += 1
                continue
            self.stats.recoveries[self.stats.outage.phase()] += 1
            return

    async def drop(self) -> None:
        """Close our socket, if any, without counting it as lost."""
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            await self.reader

    async def close(self) -> None:
        self.stopping = True
        if self.recovery is not None:
            self.recovery.cancel()
            await asyncio.gather(self.recovery, return_exceptions=True)
        await self.drop()


class NotificationClient(Reconnecting):
    """One user's socket; counts each id it gets, across reconnects."""

    def __init__(self, ws_url: str, user_id: int, token: str, stats: Stats) -> None:
        self.url = ws_url + "/ws/notifications/"
        self.user_id = user_id
        self.headers = {"Authorization": f"Token {token}"}
        self.stats = stats
        self.got: Counter[int] = Counter()
        self.how: dict[int, list[str]] = {}  # id -> how each copy came
        self.connections = 0
        self.resuming = False
        self.seen_resuming = 0  # the highest id pushed while resuming
        self.last_id: int | None = None  # from the first hello
        self.resumed = asyncio.Event()

    async def open(self) -> None:
        """Connect; a reconnect resumes from the last id seen, as hub.js does."""
        self.ws = ws = await connect(self.url, additional_headers=self.headers)
        self.connections += 1
        hello = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS))
        if hello.get("type") != "hello":
            self.stats.error("bad hello")
        self.reader = asyncio.create_task(self.read(ws))
        if self.last_id is None:
            self.last_id = hello["last_id"]
        else:
            await self.resume()

    async def resume(self) -> None:
        self.resumed.clear()
        self.resuming = True
        self.seen_resuming = 0
        await self.ws.send(json.dumps({"type": "resume", "last_id": self.last_id}))
        try:
            await asyncio.wait_for(self.resumed.wait(), FRAME_TIMEOUT_SECS)
        finally:
            self.resuming = False
        if self.reader.done():
            raise ConnectionError("socket closed during resume")

    async def read(self, ws) -> None:
        failure = None
        try:
            async for text in ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "notification":
                    nid = frame["notification"]["id"]
                    self.got[nid] += 1
                    self.how.setdefault(nid, []).append(
                        f"connection {self.connections} "
                        f"{'resume' if self.resuming else 'live'} "
                        f"after {self.last_id} at {now_iso()}"
                    )
                    if self.resuming:  # PROTOCOL.md: only `resumed` moves it then
                        self.seen_resuming = max(self.seen_resuming, nid)
                    else:
                        self.last_id = max(self.last_id or 0, nid)
                elif kind == "resumed":
                    if frame.get("more"):
                        await ws.send(
                            json.dumps({"type": "resume", "last_id": frame["last_id"]})
                        )
                    else:
                        self.last_id = max(
                            self.last_id or 0, frame["last_id"], self.seen_resuming
                        )
                        self.resumed.set()
                elif kind == "error":
                    self.stats.error(f"error frame {frame.get('code')}")
        except Exception as exc:  # noqa: BLE001 (counted, not fatal)
            failure = exc
        finally:
            self.resumed.set()  # a resume waiting on this socket ends now
        self.lost(ws, failure)

    async def reconnect(self) -> None:
        """Drop the socket and connect again (recovering if that fails)."""
        await self.drop()
        phase, began = self.stats.outage.phase(), time.monotonic()
        try:
            await self.open()
        except Exception as exc:  # noqa: BLE001 (counted, then recovered)
            self.stats.connect_failed(exc, phase, began)
            await self.drop()
            self.recover()
            return
        self.stats.reconnects += 1


class ChatClient(Reconnecting):
    def __init__(self, ws_url: str, room: str, token: str, stats: Stats) -> None:
        self.url = f"{ws_url}/ws/chat/{room}/"
        self.headers = {"Authorization": f"Token {token}"}
        self.stats = stats
        self.seen: set[int] = set()

    async def open(self) -> None:
        self.ws = ws = await connect(self.url, additional_headers=self.headers)
        self.reader = asyncio.create_task(self.read(ws))

    async def read(self, ws) -> None:
        failure = None
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "chat.message":
                    if frame["id"] in self.seen:
                        self.stats.chat_duplicates += 1
                        continue
                    self.seen.add(frame["id"])
                    phase = self.stats.chat_phase_of.get(frame.get("message"))
                    if phase is not None:  # not history from before the soak
                        self.stats.chat_received[phase] += 1
                elif frame.get("type") == "error":
                    self.stats.error(f"chat error {frame.get('code')}")
        except Exception as exc:  # noqa: BLE001
            failure = exc
        self.lost(ws, failure)

    async def say(self, text: str) -> None:
        if self.ws is None:  # reconnecting: a person would not type now either
            return
        self.stats.chat_phase_of[text] = self.stats.outage.phase()
        self.stats.chat_sent[self.stats.outage.phase()] += 1
        with contextlib.suppress(ConnectionClosed):  # counted by its reader
            await self.ws.send(json.dumps({"message": text}))


async def api(http: httpx.AsyncClient, stats: Stats, path: str, payload: dict) -> None:
    phase = stats.outage.phase()
    try:
        response = await http.post(path, json=payload)
        stats.sent[path] += 1
        if response.status_code >= 300:
            stats.error(f"HTTP {response.status_code} {path}", phase)
    except httpx.HTTPError as exc:
        stats.error(f"HTTP {type(exc).__name__} {path}", phase)


async def every(secs: float, until: float, action) -> None:
    next_at = time.monotonic()
    while (now := time.monotonic()) < until:
        if now >= next_at:
            next_at += secs
            await action()
        await asyncio.sleep(max(0.0, min(next_at, until) - time.monotonic()))


async def restart_redis(redis: RedisServer, outage: Outage) -> None:
    """Kill the soak's Redis REDIS_RESTART_AT_SECS into the traffic, start it
    again on the same port REDIS_DOWN_SECS later."""
    if not REDIS_RESTART_AT_SECS:
        return
    await asyncio.sleep(REDIS_RESTART_AT_SECS)  # the schedule, not a wait for state
    outage.went_down()
    await asyncio.to_thread(redis.kill)
    print(f"soak: Redis killed at {outage.down_iso}", flush=True)
    await asyncio.sleep(REDIS_DOWN_SECS)  # the outage itself
    await asyncio.to_thread(redis.start)  # returns once it answers PING
    outage.came_back()
    print(f"soak: Redis back at {outage.up_iso}", flush=True)


class Supervisor:
    """The hub's processes, started again when one exits, as a process
    manager (systemd ``Restart=always``) would; every exit is reported."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.extra: dict[str, str] = {}
        self.exits: list[dict] = []

    def start(self, name: str, extra: str = "") -> None:
        self.extra[name] = extra
        command = procfile()[name] + (" " + extra if extra else "")
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open)
        self.processes[name] = subprocess.Popen(  # noqa: S603 (the Procfile)
            ["/bin/sh", "-c", "exec " + command],
            env=self.env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def restart_exited(self, outage: Outage | None = None) -> None:
        for name, proc in list(self.processes.items()):
            code = proc.poll()
            if code is None:
                continue
            self.exits.append(
                {
                    "process": name,
                    "exit_code": code,
                    "at": now_iso(),
                    "phase": outage.phase() if outage else "start",
                }
            )
            print(f"soak: {name} exited with {code}; started again", flush=True)
            self.start(name, self.extra[name])

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def run(env, users, staff_token, hub: Supervisor, redis: RedisServer) -> dict:
    base_url = f"http://127.0.0.1:{env['PORT']}"
    ws_url = base_url.replace("http://", "ws://")
    started = time.monotonic()
    outage = Outage(started)
    stats = Stats(outage)
    chat_users = users[:CHAT_SOCKETS]
    notif_users = users[CHAT_SOCKETS:]
    clients = [NotificationClient(ws_url, uid, tok, stats) for uid, tok in notif_users]
    chats = [
        ChatClient(ws_url, f"soak-room-{i % CHAT_ROOMS}", tok, stats)
        for i, (_, tok) in enumerate(chat_users)
    ]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def opened(client):
        async with gate:
            await client.open()

    await asyncio.gather(*(opened(c) for c in clients))
    await asyncio.gather(*(opened(c) for c in chats))
    print(
        f"soak: {len(clients) + len(chats)} sockets open in "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )

    http = httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Token {staff_token}"},
        timeout=30,
    )
    outage.started = started = time.monotonic()  # traffic starts: the report's 0
    until = started + SOAK_SECS
    rss: list[tuple[float, int]] = []
    by_user = {c.user_id: c for c in clients}
    rng = random.Random(8)  # noqa: S311 (a traffic mix, not a secret)
    said = 0

    async def notify():
        ids = rng.sample(list(by_user), NOTIFY_RECIPIENTS)
        await api(
            http,
            stats,
            "/api/notifications/",
            {"recipients": ids, "title": "soak", "body": "x" * 200},
        )

    async def broadcast():
        await api(http, stats, "/api/broadcasts/", {"topic": "soak", "title": "all"})

    async def chat():
        nonlocal said
        for c in chats:
            said += 1
            await c.say(f"soak message {said}")

    async def reconnect():
        client = rng.choice(clients)
        if client.ws is not None and (
            client.recovery is None or client.recovery.done()
        ):
            await client.reconnect()

    async def sample():
        rss.append((time.monotonic() - started, rss_kib(hub.processes["web"].pid)))

    async def supervise():
        hub.restart_exited(outage)

    async def progress():
        errors = {p: dict(c) for p, c in stats.errors.items() if c}
        print(
            f"soak: {int(until - time.monotonic())} s left ({outage.phase()}); "
            f"sent {dict(stats.sent)}; reconnects {stats.reconnects}; "
            f"recoveries {dict(stats.recoveries)}; errors {errors}; "
            f"web RSS {rss_kib(hub.processes['web'].pid) // 1024} MiB",
            flush=True,
        )

    await asyncio.gather(
        every(1 / NOTIFY_PER_SEC, until, notify),
        every(BROADCAST_EVERY_SECS, until, broadcast),
        every(CHAT_EVERY_SECS, until, chat),
        every(1 / RECONNECTS_PER_SEC, until, reconnect),
        every(RSS_SAMPLE_SECS, until, sample),
        every(30, until, progress),
        every(1, until, supervise),
        restart_redis(redis, outage),
    )
    await sample()

    # Every socket back (those still recovering from the outage), the last
    # broadcasts finished (one lost with Redis is re-queued by Beat's
    # sweeper), then every client catches up by resuming.
    recovering = [
        c.recovery
        for c in clients + chats
        if c.recovery is not None and not c.recovery.done()
    ]
    if recovering:
        _, stuck = await asyncio.wait(recovering, timeout=RECOVER_TIMEOUT_SECS)
        if stuck:
            stats.error(f"not reconnected within {RECOVER_TIMEOUT_SECS} s")
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECS
    from notifications.models import Broadcast

    pending = Broadcast.objects.exclude(status="sent").count
    while await asyncio.to_thread(pending) and time.monotonic() < deadline:
        hub.restart_exited(outage)
        await asyncio.sleep(1)
    if await asyncio.to_thread(pending):
        stats.error(f"broadcast not sent within {DRAIN_TIMEOUT_SECS} s")
    await asyncio.sleep(2)  # pushes of the last chunk still in flight
    for client in clients:
        try:
            await client.resume()
        except Exception as exc:  # noqa: BLE001
            stats.error(f"final resume {type(exc).__name__}")
    stored = await asyncio.to_thread(stored_ids)
    lost = duplicated = delivered = 0
    duplicates = []  # the first few, with how each copy came
    for client in clients:
        mine = stored.get(client.user_id, set())
        lost += len(mine - set(client.got))
        duplicated += sum(n - 1 for n in client.got.values() if n > 1)
        delivered += len(mine)
        duplicates += [
            {"user": client.user_id, "id": nid, "copies": client.how[nid]}
            for nid, n in client.got.items()
            if n > 1
        ]
    await asyncio.gather(*(c.close() for c in clients + chats))
    await http.aclose()

    hub.restart_exited(outage)
    exits = hub.exits
    warm = [kib for at, kib in rss if at >= WARMUP_SECS] or [rss[-1][1]]
    per_room = CHAT_SOCKETS // max(CHAT_ROOMS, 1)
    return {
        "command": command_line(env),
        "database": env["DATABASE_URL"].split("://")[0],
        "soak_secs": SOAK_SECS,
        "sockets": len(clients) + len(chats),
        "notification_sockets": len(clients),
        "chat_sockets": len(chats),
        "redis": outage.report(),
        "requests": dict(stats.sent),
        "reconnects": stats.reconnects,
        "recoveries_by_phase": {p: stats.recoveries[p] for p in PHASES},
        "notifications_stored_for_sockets": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "duplicates": duplicates[:10],
        "process_exits": exits,
        "chat_by_phase": {
            p: {
                "sent": stats.chat_sent[p],
                "expected": stats.chat_sent[p] * per_room,
                "received": stats.chat_received[p],
            }
            for p in PHASES
        },
        "chat_duplicates": stats.chat_duplicates,
        "errors_by_phase": {p: dict(stats.errors[p]) for p in PHASES},
        "longest_failed_connect_secs_by_phase": {
            p: round(secs, 2) for p, secs in stats.failed_connect_secs.items()
        },
        "web_rss_mib_after_warmup": round(warm[0] / 1024, 1),
        "web_rss_mib_end": round(rss[-1][1] / 1024, 1),
        "web_rss_growth_pct": round(100 * (rss[-1][1] - warm[0]) / warm[0], 2),
        "web_rss_mib_max": round(max(k for _, k in rss) / 1024, 1),
        **rss_after_outage(rss, outage),
    }


def rss_after_outage(rss: list[tuple[float, int]], outage: Outage) -> dict:
    """The web process's RSS growth from WARMUP_SECS after Redis came back to
    the end: whether it kept growing once the outage's one-off work was done."""
    if outage.up_at is None:
        return {}
    since = outage.up_at - outage.started + WARMUP_SECS
    after = [kib for at, kib in rss if at >= since]
    if len(after) < 2:
        return {}
    return {
        "web_rss_mib_after_outage": round(after[0] / 1024, 1),
        "web_rss_growth_pct_after_outage": round(
            100 * (after[-1] - after[0]) / after[0], 2
        ),
    }


def failures(report: dict) -> list[str]:
    """Why the run failed; empty if it passed."""
    why = []
    if report["lost"] or report["duplicated"]:
        why.append(f"lost {report['lost']}, duplicated {report['duplicated']}")
    for phase in ("before", "after"):
        if report["errors_by_phase"][phase]:
            why.append(f"errors {phase} the outage")
    for exited in report["process_exits"]:
        why.append(
            f"{exited['process']} exited with {exited['exit_code']} at "
            f"{exited['at']} ({exited['phase']}); started again"
        )
    if REDIS_RESTART_AT_SECS and not report["redis"]["restarted"]:
        why.append("Redis was not restarted")
    return why


def main() -> int:
    nofile = raise_nofile()
    log_dir = VAR_DIR / "soak"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(log_dir / "redis").start()
    env = soak_env(redis.url)
    print(
        f"soak: {SOCKETS} sockets, {SOAK_SECS} s, Redis restart at "
        f"{REDIS_RESTART_AT_SECS or 'never'} s for {REDIS_DOWN_SECS} s "
        f"(private redis-server on port {redis.port}), RLIMIT_NOFILE {nofile}, "
        f"database {env['DATABASE_URL'].split('://')[0]}, logs in {log_dir}",
        flush=True,
    )
    hub = Supervisor(env, log_dir)
    try:
        prepare_database(env)
        users, staff_token = create_users(env)
        for name, extra in (("web", ""), ("worker", "--concurrency 2"), ("beat", "")):
            hub.start(name, extra)
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=2)
                if health.status_code == 200 and health.json()["workers"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(
                p.poll() is not None for p in hub.processes.values()
            ):
                raise SystemExit(f"the hub did not start; see {log_dir}")
            time.sleep(0.2)
        report = asyncio.run(run(env, users, staff_token, hub, redis))
    finally:
        hub.stop()
        redis.stop()
    why = failures(report)
    report["failed"] = why
    text = json.dumps(report, indent=2)
    print(text)
    (VAR_DIR / "soak-report.json").write_text(text + "\n")
    return 1 if why else 0


if __name__ == "__main__":
    sys.exit(main())
