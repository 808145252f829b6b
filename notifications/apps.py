"""The notifications app: stored notifications, topics and their live push."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import signals  # noqa: F401  (connects the handlers)
