"""Reads of the dashboard: the stats snapshot, gathered from Redis and the broker."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import redis
from django.conf import settings

from dashboard import telemetry

# kombu's Redis transport keeps a queue's prioritised messages in sibling lists
# named <queue>\x06\x16<step> (kombu.transport.redis: PRIORITY_STEPS, sep).
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)

_broker: redis.Redis | None = None


def _broker_client() -> redis.Redis | None:
    """A client of the Celery broker when it is Redis (None for other brokers)."""
    global _broker
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if url == settings.REDIS_URL:
        return telemetry.client()
    if _broker is None:
        _broker = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _broker


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """Nearest-rank percentile of a latency histogram (bucket index -> count), as
    the upper bound of its bucket in milliseconds; None if empty."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index in sorted(histogram):  # rank <= total: the loop always returns
        seen += histogram[index]
        if seen >= rank:
            break
    return round(telemetry.latency_bucket_upper_ms(index), 3)


def queue_depth() -> int | None:
    """Messages waiting in the Celery queue (CELERY_QUEUE); None if unknown."""
    conn = _broker_client()
    if conn is None:
        return None
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    siblings = [f"{queue}{_KOMBU_PRIORITY_SEP}{p}" for p in _KOMBU_PRIORITY_STEPS]
    names = [queue, *siblings]
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
    return sum(pipe.execute())


def _metric_values(stored: dict[bytes, bytes]) -> dict[str, float]:
    """Name -> latest value, from the custom metrics hash (see dashboard.services)."""
    return {
        name.decode(): json.loads(raw)["value"] for name, raw in sorted(stored.items())
    }


def dashboard_snapshot(*, now: float | None = None) -> dict:
    """The hub's statistics now: the ``stats`` frame and GET /api/dashboard/.

    Three round trips to Redis (the process set; everything else in one
    pipeline; the broker's queue lengths), whatever the traffic. Processes whose
    key expired are dropped from the set on the way.
    """
    now = time.time() if now is None else now
    conn = telemetry.client()
    proc_ids = sorted(p.decode() for p in conn.smembers(telemetry.procs_key()))
    window = settings.DASHBOARD_WINDOW_SECS
    seconds = range(int(now) - window + 1, int(now) + 1)

    pipe = conn.pipeline(transaction=False)
    pipe.mget([telemetry.bucket_key("created", s) for s in seconds])
    pipe.mget([telemetry.bucket_key("delivered", s) for s in seconds])
    for s in seconds:
        pipe.hgetall(telemetry.bucket_key("latency", s))
    pipe.mget([telemetry.total_key("created"), telemetry.total_key("delivered")])
    pipe.get(telemetry.failed_tasks_key())
    pipe.hgetall(telemetry.metrics_key())
    if proc_ids:
        pipe.mget([telemetry.proc_key(p) for p in proc_ids])
    results = pipe.execute()
    created, delivered = results[0], results[1]
    latency_hashes = results[2 : 2 + len(seconds)]
    created_total, delivered_total = results[2 + len(seconds)]
    failed, stored_metrics = results[3 + len(seconds)], results[4 + len(seconds)]
    procs = results[5 + len(seconds)] if proc_ids else []

    live, dead = [], []
    for proc_id, raw in zip(proc_ids, procs, strict=True):
        if raw is None:
            dead.append(proc_id)
        else:
            live.append(json.loads(raw))
    if dead:
        conn.srem(telemetry.procs_key(), *dead)

    latencies: dict[int, int] = {}
    for histogram in latency_hashes:
        for index, n in histogram.items():
            latencies[int(index)] = latencies.get(int(index), 0) + int(n)
    return {
        "type": "stats",
        "at": iso(now),
        "sockets": sum(p["sockets"] for p in live),
        "notifications_created_per_min": sum(int(n) for n in created if n),
        "notifications_delivered_per_min": sum(int(n) for n in delivered if n),
        "notifications_created_total": int(created_total or 0),
        "notifications_delivered_total": int(delivered_total or 0),
        "publish_latency_ms": {
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
        },
        "celery": {
            "queue_depth": queue_depth(),
            "workers_alive": sum(p["kind"] == telemetry.KIND_WORKER for p in live),
            "failed_tasks": int(failed or 0),
        },
        "metrics": _metric_values(stored_metrics),
    }
