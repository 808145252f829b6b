"""The product's people, as the hub knows them (subscribers)."""

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import signals

        # A signal, because users are created and changed by code that must not
        # know the hub: the admin, createsuperuser, the seed command.
        post_save.connect(
            signals.user_saved,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="accounts.user_saved",
        )
