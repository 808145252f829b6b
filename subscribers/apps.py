"""The subscribers app: external ids, API keys with scopes, connection tokens."""

from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from subscribers import schema  # noqa: F401  (registers the OpenAPI schemes)
