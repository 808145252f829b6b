"""The hub's periodic tasks, as django-celery-beat rows, created in one place.

Each entry is (name, task, interval in seconds). ``ensure_periodic_tasks`` runs
after every ``migrate`` (see workers/apps.py), so ``make run`` and the Procfile's
release step create them. It only creates missing rows: an interval changed or a
task disabled in the admin stays as the admin left it.
"""

SCHEDULES: list[tuple[str, str, int]] = [
    # Missed-notification emails (EMAIL_DELAY_SECS after a notification) and the
    # email outbox's retries: a minute's lateness on a ten-minute delay.
    ("emails: missed-notification emails", "workers.email_missed_sweep", 60),
    # Digests go out at 08:00 local time: every five minutes is punctual enough.
    ("emails: daily and weekly digests", "workers.email_digest_sweep", 300),
]


def ensure_periodic_tasks() -> list[str]:
    """Create the missing PeriodicTask rows; returns the names it created."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    created = []
    for name, task, every_secs in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every_secs, period=IntervalSchedule.SECONDS
        )
        _, was_created = PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval}
        )
        if was_created:
            created.append(name)
    return created
