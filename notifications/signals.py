"""After-commit work for rows saved with ``Model.save()``, whoever saves them
(services, the admin, the shell, other apps): notifications are pushed, and
broadcasts are queued for their fan-out.

Services create notifications with ``bulk_create`` and publish explicitly, so
those do not pass through here.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from notifications.models import Broadcast, Notification
from realtime import publish


@receiver(post_save, sender=Notification, dispatch_uid="notification_saved_publish")
def notification_saved(sender, instance: Notification, created: bool, **kwargs) -> None:
    if created and not kwargs.get("raw"):
        from notifications.services import publish_created

        publish.on_commit(
            lambda: publish_created([instance]), using=kwargs.get("using")
        )


@receiver(post_save, sender=Broadcast, dispatch_uid="broadcast_saved_enqueue")
def broadcast_saved(sender, instance: Broadcast, created: bool, **kwargs) -> None:
    if created and not kwargs.get("raw") and instance.status == Broadcast.Status.QUEUED:
        from notifications.services import enqueue_fan_out

        publish.on_commit(
            lambda: enqueue_fan_out(instance.pk), using=kwargs.get("using")
        )
