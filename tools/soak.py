"""Soak: thousands of sockets for minutes of mixed traffic against a real stack.

    make soak                                  # 2,000 sockets for 600 s
    SOAK_SECS=180 make soak                    # shorter
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_soak make soak

Starts the Procfile's ``web`` and ``worker`` (real uvicorn and Celery) on a
fresh database (SQLite under var/ unless DATABASE_URL is set; a PostgreSQL
database is created if missing and must be the soak's own: it is flushed), with
a channel prefix and queue of its own on the Redis that ``tools.devstack`` finds.
Opens SOAK_SOCKETS sockets (SOAK_CHAT_SOCKETS of them in chat rooms, the rest on
/ws/notifications/, one user each) and runs, for SOAK_SECS:

- notifications: POST /api/notifications/ to a few random users, many per second;
- broadcasts: one to every user each SOAK_BROADCAST_EVERY_SECS;
- chat: every chat socket posts a message every SOAK_CHAT_EVERY_SECS;
- reconnects: a few notification sockets a second drop and reconnect, resuming
  from the last id they saw, as a client does.

At the end every socket resumes once more, and each user's stored ids are
compared with what its socket got (live or by resume): lost = stored but never
received; duplicated = received twice. Also reported: errors (HTTP, error
frames, unexpected closes), chat deliveries, and the web process's RSS after
warm-up against the end (target: growth under 5 %). The report is printed and
written to var/soak-report.json. Exit code 1 when anything was lost or
duplicated or errors occurred.
"""

from __future__ import annotations

import asyncio
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

from tools.devstack import free_port, procfile

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

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
RSS_SAMPLE_SECS = 10
CONNECTS_AT_ONCE = 50
START_TIMEOUT_SECS = 60
FRAME_TIMEOUT_SECS = 30
DRAIN_TIMEOUT_SECS = 120


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, SOCKETS * 4 + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def soak_env() -> dict[str, str]:
    tag = f"soak{os.getpid()}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_url.count("/") >= 3:  # keys of its own, beside a dev server's
        redis_url = redis_url.rsplit("/", 1)[0] + "/14"
    database = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'soak.sqlite3'}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "false",  # served over plain HTTP
        "DJANGO_SECRET_KEY": "soak-secret-key-not-for-deployment",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": tag,
        "CELERY_QUEUE": tag,
        "PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
        # The soak's staff token is one bulk sender, as a service would be: the
        # per-user write throttle (120/min by default) is for people, not load.
        "API_WRITE_RATE": os.environ.get("API_WRITE_RATE", "100000/min"),
    }


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


class Stats:
    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.reconnects = 0
        self.chat_sent = 0
        self.chat_received = 0
        self.chat_duplicates = 0


class NotificationClient:
    """One user's socket; counts each id it gets, across reconnects."""

    def __init__(self, ws_url: str, user_id: int, token: str, stats: Stats) -> None:
        self.url = ws_url + "/ws/notifications/"
        self.user_id = user_id
        self.headers = {"Authorization": f"Token {token}"}
        self.stats = stats
        self.got: Counter[int] = Counter()
        self.last_id = 0
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.resumed = asyncio.Event()

    async def open(self, resume: bool) -> None:
        self.ws = await connect(self.url, additional_headers=self.headers)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), FRAME_TIMEOUT_SECS))
        if hello.get("type") != "hello":
            self.stats.errors["bad hello"] += 1
        if not resume:
            self.last_id = hello["last_id"]
        self.reader = asyncio.create_task(self.read(self.ws))
        if resume:
            await self.resume()

    async def resume(self) -> None:
        self.resumed.clear()
        await self.ws.send(json.dumps({"type": "resume", "last_id": self.last_id}))
        await asyncio.wait_for(self.resumed.wait(), FRAME_TIMEOUT_SECS)

    async def read(self, ws) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "notification":
                    nid = frame["notification"]["id"]
                    self.got[nid] += 1
                    self.last_id = max(self.last_id, nid)
                elif kind == "resumed":
                    if frame.get("more"):
                        await ws.send(
                            json.dumps({"type": "resume", "last_id": frame["last_id"]})
                        )
                    else:
                        self.resumed.set()
                elif kind == "error":
                    self.stats.errors[f"error frame {frame.get('code')}"] += 1
        except Exception as exc:  # noqa: BLE001 (counted, not fatal)
            if ws is self.ws:  # not a close we asked for
                self.stats.errors[f"socket {type(exc).__name__}"] += 1

    async def reconnect(self) -> None:
        old, self.ws = self.ws, None
        await old.close()
        if self.reader:
            await self.reader
        await self.open(resume=True)
        self.stats.reconnects += 1

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader:
            await self.reader


class ChatClient:
    def __init__(self, ws_url: str, room: str, token: str, stats: Stats) -> None:
        self.url = f"{ws_url}/ws/chat/{room}/"
        self.headers = {"Authorization": f"Token {token}"}
        self.stats = stats
        self.seen: set[int] = set()
        self.ws = None
        self.reader: asyncio.Task | None = None

    async def open(self) -> None:
        self.ws = await connect(self.url, additional_headers=self.headers)
        self.reader = asyncio.create_task(self.read(self.ws))

    async def read(self, ws) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "chat.message":
                    if frame["id"] in self.seen:
                        self.stats.chat_duplicates += 1
                    self.seen.add(frame["id"])
                    self.stats.chat_received += 1
                elif frame.get("type") == "error":
                    self.stats.errors[f"chat error {frame.get('code')}"] += 1
        except Exception as exc:  # noqa: BLE001
            if ws is self.ws:
                self.stats.errors[f"chat socket {type(exc).__name__}"] += 1

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"message": text}))
        self.stats.chat_sent += 1

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader:
            await self.reader


async def api(http: httpx.AsyncClient, stats: Stats, path: str, payload: dict) -> None:
    try:
        response = await http.post(path, json=payload)
        stats.sent[path] += 1
        if response.status_code >= 300:
            stats.errors[f"HTTP {response.status_code} {path}"] += 1
    except httpx.HTTPError as exc:
        stats.errors[f"HTTP {type(exc).__name__} {path}"] += 1


async def every(secs: float, until: float, action) -> None:
    next_at = time.monotonic()
    while (now := time.monotonic()) < until:
        if now >= next_at:
            next_at += secs
            await action()
        await asyncio.sleep(max(0.0, min(next_at, until) - time.monotonic()))


async def run(env, users, staff_token, web_pid) -> dict:
    base_url = f"http://127.0.0.1:{env['PORT']}"
    ws_url = base_url.replace("http://", "ws://")
    stats = Stats()
    chat_users = users[:CHAT_SOCKETS]
    notif_users = users[CHAT_SOCKETS:]
    clients = [NotificationClient(ws_url, uid, tok, stats) for uid, tok in notif_users]
    chats = [
        ChatClient(ws_url, f"soak-room-{i % CHAT_ROOMS}", tok, stats)
        for i, (_, tok) in enumerate(chat_users)
    ]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def opened(client, *args):
        async with gate:
            await client.open(*args)

    started = time.monotonic()
    await asyncio.gather(*(opened(c, False) for c in clients))
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
    until = time.monotonic() + SOAK_SECS
    rss: list[tuple[float, int]] = []
    by_user = {c.user_id: c for c in clients}
    rng = random.Random(8)  # noqa: S311 (a traffic mix, not a secret)

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
        for c in chats:
            await c.say("soak message")

    async def reconnect():
        try:
            await rng.choice(clients).reconnect()
        except Exception as exc:  # noqa: BLE001
            stats.errors[f"reconnect {type(exc).__name__}"] += 1

    async def sample():
        rss.append((time.monotonic() - started, rss_kib(web_pid)))

    async def progress():
        print(
            f"soak: {int(until - time.monotonic())} s left; sent {dict(stats.sent)}; "
            f"reconnects {stats.reconnects}; errors {dict(stats.errors)}; "
            f"web RSS {rss_kib(web_pid) // 1024} MiB",
            flush=True,
        )

    await asyncio.gather(
        every(1 / NOTIFY_PER_SEC, until, notify),
        every(BROADCAST_EVERY_SECS, until, broadcast),
        every(CHAT_EVERY_SECS, until, chat),
        every(1 / RECONNECTS_PER_SEC, until, reconnect),
        every(RSS_SAMPLE_SECS, until, sample),
        every(30, until, progress),
    )
    await sample()

    # Let the last broadcasts finish, then every client catches up by resuming.
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECS
    from notifications.models import Broadcast

    pending = Broadcast.objects.exclude(status="sent").count
    while await asyncio.to_thread(pending) and time.monotonic() < deadline:
        await asyncio.sleep(1)
    await asyncio.sleep(2)  # pushes of the last chunk still in flight
    for client in clients:
        try:
            await client.resume()
        except Exception as exc:  # noqa: BLE001
            stats.errors[f"final resume {type(exc).__name__}"] += 1
    stored = await asyncio.to_thread(stored_ids)
    lost = duplicated = delivered = 0
    for client in clients:
        mine = stored.get(client.user_id, set())
        lost += len(mine - set(client.got))
        duplicated += sum(n - 1 for n in client.got.values() if n > 1)
        delivered += len(mine)
    await asyncio.gather(*(c.close() for c in clients + chats))
    await http.aclose()

    warm = [kib for at, kib in rss if at >= WARMUP_SECS] or [rss[-1][1]]
    expected_chat = stats.chat_sent * (CHAT_SOCKETS // max(CHAT_ROOMS, 1))
    return {
        "command": f"SOAK_SECS={SOAK_SECS} make soak",
        "database": env["DATABASE_URL"].split("://")[0],
        "soak_secs": SOAK_SECS,
        "sockets": len(clients) + len(chats),
        "notification_sockets": len(clients),
        "chat_sockets": len(chats),
        "requests": dict(stats.sent),
        "reconnects": stats.reconnects,
        "notifications_stored_for_sockets": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "chat_sent": stats.chat_sent,
        "chat_received": stats.chat_received,
        "chat_expected": expected_chat,
        "chat_duplicates": stats.chat_duplicates,
        "errors": dict(stats.errors),
        "web_rss_mib_after_warmup": round(warm[0] / 1024, 1),
        "web_rss_mib_end": round(rss[-1][1] / 1024, 1),
        "web_rss_growth_pct": round(100 * (rss[-1][1] - warm[0]) / warm[0], 2),
        "web_rss_mib_max": round(max(k for _, k in rss) / 1024, 1),
    }


def main() -> int:
    nofile = raise_nofile()
    env = soak_env()
    log_dir = VAR_DIR / "soak"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"soak: {SOCKETS} sockets, {SOAK_SECS} s, RLIMIT_NOFILE {nofile}, "
        f"database {env['DATABASE_URL'].split('://')[0]}, logs in {log_dir}",
        flush=True,
    )
    prepare_database(env)
    users, staff_token = create_users(env)
    processes = {}
    for name, extra in (("web", ""), ("worker", "--concurrency 2")):
        command = procfile()[name] + (" " + extra if extra else "")
        log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 (kept open)
        processes[name] = subprocess.Popen(  # noqa: S603 (the Procfile)
            ["/bin/sh", "-c", "exec " + command],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=2)
                if health.status_code == 200 and health.json()["workers"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(
                p.poll() is not None for p in processes.values()
            ):
                raise SystemExit(f"the hub did not start; see {log_dir}")
            time.sleep(0.2)
        report = asyncio.run(run(env, users, staff_token, processes["web"].pid))
    finally:
        for proc in processes.values():
            proc.terminate()
        for proc in processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    text = json.dumps(report, indent=2)
    print(text)
    (VAR_DIR / "soak-report.json").write_text(text + "\n")
    failed = report["lost"] or report["duplicated"] or report["errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
