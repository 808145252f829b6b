"""Revocation: when a user loses access, their open sockets hear it.

A user deactivated, deleted, demoted from staff, given a new password or
removed from a group, a session logged out, an API token deleted: each is
published after the commit as ``access.changed`` to the user's sockets
(realtime.publish), which sign in again and re-check what they are in
(realtime.consumers). Writes that bypass signals (``QuerySet.update``, raw SQL)
must call :func:`user_access_changed` themselves. docs/SECURITY.md, "Revocation".
"""

from django.contrib.auth import get_user_model, user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from realtime import publish, security

User = get_user_model()

# A change to one of these may take access away; other saves (last_login on
# every sign-in, a subscriber's email) cost no query and publish nothing.
_WATCHED_FIELDS = ("is_active", "is_staff", "password")


def user_access_changed(user_id: int, *, credential: str | None = None) -> None:
    """After the commit, tell every socket of ``user_id`` to re-check its access."""
    publish.on_commit(lambda: publish.access_changed(user_id, credential=credential))


def _watched(update_fields) -> bool:
    return update_fields is None or not set(update_fields).isdisjoint(_WATCHED_FIELDS)


@receiver(pre_save, sender=User, dispatch_uid="revocation_user_before")
def _user_before(sender, instance, raw: bool = False, update_fields=None, **kwargs):
    if raw or instance._state.adding or not _watched(update_fields):
        return
    instance._access_before = (
        sender.objects.filter(pk=instance.pk).values_list(*_WATCHED_FIELDS).first()
    )


@receiver(post_save, sender=User, dispatch_uid="revocation_user_saved")
def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    before = instance.__dict__.pop("_access_before", None)
    if created or before is None:
        return
    was_active, was_staff, old_password = before
    if (
        (was_active and not instance.is_active)
        or (was_staff and not instance.is_staff)
        or old_password != instance.password
    ):
        user_access_changed(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="revocation_user_deleted")
def _user_deleted(sender, instance, **kwargs) -> None:
    user_access_changed(instance.pk)


@receiver(user_logged_out, dispatch_uid="revocation_logged_out")
def _logged_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed: its key still names the sockets it
    # signed in, which close at once; the user's other sessions stay.
    key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and key:
        user_access_changed(
            user.pk, credential=security.credential_fingerprint(security.SESSION, key)
        )


@receiver(post_delete, sender=Token, dispatch_uid="revocation_token_deleted")
def _token_deleted(sender, instance: Token, **kwargs) -> None:
    # Rotating a token is deleting it and making another.
    fingerprint = security.credential_fingerprint(security.API_TOKEN, instance.key)
    user_access_changed(instance.user_id, credential=fingerprint)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="revocation_groups")
def _groups_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs):
    """A user left a group (which may open a restricted topic)."""
    if action == "pre_clear":
        # The rows are gone by post_clear: note whose they were.
        instance._group_users_cleared = (
            list(instance.user_set.values_list("pk", flat=True))
            if reverse
            else [instance.pk]
        )
        return
    if action == "post_remove":
        user_ids = sorted(pk_set) if reverse else [instance.pk]
    elif action == "post_clear":
        user_ids = instance.__dict__.pop("_group_users_cleared", [])
    else:
        return
    for user_id in user_ids:
        user_access_changed(user_id)
