"""workers.dashboard_stats_push and its Beat row."""

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from dashboard.tasks import dashboard_stats_push
from hub.celery import app as celery_app
from workers.schedules import DASHBOARD_STATS_EVERY_SECS

pytestmark = pytest.mark.django_db


def test_periodic_task__row_exists_every_two_seconds_and_expires():
    row = PeriodicTask.objects.get(task="workers.dashboard_stats_push")

    assert row.enabled
    assert row.interval.every == DASHBOARD_STATS_EVERY_SECS == 2
    assert row.interval.period == IntervalSchedule.SECONDS
    # A push still queued after one period is stale: the next one replaces it.
    assert row.expire_seconds == DASHBOARD_STATS_EVERY_SECS


def test_task__registered_and_takes_no_arguments():
    assert "workers.dashboard_stats_push" in celery_app.tasks
    assert isinstance(dashboard_stats_push(), int)
