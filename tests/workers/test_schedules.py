"""workers.schedules: the periodic task rows, created once, admin edits kept."""

import pytest
from django_celery_beat.models import PeriodicTask

from hub.celery import app as celery_app
from workers.schedules import PERIODIC_TASKS, Every, ensure_periodic_tasks

pytestmark = pytest.mark.django_db

NAMES = [spec.name for spec in PERIODIC_TASKS]


def test_ensure_periodic_tasks__rows_exist_after_migrate():
    # post_migrate ran it when the test database was made.
    assert set(NAMES) <= set(PeriodicTask.objects.values_list("name", flat=True))


def test_ensure_periodic_tasks__idempotent_and_keeps_admin_edits():
    PeriodicTask.objects.filter(name=NAMES[0]).update(enabled=False)

    created = ensure_periodic_tasks()

    assert created == []
    assert PeriodicTask.objects.filter(name__in=NAMES).count() == len(NAMES)
    assert not PeriodicTask.objects.get(name=NAMES[0]).enabled


def test_ensure_periodic_tasks__recreates_a_deleted_row():
    PeriodicTask.objects.filter(name=NAMES[1]).delete()

    assert ensure_periodic_tasks() == [NAMES[1]]


def test_schedules__name_registered_tasks_with_sane_timing():
    celery_app.loader.import_default_modules()  # autodiscovery, as a worker does

    for spec in PERIODIC_TASKS:
        assert spec.task in celery_app.tasks
        if isinstance(spec.when, Every):
            assert spec.when.seconds > 0
        else:
            assert 0 <= spec.when.hour < 24
