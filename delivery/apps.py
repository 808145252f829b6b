"""The delivery app: Web Push, and the escalation socket -> push -> email."""

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    default_auto_field = "django.db.models.BigAutoField"
