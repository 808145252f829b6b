"""The workers app: every Celery task of the hub."""

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
