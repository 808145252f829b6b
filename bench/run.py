"""`make bench`: the hub's benchmark suite against the real stack.

Starts uvicorn with the Procfile's web flags, a Celery worker from the Procfile,
the floor (bench/floor.py under the same uvicorn flags), two peers that users pick
instead of the hub (Socket.IO with its Redis adapter, bench/sio_server.js, and
python-socketio with its Redis manager, bench/psio_server.py), and the Node load
client (bench/client.js); drives them; prints a table and writes
bench/results/latest.json.

    python -m bench.run [--quick] [--only NAME[,NAME...]] [--peers NAME[,NAME...]]

Scenarios: fanout, restart, scaleout, broadcast, personal, storm (also memory),
celery, http, push.
Everything started is stopped, and the bench's database dropped, on success,
failure and Ctrl-C alike.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import math
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.stack import BASE_DIR, Stack, loadavg, raise_nofile, rss_kib

RESULTS_DIR = BASE_DIR / "bench" / "results"
SCENARIOS = (
    "fanout",
    "restart",
    "scaleout",
    "broadcast",
    "personal",
    "storm",
    "celery",
    "http",
    "push",
)
HUB_WS_PATH = "/ws/notifications/"
BENCH_TOPIC = "bench"
# Issue 20's targets, against the peers in the same run.
STORM_TARGET_CONNECTS_PER_SEC = 1500  # each sign-in path, with 0 failures
MEMORY_TARGET_FLOOR_RATIO = 1.25  # RSS per idle socket, hub / floor
FANOUT_TARGET_PEER = "socket.io"  # last delivery no slower than this peer's
RESTART_TARGET_SECS = 10.0  # SIGTERM to every socket reconnected and resumed
BROADCAST_STORED_TARGET_SECS = 5.0  # POST to every follower's row in its feed


@dataclass(frozen=True)
class Peer:
    """A server the same client drives in the same run, beside the hub: it holds
    sockets that join one room and broadcasts on ``POST /broadcast``."""

    key: str  # the table's column and --peers' name
    what: str
    ws_path: str
    protocol: str  # the client's: "hub" (JSON frames) or "eio4" (Socket.IO)


EIO_PATH = "/socket.io/?EIO=4&transport=websocket"
FLOOR = Peer("floor", "bare ASGI broadcast (bench/floor.py)", "/ws", "hub")
PEERS = (
    Peer(
        "socket.io",
        "Socket.IO 4.8 + @socket.io/redis-adapter 8.3 on Node (bench/sio_server.js)",
        EIO_PATH,
        "eio4",
    ),
    Peer(
        "python-socketio",
        "python-socketio 5.18 + AsyncRedisManager under uvicorn (bench/psio_server.py)",
        EIO_PATH,
        "eio4",
    ),
)


@dataclass(frozen=True)
class Sizes:
    fanout_counts: tuple[int, ...]
    fanout_reps: int
    broadcast_subscribers: int
    broadcast_connected: int
    personal_rate_per_sec: int
    personal_secs: float
    personal_sockets: int
    storm_sockets: int
    peer_sockets: int
    celery_tasks: int
    probe_events: int
    http_rows: int
    http_requests: int
    push_users: int
    restart_sockets: int
    restart_rate_per_sec: int
    scale_sockets: int  # held by two web processes, half each

    def __post_init__(self) -> None:
        # Topic events reach followers only: every socket a scenario fans out
        # to is a follower's.
        assert self.broadcast_subscribers >= max(
            *self.fanout_counts, self.scale_sockets, self.restart_sockets
        )

    @property
    def users(self) -> int:
        return max(
            max(self.fanout_counts),
            self.broadcast_subscribers,
            self.storm_sockets + 100,
            self.personal_sockets,
            self.scale_sockets,
            self.restart_sockets,
        )


FULL = Sizes(
    fanout_counts=(1000, 5000, 10000),
    fanout_reps=5,
    broadcast_subscribers=100_000,
    broadcast_connected=2000,
    personal_rate_per_sec=2000,
    personal_secs=30.0,
    personal_sockets=2000,
    storm_sockets=5000,
    peer_sockets=5000,
    celery_tasks=200,
    probe_events=5000,
    http_rows=1_000_000,
    http_requests=2000,
    push_users=1000,
    restart_sockets=10000,
    restart_rate_per_sec=200,
    scale_sockets=20000,
)
QUICK = Sizes(
    fanout_counts=(1000, 2000),
    fanout_reps=3,
    broadcast_subscribers=2000,
    broadcast_connected=500,
    personal_rate_per_sec=2000,
    personal_secs=5.0,
    personal_sockets=1000,
    storm_sockets=1000,
    peer_sockets=1000,
    celery_tasks=50,
    probe_events=1000,
    http_rows=100_000,
    http_requests=150,
    push_users=200,
    restart_sockets=1000,
    restart_rate_per_sec=200,
    scale_sockets=2000,
)


@dataclass
class Figure:
    scenario: str
    name: str
    value: float | None
    unit: str
    command: str
    floor: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""
    # The same figure for each peer in this run, by Peer.key.
    peers: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Run:
    sizes: Sizes
    quick: bool
    stack: Stack
    figures: list[Figure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    hub_url: str = ""
    floor_url: str = ""
    tokens: list[tuple[int, str]] = field(default_factory=list)
    # The storm's users' session cookies ("sessionid=..."), in tokens' order.
    session_cookies: list[str] = field(default_factory=list)
    # By Peer.key: connects, memory and fan-out at sizes.peer_sockets.
    peers: dict[str, dict] = field(default_factory=dict)
    admin_token: str = ""
    hub_sockets: int = 0
    profile: bool = False
    # The hub's figures that the peers' stand beside: last_ms, kib_per_socket,
    # connects_per_sec (signed in by API token), at sizes.peer_sockets.
    hub_at_peer_sockets: dict = field(default_factory=dict)

    def command(self, scenario: str) -> str:
        quick = " --quick" if self.quick else ""
        return f'make bench BENCH_ARGS="--only {scenario}{quick}"'

    def add(self, scenario: str, name: str, value, unit: str, **kw) -> Figure:
        fig = Figure(scenario, name, value, unit, self.command(scenario), **kw)
        self.figures.append(fig)
        return fig

    # --- sockets ------------------------------------------------------------------

    def hub_sockets_to(self, n: int) -> dict:
        """Hold exactly the sockets of bench users 0..n-1 on the hub."""
        client = self.stack.client
        if n < self.hub_sockets:
            client.call("close", keep=n)
            self.hub_sockets = n
            self.wait_for_hub_sockets(n)
            return {"failed": 0}
        auth = [
            {"user": uid, "token": key}
            for uid, key in self.tokens[self.hub_sockets : n]
        ]
        reply = client.call(
            "connect",
            url=self.hub_url.replace("http", "ws") + HUB_WS_PATH,
            auth=auth,
            deflate=True,
            origin=self.hub_url,
            concurrency=200,
        )
        self.hub_sockets += reply["ok"]
        if reply["failed"]:
            print(f"  {reply['failed']} connect(s) failed: {reply['errors']}")
        return reply

    def hub_metrics(self) -> dict[str, float]:
        """The web process's /metrics samples, by name with labels."""
        with urllib.request.urlopen(self.hub_url + "/metrics", timeout=10) as reply:
            text = reply.read().decode()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def wait_for_hub_sockets(self, n: int, timeout_secs: float = 120.0) -> None:
        """Wait until the web process itself counts ``n`` open sockets: closing
        thousands keeps it busy for seconds (each consumer leaves its groups),
        and a scenario started meanwhile would time that teardown."""
        deadline = time.monotonic() + timeout_secs
        while True:
            open_now = sum(
                value
                for name, value in self.hub_metrics().items()
                if name.startswith("hub_websockets_open{")
            )
            if open_now <= n:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub still counts {open_now:.0f} sockets, not {n}")
            time.sleep(0.2)  # polling the server's own count; no event to wait on


@contextlib.contextmanager
def profiled(run: Run, scenario: str, process: str = "web"):
    """With --profile, py-spy records ``process`` while the scenario runs and
    leaves collapsed stacks in bench/results/profile-<scenario>-<process>.txt."""
    if not run.profile:
        yield
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"profile-{scenario}-{process}.txt"
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(run.stack.pid(process)),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            # Celery's prefork pool runs the tasks in child processes.
            *(["--subprocesses"] if process == "worker" else []),
            # --native (C frames too) needs py-spy to pause the process per sample.
            *(
                ["--native"]
                if os.environ.get("BENCH_PROFILE_NATIVE")
                else ["--nonblocking"]
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        log(f"profile of {process} during {scenario}: {out}")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- set-up ---------------------------------------------------------------------


def django_setup(stack: Stack) -> None:
    os.environ.update(stack.env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(run: Run) -> None:
    """Users with tokens, all following the bench topic, and a staff sender."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from notifications.models import Subscription, Topic

    User = get_user_model()
    n = run.sizes.users
    users = User.objects.bulk_create(
        [User(username=f"bench{i}", password="!") for i in range(n)], batch_size=2000
    )
    if users[0].pk is None:  # a backend that does not return ids
        users = list(User.objects.filter(username__startswith="bench").order_by("id"))
    keys = [secrets.token_hex(20) for _ in users]
    Token.objects.bulk_create(
        [Token(key=k, user=u) for k, u in zip(keys, users, strict=True)],
        batch_size=2000,
    )
    run.tokens = [(u.pk, k) for u, k in zip(users, keys, strict=True)]
    topic = Topic.objects.create(slug=BENCH_TOPIC, name="Bench")
    followers = users[: run.sizes.broadcast_subscribers]
    Subscription.objects.bulk_create(
        [Subscription(user=u, topic=topic) for u in followers], batch_size=2000
    )
    # The storm's users are subscribers too: the same sockets once more, signed
    # in by connection tokens (the auth frame) instead of API tokens.
    from subscribers.models import Subscriber

    storm_users = users[100 : 100 + run.sizes.storm_sockets]
    Subscriber.objects.bulk_create(
        [Subscriber(user=u, external_id=f"bench:{u.pk}") for u in storm_users],
        batch_size=2000,
    )
    run.session_cookies = _sessions(storm_users)
    admin = User.objects.create(username="bench-admin", is_staff=True, password="!")
    run.admin_token = Token.objects.create(user=admin).key


def _sessions(users) -> list[str]:
    """A signed-in session per user, written in bulk as login() would leave it;
    the cookie header of each, in the users' order."""
    from datetime import timedelta
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = store.get_model_class()  # a database-backed engine (the default)
    expires = timezone.now() + timedelta(days=1)
    backend = "django.contrib.auth.backends.ModelBackend"
    rows = [
        model(
            session_key=secrets.token_hex(16),
            session_data=store().encode(
                {
                    SESSION_KEY: str(u.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: u.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for u in users
    ]
    model.objects.bulk_create(rows, batch_size=2000)
    return [f"{settings.SESSION_COOKIE_NAME}={row.session_key}" for row in rows]


# --- peers ------------------------------------------------------------------------


def start_peer(run: Run, peer: Peer) -> str:
    """Start ``peer``'s server on a free port; its base URL. Redis pub/sub is
    not per database, so each peer publishes on a channel of this run's own."""
    tag = run.stack.env["CHANNEL_LAYER_PREFIX"]
    if peer.key == "socket.io":
        return run.stack.start_node(
            peer.key, "sio_server.js", SIO_REDIS_KEY=f"{tag}-socket.io"
        )
    if peer.key == "python-socketio":
        return run.stack.start_web(
            peer.key,
            app="bench.psio_server:app",
            PSIO_REDIS_CHANNEL=f"{tag}-python-socketio",
        )
    raise ValueError(f"no way to start peer {peer.key!r}")


def measure_peer(run: Run, peer: Peer, base_url: str, *, fanout: bool) -> dict:
    """``sizes.peer_sockets`` sockets opened all at once, as the hub's storm
    opens them (failures, connects per second, RSS delta per idle socket), then
    with ``fanout`` the fan-out events to all of them; the sockets are closed."""
    client = run.stack.client
    n = run.sizes.peer_sockets
    pid = run.stack.pid(peer.key)
    before = rss_kib(pid)
    reply = client.call(
        "connect",
        url=base_url.replace("http", "ws") + peer.ws_path,
        auth=[{"user": i} for i in range(n)],
        deflate=True,
        concurrency=n,
        timeout_ms=60000,
        protocol=peer.protocol,
    )
    after = rss_kib(pid)
    result = {
        "what": peer.what,
        "sockets": n,
        "failed": reply["failed"],
        "errors": reply["errors"],
        "connects_per_sec": reply["per_sec"],
        "kib_per_socket": (after - before) / reply["ok"] if reply["ok"] else None,
        "rss_kib": [before, after],
    }
    if fanout:
        result["fanout"] = _fire_reps(
            run, base_url, "/broadcast", run.sizes.fanout_reps, reply["ok"]
        )
    client.call("close", keep=0)
    last = result.get("fanout", {}).get("last_ms")
    log(
        f"{peer.key}: {reply['failed']} of {n} failed, {reply['per_sec']:.0f} "
        f"connects/s, {result['kib_per_socket']} KiB/socket, fan-out last {last} ms"
    )
    return result


def peer_values(run: Run, stat: str) -> dict[str, float | None]:
    """``stat`` of each peer but the floor (its own column), for Figure.peers;
    ``last_ms`` and the other fan-out stats are read from the peer's fan-out."""
    values = {}
    for key, result in run.peers.items():
        if key != FLOOR.key:
            source = (result.get("fanout") or {}) if stat.endswith("_ms") else result
            values[key] = source.get(stat)
    return values


def ratio(value: float | None, other: float | None) -> float | None:
    """``value / other``, or None when either is missing or ``other`` is 0."""
    if value is None or not other:
        return None
    return value / other


# --- scenarios --------------------------------------------------------------------


def _fire_reps(run: Run, base_url: str, path: str, reps: int, sockets: int) -> dict:
    """Fire ``reps`` events at the open sockets; the rep with the median last
    delivery (p50, p99 and last of that rep), plus missing deliveries in all."""
    results = []
    for rep in range(reps):
        seq = random.randrange(1 << 30)
        reply = run.stack.client.call(
            "fire",
            request={
                "method": "POST",
                "url": base_url + path,
                "headers": {"Authorization": f"Token {run.admin_token}"},
                "body": {"event": {"seq": seq, "rep": rep}},
            },
            match={"type": "event", "path": ["event", "seq"], "value": seq},
            timeout_ms=15000,
        )
        if reply["status"] != 202:
            raise RuntimeError(
                f"POST {path} answered {reply['status']}: {reply['body']}"
            )
        results.append(reply)
    missing = sum(r["missing"] for r in results)
    done = [r for r in results if r["last_ms"] is not None]
    done.sort(key=lambda r: r["last_ms"])
    median = (
        done[len(done) // 2]
        if done
        else {"p50_ms": None, "p99_ms": None, "last_ms": None}
    )
    return {
        "sockets": sockets,
        "missing": missing,
        "p50_ms": median["p50_ms"],
        "p99_ms": median["p99_ms"],
        "last_ms": median["last_ms"],
        "reps_last_ms": [r["last_ms"] for r in results],
    }


def scenario_floor_fanout(run: Run) -> dict[int, dict]:
    """The same client, the same uvicorn flags, a bare in-process broadcast."""
    client = run.stack.client
    floor = {}
    held = 0
    for count in run.sizes.fanout_counts:
        reply = client.call(
            "connect",
            url=run.floor_url.replace("http", "ws") + "/ws",
            auth=[{"user": i} for i in range(count - held)],
            deflate=True,
            concurrency=200,
        )
        held += reply["ok"]
        floor[count] = _fire_reps(
            run, run.floor_url, "/broadcast", run.sizes.fanout_reps, held
        )
        log(f"floor {count}: last {floor[count]['last_ms']:.1f} ms")
    client.call("close", keep=0)
    return floor


def _metric_delta(
    before: dict[str, float],
    after: dict[str, float],
    name: str,
    generations: tuple[int, ...] = (0, 1, 2),
) -> float:
    """How much a per-generation GC metric grew between two /metrics samples."""
    keys = [f'{name}{{generation="{g}"}}' for g in generations]
    return sum(after.get(key, 0) - before.get(key, 0) for key in keys)


def scenario_fanout(run: Run, floor: dict[int, dict]) -> None:
    path = f"/api/topics/{BENCH_TOPIC}/events/"
    for count in run.sizes.fanout_counts:
        connect = run.hub_sockets_to(count)
        gc_before = run.hub_metrics()
        # Profiled per size, and only while events fan out (not while connecting).
        with profiled(run, f"fanout-{count}"):
            res = _fire_reps(
                run, run.hub_url, path, run.sizes.fanout_reps, run.hub_sockets
            )
        gc_after = run.hub_metrics()
        fl = floor.get(count, {})
        by_floor = ratio(res["last_ms"], fl.get("last_ms"))
        log(
            f"hub fan-out {count}: last {res['last_ms']} ms, "
            f"floor {fl.get('last_ms')} ms"
        )
        at_peers = count == run.sizes.peer_sockets
        for stat in ("p50_ms", "p99_ms", "last_ms"):
            run.add(
                "fanout",
                f"topic event to {count} sockets: {stat[:-3]}",
                res[stat],
                "ms",
                floor=fl.get(stat),
                peers=peer_values(run, stat) if at_peers else {},
            )
        target = "<= 2x floor" if count == 5000 else None
        run.add(
            "fanout",
            f"topic event to {count} sockets: last / floor",
            by_floor,
            "x",
            target=target,
            met=(by_floor is not None and by_floor <= 2.0) if target else None,
            note=f"{res['missing']} deliveries missing over "
            f"{run.sizes.fanout_reps} events; lasts {res['reps_last_ms']}",
        )
        if at_peers:
            run.hub_at_peer_sockets["last_ms"] = res["last_ms"]
            for key, last in peer_values(run, "last_ms").items():
                by = ratio(res["last_ms"], last)
                target = "<= 1x" if key == FANOUT_TARGET_PEER else None
                peer = run.peers[key]["fanout"]
                run.add(
                    "fanout",
                    f"topic event to {count} sockets: last / {key}",
                    by,
                    "x",
                    target=target,
                    met=(by is not None and by <= 1.0) if target else None,
                    note=f"{key}: last {last} ms, {peer['missing']} deliveries "
                    f"missing; lasts {peer['reps_last_ms']}",
                )
        paused = _metric_delta(gc_before, gc_after, "hub_gc_pause_seconds_total")
        runs = _metric_delta(gc_before, gc_after, "hub_gc_pauses_total", (2,))
        run.add(
            "fanout",
            f"web process stopped by garbage collection over the {count} fan-outs",
            paused * 1000,
            "ms",
            note=f"{runs:.0f} full collections in {run.sizes.fanout_reps} events "
            "(hub_gc_pause_seconds_total, all generations)",
        )
        if count == max(run.sizes.fanout_counts):
            run.add(
                "fanout",
                "sockets held by one web process",
                run.hub_sockets,
                "sockets",
                target=">= 10000" if not run.quick else None,
                met=run.hub_sockets >= 10000 if not run.quick else None,
                note=f"{connect.get('failed', 0)} connects failed on the way up",
            )


def _produce_personal(
    recipients: list[int], rate_per_sec: int, tag: str, stop: threading.Event
) -> int:
    """notify_users tasks at ``rate_per_sec`` to random ``recipients`` until
    ``stop``; how many notifications were asked for (idempotency keys
    ``tag-<tick>``)."""
    from notifications.tasks import notify_users

    tick_secs = 0.05
    per_tick = max(1, round(rate_per_sec * tick_secs))
    started = time.monotonic()
    tick = 0
    while not stop.is_set():
        notify_users.apply_async(
            kwargs={
                "recipient_ids": random.sample(recipients, per_tick),
                "title": "personal",
                "idempotency_key": f"{tag}-{tick}",
                "data": {"sent_at": time.time() * 1000},
            }
        )
        tick += 1
        stop.wait(max(0.0, started + tick * tick_secs - time.monotonic()))
    return tick * per_tick


def _wait_delivered(client, tag: str, expected: int) -> tuple[set, dict, float]:
    """Wait until the ``expected`` notifications tagged ``tag`` are stored, then
    (a bounded while: deliveries trail the last commit by milliseconds) until
    each has reached its user's socket; what was stored, the client's track
    report, and the monotonic time all were stored."""
    from notifications.models import Notification

    rows = Notification.objects.filter(idempotency_key__startswith=tag)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rows.count() < expected:
        time.sleep(0.2)  # polling the database's count; no event to wait on
    stored_at = time.monotonic()
    stored = set(rows.values_list("recipient_id", "id"))
    deadline = time.monotonic() + 10
    while True:
        report = client.call("track")
        got = {(int(u), i) for u, ids in report["received"].items() for i in ids}
        if stored <= got or time.monotonic() > deadline:
            return stored, report, stored_at
        time.sleep(0.5)


def _pct(ordered: list[float], percent: int) -> float:
    """The ``percent`` percentile of a sorted, non-empty list (nearest rank)."""
    return ordered[min(len(ordered) - 1, len(ordered) * percent // 100)]


def scenario_restart(run: Run) -> None:
    """A deploy: the web process gets SIGTERM while it holds
    ``sizes.restart_sockets`` sockets and personal notifications keep coming;
    every client reconnects with static/hub/socket.js's backoff and resumes
    from the last id it saw. Time to all resumed, and nothing lost."""
    sizes = run.sizes
    n = sizes.restart_sockets
    run.hub_sockets_to(n)
    client = run.stack.client
    online = [uid for uid, _ in run.tokens[: run.hub_sockets]]
    client.call("track", on=True)
    client.call("reconnecting", on=True)
    tag = f"bench-rs-{secrets.token_hex(4)}"
    stop = threading.Event()
    asked: list[int] = []
    producer = threading.Thread(
        target=lambda: asked.append(
            _produce_personal(online, sizes.restart_rate_per_sec, tag, stop)
        ),
        name="restart-producer",
    )
    producer.start()
    try:
        stop.wait(1.0)  # a second of notifications to live sockets first
        killed_at = time.monotonic()
        killed_wall_ms = time.time() * 1000
        with profiled(run, "restart-shutdown"):  # the old process, to its exit
            exited_at, up_at = run.stack.restart_web("web")
        log(
            f"restart: the old process exited {exited_at - killed_at:.2f} s after "
            f"SIGTERM, the new one answered {up_at - exited_at:.2f} s later"
        )
        deadline = up_at + 120
        with profiled(run, "restart-reconnect"):  # the new process
            while True:
                state = client.call("reconnecting")
                if state["resumed"] >= n or time.monotonic() > deadline:
                    break
                if time.monotonic() > up_at + 1.0:
                    stop.set()  # a second of notifications into the reconnect storm
                time.sleep(0.1)  # polling the client's own count; it has no push
    finally:
        stop.set()
        producer.join()
    back_at = sorted(
        client.call("reconnecting", on=False, detail=True)["resumed_at_ms"]
    )
    shape = (
        ", ".join(
            f"{p}% by {(_pct(back_at, p) - killed_wall_ms) / 1000:.1f} s"
            for p in (10, 50, 90, 99)
        )
        if back_at
        else "none"
    )
    log(f"restart: resumed, from SIGTERM: {shape}")
    stored, report, _ = _wait_delivered(client, tag, asked[0])
    client.call("track", stop=True)
    got = [(int(u), i) for u, ids in report["received"].items() for i in ids]
    duplicates = len(got) - len(set(got))
    lost = stored - set(got)
    all_back = state["resumed"] >= n
    secs = (state["last_resumed_ms"] - killed_wall_ms) / 1000 if all_back else None
    full = not run.quick
    run.add(
        "restart",
        f"web process restart with {n} sockets: SIGTERM to every socket "
        "reconnected and resumed",
        secs,
        "s",
        target=f"<= {RESTART_TARGET_SECS:g} s" if full else None,
        met=(secs is not None and secs <= RESTART_TARGET_SECS) if full else None,
        note=f"{state['resumed']} of {n} resumed; the old process exited "
        f"{exited_at - killed_at:.2f} s after SIGTERM, the new one answered "
        f"{up_at - exited_at:.2f} s later; resumed {shape}; "
        f"{state['attempts']} reconnect attempts, failed ones "
        f"{json.dumps(state['errors'])}",
    )
    run.add(
        "restart",
        "web process restart: notifications lost",
        len(lost),
        "notifications",
        target="0",
        met=not lost and len(stored) == asked[0],
        note=f"{len(stored)} of {asked[0]} stored, at {sizes.restart_rate_per_sec}/s "
        f"from 1 s before SIGTERM to 1 s after the restart; {duplicates} delivered "
        "twice (a resume that replays what a live push had sent: the client keeps "
        "ids)",
    )
    if lost:
        log(f"restart: lost (user, id) e.g. {sorted(lost)[:10]}")
    log(
        f"restart: {state['resumed']} of {n} resumed in {secs} s; "
        f"{len(lost)} lost of {len(stored)}, {duplicates} twice"
    )


def scenario_scaleout(run: Run) -> None:
    """Two web processes on this machine, half the sockets each (the second
    half from a second load client: one process's open files stop short of
    20,000 sockets), and topic events POSTed to the first: every socket of
    both must get each one."""
    sizes = run.sizes
    half = sizes.scale_sockets // 2
    run.hub_sockets_to(half)
    stack = run.stack
    second_url = stack.start_web("web2")
    second = stack.start_extra_client("client2")
    try:
        reply = second.call(
            "connect",
            url=second_url.replace("http", "ws") + HUB_WS_PATH,
            auth=[
                {"user": uid, "token": key}
                for uid, key in run.tokens[half : sizes.scale_sockets]
            ],
            deflate=True,
            origin=second_url,
            concurrency=200,
        )
        held = run.hub_sockets + reply["ok"]
        path = f"/api/topics/{BENCH_TOPIC}/events/"
        results = []
        for rep in range(sizes.fanout_reps):
            seq = random.randrange(1 << 30)
            match = {"type": "event", "path": ["event", "seq"], "value": seq}
            second.call("arm", match=match)
            first = stack.client.call(
                "fire",
                request={
                    "method": "POST",
                    "url": run.hub_url + path,
                    "headers": {"Authorization": f"Token {run.admin_token}"},
                    "body": {"event": {"seq": seq, "rep": rep}},
                },
                match=match,
                timeout_ms=15000,
            )
            other = second.call("collect", t0_ms=first["t0_ms"], timeout_ms=15000)
            lasts = [r["last_ms"] for r in (first, other) if r["last_ms"] is not None]
            results.append(
                {
                    "missing": first["missing"] + other["missing"],
                    "last_ms": max(lasts) if lasts else None,
                    "by_process": [first["last_ms"], other["last_ms"]],
                }
            )
    finally:
        stack.stop_extra_client("client2")
        stack.stop("web2")
    missing = sum(r["missing"] for r in results)
    lasts = sorted(r["last_ms"] for r in results if r["last_ms"] is not None)
    median = lasts[len(lasts) // 2] if lasts else None
    full = not run.quick
    run.add(
        "scaleout",
        f"two web processes: sockets held of {sizes.scale_sockets}",
        held,
        "sockets",
        target=f">= {sizes.scale_sockets:,}" if full else None,
        met=held >= sizes.scale_sockets if full else None,
        note=(
            f"{reply['failed']} connects to the second failed: "
            f"{json.dumps(reply['errors'])}"
            if reply["failed"]
            else ""
        ),
    )
    run.add(
        "scaleout",
        f"two web processes: topic event to {held} sockets: deliveries missing",
        missing,
        "deliveries",
        target="0",
        met=missing == 0,
        note=f"over {len(results)} events POSTed to the first process",
    )
    run.add(
        "scaleout",
        f"two web processes: topic event to {held} sockets: last",
        median,
        "ms",
        note="median of the events; last per process: "
        + "; ".join(str(r["by_process"]) for r in results),
    )
    log(f"scaleout: {held} sockets on two processes, {missing} missing, last {median}")


def scenario_broadcast(run: Run) -> None:
    from notifications.models import Broadcast, Notification

    sizes = run.sizes
    run.hub_sockets_to(sizes.broadcast_connected)
    # With --profile, the worker too: it stores and pushes the broadcast.
    with profiled(run, "broadcast", process="worker"):
        title = f"bench broadcast {secrets.token_hex(4)}"
        reply = run.stack.client.call(
            "fire",
            request={
                "method": "POST",
                "url": run.hub_url + "/api/broadcasts/",
                "headers": {"Authorization": f"Token {run.admin_token}"},
                "body": {
                    "topic": BENCH_TOPIC,
                    "title": title,
                    "body": "to every follower",
                },
            },
            match={
                "type": "notification",
                "path": ["notification", "title"],
                "value": title,
            },
            timeout_ms=60000,
        )
        if reply["status"] != 202:
            raise RuntimeError(
                f"POST /api/broadcasts/ answered {reply['status']}: {reply['body']}"
            )
        broadcast_id = reply["body"]["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            b = Broadcast.objects.get(pk=broadcast_id)
            if b.status in ("sent", "failed"):
                break
            time.sleep(0.2)
    rows = Notification.objects.filter(idempotency_key=f"broadcast:{broadcast_id}")
    count = rows.count()
    first = rows.order_by("id").values_list("created_at", flat=True).first()
    last = rows.order_by("-id").values_list("created_at", flat=True).first()
    accepted_at = b.created_at
    persist_secs = (b.sent_at or last) - accepted_at if count else None
    rate = count / persist_secs.total_seconds() if persist_secs else None
    # From the POST, not the 202: the live pushes can beat the 202 to the client
    # (the worker fans out while the web process is still answering), which made
    # "202 to last delivery" negative.
    after = reply["last_ms"]
    run.add(
        "broadcast",
        f"broadcast to {sizes.broadcast_subscribers} followers, "
        f"{sizes.broadcast_connected} connected: POST to last live delivery",
        after,
        "ms",
        target="<= 1000 ms",
        met=after is not None and after <= 1000 and reply["missing"] == 0,
        note=f"202 after {reply['response_ms']:.1f} ms; {reply['missing']} of "
        f"{reply['sockets']} sockets missed it; status {b.status}",
    )
    stored_secs = persist_secs.total_seconds() if persist_secs else None
    full = not run.quick
    run.add(
        "broadcast",
        f"broadcast: POST to the row in every follower's feed ({count} rows)",
        stored_secs,
        "s",
        target=f"<= {BROADCAST_STORED_TARGET_SECS:g} s" if full else None,
        met=(
            stored_secs is not None
            and stored_secs <= BROADCAST_STORED_TARGET_SECS
            and count == sizes.broadcast_subscribers
        )
        if full
        else None,
        note=f"accepted {accepted_at}, status {b.status} at {b.sent_at}",
    )
    run.add(
        "broadcast",
        "broadcast: rows persisted per second (202 to sent)",
        rate,
        "rows/s",
        note=f"{count} rows; first {first}, last {last}, sent_at {b.sent_at}",
    )
    log(f"broadcast: last live {after} ms after the POST; {count} rows, {rate} rows/s")


def scenario_personal(run: Run) -> None:
    """notify_users tasks at the target rate to random connected users; every id
    stored for them must reach one of their sockets."""
    from notifications.tasks import notify_users

    sizes = run.sizes
    run.hub_sockets_to(sizes.personal_sockets)
    online = [uid for uid, _ in run.tokens[: run.hub_sockets]]
    client = run.stack.client
    client.call("track", on=True)
    tag = f"bench-pn-{secrets.token_hex(4)}"
    tick_secs = 0.05
    per_tick = round(sizes.personal_rate_per_sec * tick_secs)
    ticks = round(sizes.personal_secs / tick_secs)
    started = time.monotonic()
    for tick in range(ticks):
        recipients = random.sample(online, per_tick)
        notify_users.apply_async(
            kwargs={
                "recipient_ids": recipients,
                "title": "personal",
                "idempotency_key": f"{tag}-{tick}",
                "data": {"sent_at": time.time() * 1000},
            }
        )
        pause = started + (tick + 1) * tick_secs - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing the producer, not waiting for a result
    queued_secs = time.monotonic() - started
    expected = ticks * per_tick
    stored, report, stored_at = _wait_delivered(client, tag, expected)
    stored_secs = stored_at - started
    got = {(int(u), i) for u, ids in report["received"].items() for i in ids}
    client.call("track", stop=True)
    lost = stored - got
    closed = {int(u): code for u, code in report.get("closed", {}).items()}
    lost_closed = {(u, i) for u, i in lost if u in closed}
    if lost:
        sample = sorted(lost)[:10]
        log(
            f"personal: lost {len(lost)} (to closed sockets {len(lost_closed)}, "
            f"codes {sorted(set(closed.values()))}); e.g. {sample}"
        )
    rate = len(stored) / stored_secs
    lat = report["latency"]
    run.add(
        "personal",
        f"personal notifications, {sizes.personal_rate_per_sec}/s for "
        f"{sizes.personal_secs:g} s to {sizes.personal_sockets} sockets: lost",
        len(lost),
        "notifications",
        target="0",
        met=not lost and len(stored) == expected,
        note=f"{len(stored)} of {expected} stored; queued in {queued_secs:.1f} s, "
        f"all stored after {stored_secs:.1f} s ({rate:.0f}/s); {len(lost_closed)} of "
        f"the lost were to {len(closed)} sockets that closed meanwhile",
    )
    run.add(
        "personal",
        "personal notifications: p99 queue-to-socket latency",
        lat["p99_ms"],
        "ms",
        note=f"p50 {lat['p50_ms']} ms, max {lat['max_ms']} ms; batches of {per_tick} "
        f"every {tick_secs * 1000:.0f} ms through workers.notify_users",
    )
    log(f"personal: {len(stored)} stored, {len(lost)} lost, p99 {lat['p99_ms']} ms")


def _storm(
    run: Run, auth: list[dict], *, what: str, rate_figure: str, peers: bool = False
) -> dict:
    """Open one socket per ``auth`` entry, all at once, on top of 100 warm ones
    (the caller's ``run.hub_sockets_to(100)``); add its failures and its rate,
    with the target rate, and with ``peers`` the peers' rates beside it."""
    reply = run.stack.client.call(
        "connect",
        url=run.hub_url.replace("http", "ws") + HUB_WS_PATH,
        auth=auth,
        deflate=True,
        origin=run.hub_url,
        concurrency=len(auth),
        timeout_ms=60000,
    )
    run.hub_sockets = 100 + reply["ok"]
    run.add(
        "storm",
        f"connect storm of {len(auth)} {what}: failures",
        reply["failed"],
        "connects",
        target="0",
        met=reply["failed"] == 0,
        note=json.dumps(reply["errors"]) if reply["errors"] else "",
    )
    target = STORM_TARGET_CONNECTS_PER_SEC
    run.add(
        "storm",
        rate_figure,
        reply["per_sec"],
        "connects/s",
        floor=run.peers.get(FLOOR.key, {}).get("connects_per_sec") if peers else None,
        peers=peer_values(run, "connects_per_sec") if peers else {},
        target=f">= {target:,}, 0 failed",
        met=reply["per_sec"] >= target and reply["failed"] == 0,
        note=f"{reply['ok']} in {reply['seconds']:.1f} s, all at once",
    )
    log(f"storm of {what}: {reply['failed']} failed, {reply['per_sec']:.0f}/s")
    return reply


def scenario_storm(run: Run) -> None:
    """Memory per idle socket (RSS delta), and storms of simultaneous connects
    signed in by API tokens and by connection tokens."""
    import jwt

    from bench.stack import BENCH_JWT_SECRET

    sizes = run.sizes
    run.hub_sockets_to(0)
    run.hub_sockets_to(100)  # warm: threads, database connections, caches
    pid = run.stack.pid("web")
    before = rss_kib(pid)
    storm_tokens = run.tokens[100 : 100 + sizes.storm_sockets]
    reply = _storm(
        run,
        [{"user": uid, "token": key} for uid, key in storm_tokens],
        what="authenticated sockets",
        rate_figure="connect storm: connects per second",
        peers=True,
    )
    after = rss_kib(pid)
    per_socket = (after - before) / reply["ok"] if reply["ok"] else None
    floor = run.peers.get(FLOOR.key, {}).get("kib_per_socket")
    run.add(
        "storm",
        "server memory per idle socket (RSS delta, client offers permessage-deflate)",
        per_socket,
        "KiB",
        floor=floor,
        peers=peer_values(run, "kib_per_socket"),
        target="<= 40 KiB",
        met=per_socket is not None and per_socket <= 40,
        note=f"web RSS {before} -> {after} KiB over {reply['ok']} sockets",
    )
    by = ratio(per_socket, floor)
    run.add(
        "storm",
        "server memory per idle socket / floor",
        by,
        "x",
        target=f"<= {MEMORY_TARGET_FLOOR_RATIO:g}x",
        met=by is not None and by <= MEMORY_TARGET_FLOOR_RATIO,
    )
    run.hub_at_peer_sockets.update(
        kib_per_socket=per_socket, connects_per_sec=reply["per_sec"]
    )
    log(f"memory: {per_socket} KiB/socket")
    run.hub_sockets_to(100)
    exp = int(time.time()) + 3600
    claims = [
        {"sub": f"bench:{uid}", "aud": "hub", "exp": exp} for uid, _ in storm_tokens
    ]
    _storm(
        run,
        [
            {"user": uid, "jwt": jwt.encode(c, BENCH_JWT_SECRET, algorithm="HS256")}
            for (uid, _), c in zip(storm_tokens, claims, strict=True)
        ],
        what="sockets by connection token (auth frame)",
        rate_figure="connect storm by connection token: connects per second",
    )
    # Browsers: the session cookie (seeded by _sessions), with the page's Origin.
    run.hub_sockets_to(100)
    _storm(
        run,
        [
            {"user": uid, "cookie": cookie}
            for (uid, _), cookie in zip(storm_tokens, run.session_cookies, strict=True)
        ],
        what="sockets by session cookie",
        rate_figure="connect storm by session cookie: connects per second",
    )
    run.hub_sockets_to(0)


def scenario_celery(run: Run) -> None:
    """Task-to-socket latency at rest, and publish cost inside the worker."""
    from django.core.cache import cache

    from bench.tasks import publish_probe
    from notifications.tasks import notify_users

    sizes = run.sizes
    checkpoint()  # at rest: not while the personal scenario's rows are written out
    run.hub_sockets_to(min(100, len(run.tokens)))
    online = [uid for uid, _ in run.tokens[: run.hub_sockets]]
    client = run.stack.client
    client.call("track", on=True)
    tag = f"bench-celery-{secrets.token_hex(4)}"
    for i in range(sizes.celery_tasks):
        notify_users.apply_async(
            kwargs={
                "recipient_ids": [online[i % len(online)]],
                "title": "at rest",
                "idempotency_key": f"{tag}-{i}",
                "data": {"sent_at": time.time() * 1000},
            }
        )
        time.sleep(0.05)  # at rest: one task at a time, 20 a second
    deadline = time.monotonic() + 30
    while True:
        report = client.call("track")
        if report["frames"] >= sizes.celery_tasks or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    client.call("track", stop=True)
    lat = report["latency"]
    run.add(
        "celery",
        "Celery task to socket latency at rest: p50",
        lat["p50_ms"],
        "ms",
        note=f"{lat['n']} of {sizes.celery_tasks} tasks delivered",
    )
    run.add(
        "celery",
        "Celery task to socket latency at rest: p99",
        lat["p99_ms"],
        "ms",
        target="< 50 ms",
        met=lat["p99_ms"] is not None and lat["p99_ms"] < 50,
    )
    key = f"bench:probe:{secrets.token_hex(4)}"
    publish_probe.apply_async(
        kwargs={"key": key, "user_ids": online, "events": sizes.probe_events}
    )
    deadline = time.monotonic() + 120
    result = None
    while time.monotonic() < deadline and result is None:
        result = cache.get(key)
        time.sleep(0.2)
    if result is None:
        raise RuntimeError("publish probe gave no result; see the worker log")
    run.add(
        "celery",
        "worker publish cost per event, batched "
        f"({sizes.probe_events} events, amortised)",
        result["batched_ms_per_event"],
        "ms",
        target="<= 0.2 ms",
        met=result["batched_ms_per_event"] <= 0.2,
        note="realtime.publish.notifications_created, one pipeline",
    )
    run.add(
        "celery",
        "worker publish cost per event, one call per event",
        result["single_ms_per_event"],
        "ms",
        note="realtime.publish.topic_event per event, long-lived publisher loop",
    )
    log(f"celery: p99 {lat['p99_ms']} ms; probe {result}")
    run.hub_sockets_to(0)


def scenario_push(run: Run) -> None:
    """Web Push from one worker to a local push service (web-push-testing, which
    verifies and decrypts each push), and the escalation's claim per notification."""
    from django.core.cache import cache

    from bench.tasks import push_probe
    from delivery import webpush
    from delivery.models import PushSubscription
    from tests.delivery.push_service import PushService

    service = PushService(run.stack.log_dir / "push-service.log").start()
    try:
        key = webpush.public_key_of(run.stack.env["WEBPUSH_VAPID_PRIVATE_KEY"])
        user_ids = [uid for uid, _ in run.tokens[: run.sizes.push_users]]
        rows = []
        for uid in user_ids:
            sub = service.subscribe(key)
            rows.append(
                PushSubscription(user_id=uid, endpoint=sub["endpoint"], **sub["keys"])
            )
        PushSubscription.objects.bulk_create(rows)
        result_key = f"bench:push:{secrets.token_hex(4)}"
        push_probe.apply_async(kwargs={"key": result_key, "user_ids": user_ids})
        deadline = time.monotonic() + 300
        result = None
        while time.monotonic() < deadline and result is None:
            result = cache.get(result_key)
            time.sleep(0.2)
        if result is None:
            raise RuntimeError("push probe gave no result; see the worker log")
    finally:
        service.stop()
    run.add(
        "push",
        f"Web Push throughput, one worker, one push at a time ({result['sent']} sent)",
        result["pushes_per_sec"],
        "pushes/s",
        note="delivery.services.push_deliver: decide, encrypt, sign, POST, record",
    )
    run.add(
        "push",
        "escalation check (push sweep claim) per notification",
        result["claim_ms_per_notification"],
        "ms",
        note=f"delivery.escalation.push_claim_due over {result['claimed']} due",
    )
    log(f"push: {result}")


_ROWS_SQL = """
INSERT INTO notifications_notification
    (recipient_id, title, body, level, category, data, created_at, read_at)
SELECT CASE WHEN g %% 10 = 0 THEN %(heavy)s ELSE %(first)s + g %% %(users)s END,
       'bench row ' || g, '', 'info', 'general', '{}'::jsonb,
       now() - make_interval(secs => %(rows)s - g),
       CASE WHEN g %% 3 = 0 THEN NULL ELSE now() END
FROM generate_series(1, %(rows)s) AS g
"""


HTTP_WARM_REQUESTS = 50


def sequential_gets(url: str, headers: dict[str, str], n: int) -> dict:
    """Latency of n GETs one after another on one keep-alive connection.

    In this process, with the standard library's client, not the Node client: a
    request-response loop is all it does, and its own floor (GETs the floor app
    answers at once) has a p99 about a third of the Node client's on this
    machine, whose tail (its event loop and garbage collector) would otherwise
    be most of a 5 ms budget.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times_ms, statuses = [], {}
    try:
        for i in range(HTTP_WARM_REQUESTS + n):
            started = time.perf_counter()
            connection.request("GET", parts.path, headers=headers)
            response = connection.getresponse()
            response.read()
            if i >= HTTP_WARM_REQUESTS:
                times_ms.append((time.perf_counter() - started) * 1000)
                key = str(response.status)
                statuses[key] = statuses.get(key, 0) + 1
    finally:
        connection.close()
    times_ms.sort()
    return {
        "n": n,
        "p50_ms": _percentile(times_ms, 50),
        "p99_ms": _percentile(times_ms, 99),
        "max_ms": times_ms[-1],
        "statuses": statuses,
    }


def _percentile(sorted_values: list[float], p: int) -> float:
    """Nearest rank, as the Node client's pct()."""
    rank = math.ceil(p / 100 * len(sorted_values)) - 1
    return sorted_values[min(len(sorted_values) - 1, max(0, rank))]


def scenario_floor_http(run: Run) -> dict:
    """The client and uvicorn alone: sequential GETs the floor app answers at once."""
    reply = sequential_gets(run.floor_url + "/healthz", {}, run.sizes.http_requests)
    log(f"floor http: p50 {reply['p50_ms']:.2f} ms, p99 {reply['p99_ms']:.2f} ms")
    return reply


def _settle_after_bulk_insert() -> None:
    """Measure the steady state of a 1,000,000-row database, not its first minutes.

    Right after a bulk insert PostgreSQL still has to set the rows' hint bits
    and write a gigabyte of dirty pages at its next checkpoint: done during the
    measurement, that shows as I/O wait in the requests' p99. A database that
    has held its rows for a while (autovacuum on, checkpoints done) has neither.
    """
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) notifications_notification")
    checkpoint()
    log(f"http: vacuum, analyze and checkpoint in {time.monotonic() - started:.1f} s")


def checkpoint() -> None:
    """Write out the dirty pages earlier scenarios left, before measuring at rest."""
    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as error:  # neither superuser nor pg_checkpoint
            log(f"CHECKPOINT refused ({error}); dirty pages may add to tails")


def scenario_http(run: Run) -> None:
    from django.db import connection

    sizes = run.sizes
    heavy, heavy_token = run.tokens[0]
    typical, typical_token = run.tokens[1]
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            _ROWS_SQL,
            {
                "heavy": heavy,
                "first": run.tokens[1][0],
                "users": len(run.tokens) - 1,
                "rows": sizes.http_rows,
            },
        )
        cursor.execute("SELECT count(*) FROM notifications_notification")
        total = cursor.fetchone()[0]
    insert_secs = time.monotonic() - started
    _settle_after_bulk_insert()
    log(f"http: {total} rows in {insert_secs:.1f} s")
    for who, token in (("heavy", heavy_token), ("typical", typical_token)):
        from notifications.models import Notification

        owned = Notification.objects.filter(
            recipient_id=heavy if who == "heavy" else typical
        ).count()
        headers = {"Authorization": f"Token {token}"}
        for label, path, target in (
            ("unread count", "/api/notifications/unread-count/", 5.0),
            ("first feed page", "/api/notifications/", 20.0),
        ):
            reply = sequential_gets(run.hub_url + path, headers, sizes.http_requests)
            run.add(
                "http",
                f"{label} p99, {who} user ({owned} rows) of {total} rows",
                reply["p99_ms"],
                "ms",
                floor=run.extra.get("floor_http", {}).get("p99_ms"),
                target=f"<= {target:g} ms",
                met=reply["p99_ms"] <= target and set(reply["statuses"]) == {"200"},
                note=f"p50 {reply['p50_ms']:.2f} ms over {reply['n']} sequential GETs; "
                f"statuses {reply['statuses']}",
            )
    run.extra["http_rows_insert_secs"] = insert_secs


# --- reporting --------------------------------------------------------------------


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


def report(run: Run, started_load, ended_load, seconds: float) -> dict:
    machine = {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_average_start": started_load,
        "load_average_end": ended_load,
        "database": run.stack.env.get("DATABASE_URL", "").split(":", 1)[0],
    }
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if run.quick else "full",
        "seconds": round(seconds, 1),
        "machine": machine,
        "procfile_web": _procfile_web(),
        "figures": [f.__dict__ for f in run.figures],
        "skipped": run.skipped,
        "peers": run.peers,
        "hub_at_peer_sockets": run.hub_at_peer_sockets,
        "extra": run.extra,
    }
    peer_keys = [k for k in run.peers if k != FLOOR.key]
    rows = [("figure", "value", "unit", "floor", *peer_keys, "target", "met")]
    for f in run.figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        peers = [_fmt(f.peers.get(k)) for k in peer_keys]
        rows.append(
            (f.name, _fmt(f.value), f.unit, _fmt(f.floor), *peers, f.target or "", met)
        )
    print()
    print_table(rows)
    if run.peers and run.hub_at_peer_sockets:
        print()
        print(f"the hub / each peer, {run.sizes.peer_sockets} sockets, same run:")
        print_table(peer_ratios(run.hub_at_peer_sockets, run.peers))
        for key, result in run.peers.items():
            failed = f", {result['failed']} connects failed" if result["failed"] else ""
            print(f"  {key}: {result['what']}{failed}")
    for name, reason in run.skipped.items():
        print(f"skipped {name}: {reason}")
    print()
    print("Each figure's command:")
    for scenario in dict.fromkeys(f.scenario for f in run.figures):
        print(f"  {scenario}: {run.command(scenario)}")
    print(f"machine: {machine}")
    return doc


def print_table(rows: list[tuple[str, ...]]) -> None:
    """The first column left-aligned, the others right-aligned; a rule under the
    header row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))


# What the hub is compared on, the unit, and whether more is better.
PEER_FIGURES = (
    ("fan-out: last delivery", "last_ms", "ms"),
    ("memory per idle socket", "kib_per_socket", "KiB"),
    ("connects per second (hub: API token)", "connects_per_sec", "/s"),
)


def peer_ratios(hub: dict, peers: dict[str, dict]) -> list[tuple[str, ...]]:
    """Rows of the hub's figure and its ratio to each peer's (``1.71x (96.0)``:
    the hub's value over the peer's, the peer's in brackets); "-" where either
    is missing. ``hub`` holds ``Run.hub_at_peer_sockets``, ``peers`` ``Run.peers``."""
    rows = [("figure", "hub", *peers)]
    for name, stat, unit in PEER_FIGURES:
        if hub.get(stat) is None:
            continue  # its scenario did not run
        cells = []
        for result in peers.values():
            source = (result.get("fanout") or {}) if stat == "last_ms" else result
            theirs = source.get(stat)
            by = ratio(hub.get(stat), theirs)
            cells.append("-" if by is None else f"{by:.2f}x ({_fmt(theirs)})")
        rows.append((f"{name} ({unit})", _fmt(hub.get(stat)), *cells))
    return rows


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _procfile_web() -> str:
    from bench.stack import procfile

    return procfile()["web"]


# --- main -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="make bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts (~3 min)")
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help="comma-separated scenarios"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the web process during each scenario (bench/results/profile-*)",
    )
    parser.add_argument(
        "--database", default="hub_bench", help="PostgreSQL database to create"
    )
    parser.add_argument(
        "--fanout-reps",
        type=int,
        help="events per fan-out size (the median one is reported); "
        "more gives steadier figures and longer profiles",
    )
    parser.add_argument(
        "--peers",
        default=",".join(p.key for p in PEERS),
        help="comma-separated peers measured beside the hub with the storm and "
        "fanout scenarios ('' for none)",
    )
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")
    peer_names = [p for p in args.peers.split(",") if p]
    unknown = set(peer_names) - {p.key for p in PEERS}
    if unknown:
        parser.error(f"unknown peer(s) {sorted(unknown)}; choose from {PEERS}")
    peers = [p for p in PEERS if p.key in peer_names]
    sizes = QUICK if args.quick else FULL
    if args.fanout_reps:
        sizes = dataclasses.replace(sizes, fanout_reps=args.fanout_reps)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    nofile = raise_nofile()
    started = time.monotonic()
    load_start = loadavg()
    log(
        f"load average at start: {load_start}; open-file limit {nofile}; mode "
        f"{'quick' if args.quick else 'full'}; scenarios {only}"
    )
    log_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    stack = Stack(log_dir, redis_url)
    run = Run(sizes=sizes, quick=args.quick, stack=stack, profile=args.profile)
    code = 0
    try:
        db = stack.create_database(args.database)
        log(f"database {db}; logs in {log_dir}")
        django_setup(stack)
        from django.db import connection

        if "http" in only and connection.vendor != "postgresql":
            run.skipped["http"] = (
                "needs PostgreSQL on 127.0.0.1:5432 (1,000,000 rows by "
                "generate_series); this run used SQLite"
            )
            log(f"http skipped: {run.skipped['http']}")
            only = [name for name in only if name != "http"]  # nor its floor
        seed(run)
        log(f"seeded {len(run.tokens)} users")
        stack.start_client()
        if "fanout" in only or "storm" in only or "http" in only:
            run.floor_url = stack.start_web("floor", app="bench.floor:app")
            floor = {}
            if "storm" in only:
                run.peers[FLOOR.key] = measure_peer(
                    run, FLOOR, run.floor_url, fanout=False
                )
            if "fanout" in only:
                floor = scenario_floor_fanout(run)
                run.peers.setdefault(FLOOR.key, {"what": FLOOR.what, "failed": 0})
                run.peers[FLOOR.key]["fanout"] = floor.get(sizes.peer_sockets)
            if "http" in only:
                run.extra["floor_http"] = scenario_floor_http(run)
            stack.stop("floor")
        if "fanout" in only or "storm" in only:
            for peer in peers:
                url = start_peer(run, peer)
                run.peers[peer.key] = measure_peer(
                    run, peer, url, fanout="fanout" in only
                )
                stack.stop(peer.key)
        run.hub_url = stack.start_web("web")
        stack.start_worker()
        log(f"hub at {run.hub_url}")
        scenarios = {
            "storm": lambda: scenario_storm(run),
            "fanout": lambda: scenario_fanout(run, floor),
            "restart": lambda: scenario_restart(run),
            "scaleout": lambda: scenario_scaleout(run),
            "broadcast": lambda: scenario_broadcast(run),
            "personal": lambda: scenario_personal(run),
            "celery": lambda: scenario_celery(run),
            "http": lambda: scenario_http(run),
            "push": lambda: scenario_push(run),
        }
        for name, scenario in scenarios.items():
            if name not in only:
                continue
            if name == "fanout":
                scenario()  # profiles its own fan-out phases
            else:
                with profiled(run, name):
                    scenario()
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        code = 130
    except Exception as exc:  # noqa: BLE001 (any failure: report, then clean up)
        log(f"failed: {exc!r}; logs in {log_dir}")
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        stack.close()
    load_end = loadavg()
    log(f"load average at end: {load_end}")
    doc = report(run, load_start, load_end, time.monotonic() - started)
    doc["exit"] = code
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "latest.json"
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log(f"wrote {out} in {doc['seconds']} s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
