"""dashboard.telemetry and the snapshot: counters from several processes, in Redis."""

import time

import pytest
import redis
from celery import shared_task
from django.conf import settings

from dashboard import selectors, telemetry
from dashboard.telemetry import Counts, Recorder
from hub import metrics
from hub.celery import app as celery_app

DEAD_PROCESS_WAIT_SECS = 5.0


def within_10_percent(ms: float):
    """Percentiles are read from a histogram: the bucket's upper bound, <= +10%."""
    return pytest.approx(ms * 1.05, rel=0.05)


def write(proc_id: str, counts: Counts, *, kind=telemetry.KIND_WEB, ttl_secs=30.0):
    telemetry.write(
        telemetry.client(), proc_id=proc_id, kind=kind, counts=counts, ttl_secs=ttl_secs
    )


def test_snapshot__empty_hub():
    snapshot = selectors.dashboard_snapshot()

    assert snapshot["type"] == "stats"
    assert snapshot["sockets"] == 0
    assert snapshot["notifications_created_per_min"] == 0
    assert snapshot["notifications_delivered_per_min"] == 0
    assert snapshot["notifications_created_total"] == 0
    assert snapshot["notifications_delivered_total"] == 0
    assert snapshot["publish_latency_ms"] == {"p50": None, "p99": None}
    assert snapshot["celery"]["workers_alive"] == 0
    assert snapshot["celery"]["failed_tasks"] == 0
    assert snapshot["metrics"] == {}
    assert snapshot["at"].endswith("Z")


def test_snapshot__sums_two_processes():
    write("web-a", Counts(sockets=3, created=5, delivered=4, latency_ms=[1.0, 2.0]))
    write("web-b", Counts(sockets=2, delivered=6, failed_tasks=1, latency_ms=[3.0]))
    write("web-a", Counts(sockets=4, created=1))  # a later flush of the same process

    snapshot = selectors.dashboard_snapshot()

    assert snapshot["sockets"] == 4 + 2  # the latest count of each process
    assert snapshot["notifications_created_per_min"] == 6
    assert snapshot["notifications_delivered_per_min"] == 10
    assert snapshot["notifications_created_total"] == 6
    assert snapshot["notifications_delivered_total"] == 10
    assert snapshot["publish_latency_ms"] == {
        "p50": within_10_percent(2.0),
        "p99": within_10_percent(3.0),
    }
    assert snapshot["celery"]["failed_tasks"] == 1


def test_snapshot__dead_process_stops_counting():
    write("web-live", Counts(sockets=2))
    write("web-dying", Counts(sockets=5), ttl_secs=0.3)
    assert selectors.dashboard_snapshot()["sockets"] == 7

    # The dying process never flushes again: its key expires on its own.
    deadline = time.monotonic() + DEAD_PROCESS_WAIT_SECS
    while selectors.dashboard_snapshot()["sockets"] != 2:
        assert time.monotonic() < deadline, "a dead process still counts"
        time.sleep(0.05)
    members = telemetry.client().smembers(telemetry.procs_key())
    assert members == {b"web-live"}


def test_forget__a_stopped_process_stops_counting_at_once():
    write("web-a", Counts(sockets=2))
    write("web-b", Counts(sockets=1))

    telemetry.forget(telemetry.client(), "web-a")

    assert selectors.dashboard_snapshot()["sockets"] == 1


def test_snapshot__counts_only_the_window():
    window = settings.DASHBOARD_WINDOW_SECS
    old = time.time() - window - 5
    telemetry.write(
        telemetry.client(),
        proc_id="web-a",
        kind=telemetry.KIND_WEB,
        counts=Counts(created=9, delivered=9, latency_ms=[50.0]),
        ttl_secs=30,
        now=old,
    )
    write("web-a", Counts(created=1, latency_ms=[1.0]))

    snapshot = selectors.dashboard_snapshot()

    assert snapshot["notifications_created_per_min"] == 1
    assert snapshot["notifications_delivered_per_min"] == 0
    assert snapshot["publish_latency_ms"] == {
        "p50": within_10_percent(1.0),
        "p99": within_10_percent(1.0),
    }
    # The totals keep what slid out of the window.
    assert snapshot["notifications_created_total"] == 9 + 1
    assert snapshot["notifications_delivered_total"] == 9


def test_snapshot__workers_alive_counts_worker_heartbeats_only():
    write("worker-1", Counts(), kind=telemetry.KIND_WORKER)
    write("worker-2", Counts(), kind=telemetry.KIND_WORKER)
    write("worker-1-child", Counts(created=1), kind=telemetry.KIND_POOL)
    write("web", Counts(sockets=1))

    assert selectors.dashboard_snapshot()["celery"]["workers_alive"] == 2


def test_keys__scoped_by_the_channel_layer_prefix():
    assert telemetry.proc_key("p1") == (
        f"{settings.CHANNEL_LAYER_PREFIX}:dashboard:proc:p1"
    )
    assert telemetry.bucket_key("created", 1700000000) == (
        f"{settings.CHANNEL_LAYER_PREFIX}:dashboard:created:1700000000"
    )


def test_recorder__flushes_this_process_deltas():
    recorder = Recorder(kind=telemetry.KIND_WEB, proc_id="this-process")
    metrics.PUBLISH_LATENCY_SAMPLES.clear()
    metrics.NOTIFICATIONS_CREATED.inc(3)
    metrics.NOTIFICATIONS_DELIVERED.inc(2)
    metrics.TASKS_FAILED.inc()
    metrics.PUBLISH_LATENCY_SAMPLES.extend([0.004, 0.001])

    first = recorder.flush()
    second = recorder.flush()  # nothing new: nothing counted twice

    assert (first.created, first.delivered, first.failed_tasks) == (3, 2, 1)
    assert sorted(first.latency_ms) == [pytest.approx(1.0), pytest.approx(4.0)]
    assert (second.created, second.delivered, second.latency_ms) == (0, 0, [])
    snapshot = selectors.dashboard_snapshot()
    assert snapshot["notifications_created_per_min"] == 3
    assert snapshot["notifications_delivered_per_min"] == 2
    assert snapshot["celery"]["failed_tasks"] == 1
    assert snapshot["publish_latency_ms"] == {
        "p50": within_10_percent(1.0),
        "p99": within_10_percent(4.0),
    }


def test_recorder__reports_open_sockets_of_this_process():
    recorder = Recorder(kind=telemetry.KIND_WEB, proc_id="this-process")
    gauge = metrics.SOCKETS_OPEN.labels(path="TestSockets")
    gauge.inc(2)
    try:
        counts = recorder.flush()
    finally:
        gauge.dec(2)

    assert counts.sockets >= 2  # other tests' sockets may still be open
    assert selectors.dashboard_snapshot()["sockets"] == counts.sockets


@pytest.mark.parametrize("ms", [0.0005, 0.013, 0.5, 1.0, 2.0, 3.7, 250.0, 9000.0])
def test_latency_bucket__upper_bound_within_10_percent_above(ms):
    upper = telemetry.latency_bucket_upper_ms(telemetry.latency_bucket(ms))

    assert max(ms, 0.001) <= upper <= max(ms, 0.001) * telemetry.LATENCY_BUCKET_RATIO


def test_percentile__nearest_rank_over_the_histogram():
    samples = [float(v) for v in range(1, 101)]  # 1..100 ms
    histogram: dict[int, int] = {}
    for ms in samples:
        index = telemetry.latency_bucket(ms)
        histogram[index] = histogram.get(index, 0) + 1

    assert selectors.percentile({}, 0.5) is None
    assert selectors.percentile(histogram, 0.50) == within_10_percent(50.0)
    assert selectors.percentile(histogram, 0.99) == within_10_percent(99.0)
    assert selectors.percentile({7: 1}, 0.99) == round(1.1**7, 3)


def test_queue_depth__counts_tasks_waiting_in_the_celery_queue():
    before = selectors.dashboard_snapshot()["celery"]["queue_depth"]
    for _ in range(3):  # no worker runs during unit tests: they wait
        celery_app.send_task("workers.dashboard_stats_push")
    try:
        after = selectors.dashboard_snapshot()["celery"]["queue_depth"]
    finally:
        # Take back exactly these three (kombu LPUSHes; workers pop the other end).
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.lpop(settings.CELERY_TASK_DEFAULT_QUEUE, 3)

    assert after == before + 3


def test_queue_depth__unknown_for_a_broker_that_is_not_redis(settings):
    settings.CELERY_BROKER_URL = "amqp://guest@127.0.0.1:5672//"

    assert selectors.dashboard_snapshot()["celery"]["queue_depth"] is None


@shared_task(name="tests.dashboard.fails")
def fails() -> None:
    raise ValueError("on purpose")


def test_task_failure__counted_by_the_signal_and_flushed():
    recorder = Recorder(kind=telemetry.KIND_POOL, proc_id="pool-child")

    fails.apply()  # runs here, through Celery's tracer and its task_failure signal

    assert recorder.flush().failed_tasks == 1
    assert selectors.dashboard_snapshot()["celery"]["failed_tasks"] == 1
