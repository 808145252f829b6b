"""The workers app: the Beat schedule rows and how tasks retry; each app keeps
its own tasks in its ``tasks.py``."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        from workers.schedules import ensure_periodic_tasks

        # After django-celery-beat's tables exist (every migrate and test flush).
        post_migrate.connect(
            ensure_periodic_tasks,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="ensure_periodic_tasks",
        )
