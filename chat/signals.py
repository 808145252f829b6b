"""Revocation in chat: a member removed from a room, or a room made private or
deleted, and the sockets in it re-check that they may stay
(docs/SECURITY.md, "Revocation")."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chat.models import Membership, Room
from realtime import publish


@receiver(post_delete, sender=Membership, dispatch_uid="chat_member_removed")
def member_removed(sender, instance: Membership, **kwargs) -> None:
    user_id = instance.user_id
    publish.on_commit(
        lambda: publish.access_changed(user_id), using=kwargs.get("using")
    )


@receiver(post_save, sender=Room, dispatch_uid="chat_room_saved")
def room_saved(sender, instance: Room, created: bool, **kwargs) -> None:
    # Rooms change rarely (the admin): every change is re-checked, not only
    # the ones that close it (public to private, another support user).
    if not created and not kwargs.get("raw"):
        slug = instance.slug
        publish.on_commit(
            lambda: publish.room_access_changed(slug), using=kwargs.get("using")
        )


@receiver(post_delete, sender=Room, dispatch_uid="chat_room_deleted")
def room_deleted(sender, instance: Room, **kwargs) -> None:
    slug = instance.slug
    publish.on_commit(
        lambda: publish.room_access_changed(slug), using=kwargs.get("using")
    )
