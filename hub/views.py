"""Hub-wide HTTP endpoints: health and metrics."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

logger = logging.getLogger(__name__)

# How long /healthz waits for Celery workers to answer a ping, and caches the count.
HEALTH_WORKER_PING_SECS = 0.5
HEALTH_WORKER_CACHE_SECS = 10


def _check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: database down: %s", exc)
        return "down"


def _check_redis() -> str:
    try:
        cache.set("healthz", 1, timeout=5)
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: redis down: %s", exc)
        return "down"


def _check_channel_layer() -> str:
    from realtime import publish

    try:
        publish.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "down")
        logger.warning("healthz: channel layer down: %s", exc)
        return "down"


def _count_workers(redis_ok: bool) -> int:
    from hub.celery import app

    if not redis_ok:  # the broker is Redis too: no worker can be reached
        return 0
    cached = cache.get("healthz:workers")
    if cached is not None:
        return cached
    try:
        count = len(app.control.ping(timeout=HEALTH_WORKER_PING_SECS))
    except Exception:  # noqa: BLE001 (no broker, no workers)
        return 0
    if count:  # a zero is asked again next time, so a starting worker shows at once
        cache.set("healthz:workers", count, timeout=HEALTH_WORKER_CACHE_SECS)
    return count


def healthz(request):
    """200 when the database and Redis answer, else 503; always JSON."""
    report = {"db": _check_db(), "redis": _check_redis()}
    report["channel_layer"] = (
        _check_channel_layer() if report["redis"] == "ok" else "down"
    )
    report["workers"] = _count_workers(report["redis"] == "ok")
    healthy = report["db"] == "ok" and report["redis"] == "ok"
    return JsonResponse(report, status=200 if healthy else 503)


def metrics_view(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
