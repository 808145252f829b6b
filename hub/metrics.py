"""Prometheus metrics of this process, served at /metrics.

The dashboard's flusher (dashboard/telemetry.py) reads these once a second and
writes the deltas to Redis, so the hot path only ever touches process memory.
"""

import gc
import time
from collections import deque

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

# Most recent publish latencies (seconds per message) kept for the dashboard's
# percentiles; the flusher drains them every DASHBOARD_FLUSH_SECS, so this bounds
# what one process contributes per flush.
PUBLISH_LATENCY_SAMPLES_MAX = 200
PUBLISH_LATENCY_SAMPLES: deque[float] = deque(maxlen=PUBLISH_LATENCY_SAMPLES_MAX)

SOCKETS_OPEN = Gauge(
    "hub_websockets_open", "WebSocket connections open in this process", ["path"]
)
SOCKETS_ACCEPTED = Counter(
    "hub_websockets_accepted_total", "WebSocket connections accepted", ["path"]
)
SOCKETS_REFUSED = Counter(
    "hub_websockets_refused_total", "WebSocket connections refused", ["code"]
)
FRAMES_DELIVERED = Counter(
    "hub_frames_delivered_total", "Frames sent to sockets from channel-layer events"
)
EVENTS_PUBLISHED = Counter(
    "hub_events_published_total", "Messages sent to the channel layer"
)
PUBLISH_FAILURES = Counter(
    "hub_publish_failures_total", "Messages that could not be sent to the channel layer"
)
PUBLISH_SECONDS = Histogram(
    "hub_publish_seconds",
    "Time to hand one message to the channel layer",
    buckets=(0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1.0),
)
NOTIFICATIONS_CREATED = Counter(
    "hub_notifications_created_total", "Notification rows stored"
)
NOTIFICATIONS_DELIVERED = Counter(
    "hub_notifications_delivered_total",
    "Notifications pushed live to a socket by this process",
)
TASKS_FAILED = Counter("hub_tasks_failed_total", "Celery tasks that raised")
ERROR_FRAMES = Counter(
    "hub_error_frames_total", "Error frames sent to clients", ["code"]
)


class GarbageCollectorPauses:
    """How long the garbage collector has stopped this process, per generation.

    Every socket of a web process waits while a collection runs; with thousands
    open a full one took over a second (docs/PERFORMANCE.md). The callback only
    adds to plain numbers (taking a metric's lock inside the collector could
    deadlock a thread that already holds it); Prometheus reads them at scrape
    time as ``hub_gc_pause_seconds_total``, ``hub_gc_pauses_total`` and
    ``hub_gc_pause_longest_seconds``.
    """

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        paused = time.perf_counter() - self._started
        generation = info["generation"]
        self.seconds[generation] += paused
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], paused)

    def collect(self):
        seconds = CounterMetricFamily(
            "hub_gc_pause_seconds",
            "Time garbage collections stopped this process",
            labels=["generation"],
        )
        count = CounterMetricFamily(
            "hub_gc_pauses", "Garbage collections run", labels=["generation"]
        )
        longest = GaugeMetricFamily(
            "hub_gc_pause_longest_seconds",
            "Longest garbage collection since the process started",
            labels=["generation"],
        )
        for generation in range(3):
            label = [str(generation)]
            seconds.add_metric(label, self.seconds[generation])
            count.add_metric(label, self.count[generation])
            longest.add_metric(label, self.longest[generation])
        return [seconds, count, longest]


GC_PAUSES = GarbageCollectorPauses()
gc.callbacks.append(GC_PAUSES.on_gc)
REGISTRY.register(GC_PAUSES)
