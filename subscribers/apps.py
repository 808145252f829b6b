"""The subscribers app: external ids, API keys with scopes, connection tokens."""

from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from subscribers import schema  # noqa: F401  (registers the OpenAPI schemes)
        from subscribers.tokens import public_key

        # A key that cannot verify anything stops the process now, not at the
        # first token.
        if settings.HUB_JWT_PUBLIC_KEY:
            public_key(settings.HUB_JWT_PUBLIC_KEY)
