"""The live dashboard: hub statistics and custom metrics, pushed to staff."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from dashboard import signals  # noqa: F401  (connects Celery's signals)
