"""The Django app: its label and the check that the hub's settings are there."""

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class HubClientConfig(AppConfig):
    name = "hub_client.django"
    label = "hub_client"
    verbose_name = "hub client"

    def ready(self) -> None:
        checks.register(check_settings)


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """HUB_URL and HUB_API_KEY are required; say so at start-up, not at first use."""
    errors = []
    for name, hint in (
        ("HUB_URL", "the hub's base URL, e.g. https://hub.example.com"),
        ("HUB_API_KEY", "a key from `python manage.py hub_api_key create` on the hub"),
    ):
        if not getattr(settings, name, None):
            errors.append(
                checks.Error(f"{name} is not set", hint=hint, id="hub_client.E001")
            )
    return errors
