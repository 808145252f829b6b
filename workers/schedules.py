"""Every periodic task of the hub, as django-celery-beat rows, created in one place.

``ensure_periodic_tasks`` runs after every ``migrate`` (see workers/apps.py), so
`make run`, the Procfile's release step and tests all get the rows. It only
creates missing rows: a schedule edited in the admin stays as edited.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Every:
    seconds: int


@dataclass(frozen=True)
class Daily:
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    when: Every | Daily
    description: str
    # A run still queued this long after Beat sent it is discarded by the worker
    # (None: never): frequent pushes must not pile up while workers are down.
    expire_seconds: int | None = None


# How often the dashboard's stats are pushed; the contract asks for at least
# every 5 s, and the flushers write every DASHBOARD_FLUSH_SECS (1 s).
DASHBOARD_STATS_EVERY_SECS = 2
# How often the push sweep runs: pushes are queued for their exact due time up
# to PUSH_SWEEP_LOOKAHEAD_SECS (2 s) ahead, so a second's interval leaves no gap.
PUSH_SWEEP_EVERY_SECS = 1


PERIODIC_TASKS = [
    Schedule(
        "dashboard: push stats",
        "workers.dashboard_stats_push",
        Every(seconds=DASHBOARD_STATS_EVERY_SECS),
        "Computes the hub's statistics and pushes them to /ws/dashboard/ sockets.",
        expire_seconds=DASHBOARD_STATS_EVERY_SECS,
    ),
    Schedule(
        "hub: dispatch due broadcasts",
        "workers.dispatch_due_broadcasts",
        Every(seconds=5),
        "Queues scheduled broadcasts whose send_at has come.",
    ),
    Schedule(
        "hub: requeue stalled broadcasts",
        "workers.requeue_stalled_broadcasts",
        Every(seconds=30),
        "The outbox sweeper: queues broadcasts stuck in queued or sending.",
    ),
    Schedule(
        "emails: missed-notification emails",
        "workers.email_missed_sweep",
        Every(seconds=60),
        "Emails notifications left unread for EMAIL_DELAY_SECS; retries failed "
        "sends. A minute's lateness on a ten-minute delay.",
    ),
    Schedule(
        "delivery: push sweep",
        "workers.push_sweep",
        Every(seconds=PUSH_SWEEP_EVERY_SECS),
        "Claims Web Pushes coming due (PUSH_AFTER_SECS after a notification no "
        "page reported seen) and queues each for its due time; re-queues lost ones.",
        expire_seconds=2 * PUSH_SWEEP_EVERY_SECS,
    ),
    Schedule(
        "emails: daily and weekly digests",
        "workers.email_digest_sweep",
        Every(seconds=300),
        "Sends digests due at 08:00 local time; every five minutes is punctual enough.",
    ),
    Schedule(
        "hub: purge old notifications",
        "workers.purge_old_notifications",
        Daily(hour=3, minute=30),
        "Deletes read notifications older than NOTIFICATION_RETENTION_DAYS.",
    ),
]


def ensure_periodic_tasks(**_signal_kwargs) -> list[str]:
    """Create the PeriodicTask rows that do not exist yet; returns their names."""
    from django_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
    )

    created = []
    for spec in PERIODIC_TASKS:
        if PeriodicTask.objects.filter(name=spec.name).exists():
            continue
        if isinstance(spec.when, Every):
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=spec.when.seconds, period=IntervalSchedule.SECONDS
            )
            schedule = {"interval": interval}
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=str(spec.when.minute),
                hour=str(spec.when.hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone="UTC",
            )
            schedule = {"crontab": crontab}
        PeriodicTask.objects.create(
            name=spec.name,
            task=spec.task,
            description=spec.description,
            expire_seconds=spec.expire_seconds,
            **schedule,
        )
        created.append(spec.name)
    return created
