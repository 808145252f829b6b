"""Celery signals that feed the dashboard: failed tasks and worker heartbeats.

Each Celery process starts its telemetry flusher (dashboard.telemetry): the
worker's main process reports as a ``worker`` (its key is the heartbeat that
``workers_alive`` counts), each prefork child as ``pool`` (it runs the tasks, so
it counts created notifications and publish latencies).
"""

from celery.signals import (
    task_failure,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

from dashboard import telemetry
from hub import metrics


@task_failure.connect
def _count_failure(**_kwargs) -> None:
    metrics.TASKS_FAILED.inc()  # in memory; the flusher sends it to Redis


@worker_ready.connect
def _worker_ready(**_kwargs) -> None:
    telemetry.start(telemetry.KIND_WORKER)


@worker_process_init.connect
def _pool_child_ready(**_kwargs) -> None:
    telemetry.start(telemetry.KIND_POOL)


@worker_shutdown.connect
def _worker_shutdown(**_kwargs) -> None:
    telemetry.stop()
