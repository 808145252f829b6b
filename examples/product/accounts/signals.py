"""Receivers that keep the hub's copy of a user in step with the product's."""

from accounts import services


def user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # Every login saves last_login only; the hub does not need to hear about it.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    services.user_identify_on_commit(user=instance)
