"""After-commit work for rows saved with ``Model.save()``, whoever saves them
(services, the admin, the shell, other apps): notifications are pushed,
broadcasts are queued for their fan-out, and a topic's followers re-check it
when it becomes harder to follow or goes (docs/SECURITY.md, "Revocation").

Services create notifications with ``bulk_create`` and publish explicitly, so
those do not pass through here.
"""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from notifications.models import Broadcast, Notification, Topic
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


@receiver(pre_save, sender=Topic, dispatch_uid="topic_rule_before")
def topic_rule_before(sender, instance: Topic, raw: bool = False, **kwargs) -> None:
    if not raw and not instance._state.adding:
        instance._rule_before = (
            Topic.objects.filter(pk=instance.pk)
            .values_list("staff_only", "group_id")
            .first()
        )


@receiver(post_save, sender=Topic, dispatch_uid="topic_rule_saved")
def topic_rule_saved(sender, instance: Topic, created: bool, **kwargs) -> None:
    before = instance.__dict__.pop("_rule_before", None)
    if created or before is None:
        return
    was_staff_only, old_group_id = before
    narrowed = (instance.staff_only and not was_staff_only) or (
        instance.group_id is not None and instance.group_id != old_group_id
    )
    if narrowed:
        slug = instance.slug
        publish.on_commit(
            lambda: publish.topic_access_changed(slug), using=kwargs.get("using")
        )


@receiver(post_delete, sender=Topic, dispatch_uid="topic_deleted")
def topic_deleted(sender, instance: Topic, **kwargs) -> None:
    slug = instance.slug
    publish.on_commit(
        lambda: publish.topic_access_changed(slug), using=kwargs.get("using")
    )
