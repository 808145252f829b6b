"""The workers app: every Celery task of the hub."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _ensure_periodic_tasks(sender, **kwargs) -> None:
    from workers.schedules import ensure_periodic_tasks

    ensure_periodic_tasks()


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        # After django_celery_beat's tables exist: once per migrate.
        post_migrate.connect(
            _ensure_periodic_tasks,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="workers_ensure_periodic_tasks",
        )
