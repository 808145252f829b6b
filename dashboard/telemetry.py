"""Each process's dashboard numbers, flushed to Redis once a second.

The hot path never calls Redis for the dashboard: sockets, notifications and
publishes are counted in process memory by the Prometheus metrics of
``hub.metrics`` (and publish latencies kept in a bounded deque). A daemon thread
per process (web, Celery worker, pool child) reads them every
``DASHBOARD_FLUSH_SECS`` and writes what changed in one pipeline:

``<prefix>:proc:<id>``
    ``{"kind", "sockets"}`` as JSON, expiring after ``DASHBOARD_PROCESS_TTL_SECS``
    unless refreshed; its id is in the set ``<prefix>:procs``. A process that dies
    stops counting when its key expires; readers drop its id from the set.
``<prefix>:created:<unix second>``, ``<prefix>:delivered:<unix second>``
    counters per second, summed by readers over ``DASHBOARD_WINDOW_SECS``.
``<prefix>:latency:<unix second>``
    a histogram of publish latencies: a hash from bucket index ``i`` to how many
    fell in ``(r**(i-1), r**i]`` milliseconds, ``r`` = LATENCY_BUCKET_RATIO. A
    busy hub reads a few hundred fields per snapshot instead of every sample
    (docs/ARCHITECTURE.md, "The dashboard's numbers").
``<prefix>:created_total``, ``<prefix>:delivered_total``
    the same counts, ever (since Redis last lost its data): a reader that wants
    "how many since" diffs two snapshots, which a sliding window cannot give.
``<prefix>:failed_tasks``
    Celery tasks that raised, ever (since Redis last lost its data).

``<prefix>`` is ``<CHANNEL_LAYER_PREFIX>:dashboard``. Bucket seconds come from
the writing host's clock and are read with the reading host's: hosts must agree
to well within a second or two (NTP does).
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings

from hub import metrics

logger = logging.getLogger(__name__)

KIND_WEB = "web"
KIND_WORKER = "worker"  # a Celery worker's main process: one per worker node
KIND_POOL = "pool"  # a prefork pool child, where tasks run

# Latency histogram buckets grow by this ratio: percentiles are read to within 10%.
LATENCY_BUCKET_RATIO = 1.1
_LATENCY_FLOOR_MS = 0.001

# How long a shutting-down process waits for a flush under way to finish.
_STOP_JOIN_SECS = 3.0

# Per-second buckets outlive the window a little, so a reader never misses one.
_BUCKET_GRACE_SECS = 10

_client: redis.Redis | None = None
_client_pid: int | None = None


def client() -> redis.Redis:
    """This process's Redis client for dashboard keys (REDIS_URL)."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        _client_pid = os.getpid()
    return _client


def prefix() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:dashboard"


def procs_key() -> str:
    return f"{prefix()}:procs"


def proc_key(proc_id: str) -> str:
    return f"{prefix()}:proc:{proc_id}"


def bucket_key(series: str, second: int) -> str:
    """``series`` is ``created``, ``delivered`` or ``latency``."""
    return f"{prefix()}:{series}:{second}"


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency: the least i with ms <= RATIO**i."""
    return math.ceil(
        round(math.log(max(ms, _LATENCY_FLOOR_MS), LATENCY_BUCKET_RATIO), 9)
    )


def latency_bucket_upper_ms(index: int) -> float:
    """The upper bound of a bucket, in milliseconds: what percentiles report."""
    return LATENCY_BUCKET_RATIO**index


def total_key(series: str) -> str:
    """``series`` is ``created`` or ``delivered``: its count since Redis lost it."""
    return f"{prefix()}:{series}_total"


def failed_tasks_key() -> str:
    return f"{prefix()}:failed_tasks"


def metrics_key() -> str:
    return f"{prefix()}:metrics"


@dataclass
class Counts:
    """What one process has to report in one flush."""

    sockets: int = 0
    created: int = 0
    delivered: int = 0
    failed_tasks: int = 0
    latency_ms: list[float] = field(default_factory=list)


def write(
    conn: redis.Redis,
    *,
    proc_id: str,
    kind: str,
    counts: Counts,
    ttl_secs: float,
    now: float | None = None,
) -> None:
    """Write one process's flush in one round trip."""
    second = int(time.time() if now is None else now)
    bucket_ttl = settings.DASHBOARD_WINDOW_SECS + _BUCKET_GRACE_SECS
    pipe = conn.pipeline(transaction=False)
    pipe.set(
        proc_key(proc_id),
        json.dumps({"kind": kind, "sockets": counts.sockets}),
        px=int(ttl_secs * 1000),
    )
    pipe.sadd(procs_key(), proc_id)
    for series, n in (("created", counts.created), ("delivered", counts.delivered)):
        if n:
            pipe.incrby(bucket_key(series, second), n)
            pipe.expire(bucket_key(series, second), bucket_ttl)
            pipe.incrby(total_key(series), n)
    if counts.latency_ms:
        histogram: dict[int, int] = {}
        for ms in counts.latency_ms:
            index = latency_bucket(ms)
            histogram[index] = histogram.get(index, 0) + 1
        for index, n in histogram.items():
            pipe.hincrby(bucket_key("latency", second), str(index), n)
        pipe.expire(bucket_key("latency", second), bucket_ttl)
    if counts.failed_tasks:
        pipe.incrby(failed_tasks_key(), counts.failed_tasks)
    pipe.execute()


def forget(conn: redis.Redis, proc_id: str) -> None:
    """A process shutting down cleanly stops counting at once."""
    pipe = conn.pipeline(transaction=False)
    pipe.delete(proc_key(proc_id))
    pipe.srem(procs_key(), proc_id)
    pipe.execute()


def _total(metric) -> float:
    """Sum of a metric's samples over all labels (public prometheus_client API)."""
    return sum(
        sample.value
        for family in metric.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    )


class Recorder:
    """Turns this process's Prometheus totals into per-flush deltas."""

    def __init__(self, *, kind: str, proc_id: str | None = None) -> None:
        self.kind = kind
        self.proc_id = proc_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        )
        self._sent = self._totals()

    @staticmethod
    def _totals() -> dict[str, float]:
        return {
            "created": _total(metrics.NOTIFICATIONS_CREATED),
            "delivered": _total(metrics.NOTIFICATIONS_DELIVERED),
            "failed_tasks": _total(metrics.TASKS_FAILED),
        }

    def flush(self, conn: redis.Redis | None = None) -> Counts:
        """Write what changed since the last successful flush; returns it."""
        totals = self._totals()
        samples = []
        while metrics.PUBLISH_LATENCY_SAMPLES:
            samples.append(metrics.PUBLISH_LATENCY_SAMPLES.popleft() * 1000)
        counts = Counts(
            sockets=int(_total(metrics.SOCKETS_OPEN)),
            latency_ms=samples,
            **{name: int(totals[name] - self._sent[name]) for name in totals},
        )
        write(
            conn or client(),
            proc_id=self.proc_id,
            kind=self.kind,
            counts=counts,
            ttl_secs=settings.DASHBOARD_PROCESS_TTL_SECS,
        )
        self._sent = totals  # only once written: a failed flush is sent next time
        return counts

    def forget(self) -> None:
        forget(client(), self.proc_id)


class _Flusher:
    """The daemon thread of one process; started again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.recorder: Recorder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, kind: str) -> Recorder:
        with self._lock:
            if self._pid == os.getpid() and self.recorder is not None:
                return self.recorder
            self.recorder = Recorder(kind=kind)
            self._pid = os.getpid()
            self._stop = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(self.recorder, self._stop),
                name="hub-dashboard-flusher",
                daemon=True,
            )
            thread.start()
            self._thread = thread
            return self.recorder

    def stop(self) -> None:
        with self._lock:
            if self.recorder is None or self._pid != os.getpid():
                return
            self._stop.set()
            if self._thread is not None:
                # A flush under way must not write the key back after it is gone.
                self._thread.join(timeout=_STOP_JOIN_SECS)
            try:
                self.recorder.forget()
            except (redis.RedisError, OSError):
                logger.warning("dashboard: could not forget this process in Redis")
            self.recorder = None

    @staticmethod
    def _run(recorder: Recorder, stop: threading.Event) -> None:
        failing = False
        while not stop.wait(settings.DASHBOARD_FLUSH_SECS):
            try:
                recorder.flush()
            except Exception:  # the thread must go on; logged once until it works
                if not failing:
                    logger.exception("dashboard flush failed; retrying every second")
                failing = True
            else:
                if failing:
                    logger.info("dashboard flush works again")
                failing = False


_flusher = _Flusher()


def start(kind: str) -> Recorder:
    """Start this process's flusher (idempotent per process)."""
    return _flusher.start(kind)


def stop() -> None:
    """Stop this process's flusher and remove its socket count and heartbeat."""
    _flusher.stop()
