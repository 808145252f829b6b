"""Push notifications saved with the plain ORM (admin, shell, other apps).

Services create rows with ``bulk_create`` and publish explicitly, so they do not
pass through here; ``Model.save()`` does, and this publishes after its commit.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from notifications.models import Notification
from realtime import publish


@receiver(post_save, sender=Notification, dispatch_uid="notification_saved_publish")
def notification_saved(sender, instance: Notification, created: bool, **kwargs) -> None:
    if created and not kwargs.get("raw"):
        from notifications.services import publish_created

        publish.on_commit(
            lambda: publish_created([instance]), using=kwargs.get("using")
        )
