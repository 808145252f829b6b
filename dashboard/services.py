"""Writes of the dashboard: custom metrics, kept in Redis and pushed live."""

from __future__ import annotations

import json
import time

from django.conf import settings

from dashboard import selectors, telemetry
from dashboard.errors import TooManyMetrics
from realtime import publish

# Set the metric if its name is known or there is room for one more, atomically,
# so concurrent pushes of new names never exceed the bound.
_SET_BOUNDED = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
   or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


def metric_push(*, name: str, value: float) -> dict:
    """Keep ``value`` as the latest of metric ``name`` and push it to dashboards.

    Returns the ``metric`` frame. Raises TooManyMetrics for a new name when
    DASHBOARD_METRICS_MAX_NAMES are kept already. The push is best effort (an
    ephemeral event); the stored value shows in every later snapshot.
    """
    at = selectors.iso(time.time())
    frame = {"type": "metric", "name": name, "value": value, "at": at}
    stored = json.dumps({"value": value, "at": at})
    kept = telemetry.client().eval(
        _SET_BOUNDED,
        1,
        telemetry.metrics_key(),
        name,
        stored,
        settings.DASHBOARD_METRICS_MAX_NAMES,
    )
    if not kept:
        raise TooManyMetrics(
            f"At most {settings.DASHBOARD_METRICS_MAX_NAMES} metric names are kept; "
            "reuse one of them."
        )
    publish.dashboard_metric(frame)
    return frame


def stats_push() -> dict:
    """Compute the snapshot and push it to every dashboard socket (Beat, every 2 s)."""
    snapshot = selectors.dashboard_snapshot()
    publish.dashboard_stats(snapshot)
    return snapshot
