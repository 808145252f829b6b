"""workers.schedules: the periodic task rows, created once, admin edits kept."""

import pytest
from django_celery_beat.models import PeriodicTask

from hub.celery import app as celery_app
from workers.schedules import SCHEDULES, ensure_periodic_tasks

pytestmark = pytest.mark.django_db


def test_ensure_periodic_tasks__rows_exist_after_migrate():
    # post_migrate ran it when the test database was made.
    names = set(PeriodicTask.objects.values_list("name", flat=True))

    assert {name for name, _, _ in SCHEDULES} <= names


def test_ensure_periodic_tasks__idempotent_and_keeps_admin_edits():
    PeriodicTask.objects.filter(name=SCHEDULES[0][0]).update(enabled=False)

    created = ensure_periodic_tasks()

    assert created == []
    assert PeriodicTask.objects.filter(name=SCHEDULES[0][0]).count() == 1
    assert not PeriodicTask.objects.get(name=SCHEDULES[0][0]).enabled


def test_ensure_periodic_tasks__recreates_a_deleted_row():
    PeriodicTask.objects.filter(name=SCHEDULES[1][0]).delete()

    assert ensure_periodic_tasks() == [SCHEDULES[1][0]]


def test_schedules__name_registered_tasks_with_positive_intervals():
    import workers.tasks  # noqa: F401  (registers the tasks)

    for _name, task, every_secs in SCHEDULES:
        assert task in celery_app.tasks
        assert every_secs > 0
