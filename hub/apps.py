"""The hub's core app: settings, authentication, and who may still be signed in."""

from django.apps import AppConfig


class HubConfig(AppConfig):
    name = "hub"

    def ready(self) -> None:
        from hub import signals  # noqa: F401  (connects the revocation handlers)
