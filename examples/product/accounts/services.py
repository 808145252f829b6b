"""Tell the hub who the product's users are (name and email on the bell's side)."""

import logging
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from hub_client import HubError
from hub_client.django import get_client, subscriber_id

logger = logging.getLogger(__name__)


def subscriber_ids(users: Iterable[AbstractBaseUser]) -> list[str]:
    """The ids the hub knows these users by (``str(user.pk)``, as in the client's
    token view), once each."""
    return sorted({subscriber_id(user) for user in users})


def user_identify_on_commit(*, user: AbstractBaseUser) -> None:
    """Create or update the user's subscriber on the hub once the save commits.

    A hub that is down does not stop the product: the failure is logged, and the
    subscriber is created anyway by the first notification or token for them.
    """
    fields = {"name": user.get_full_name() or user.get_username()}
    if user.email:
        fields["email"] = user.email
    external_id = subscriber_id(user)

    def send() -> None:
        try:
            get_client().identify(external_id, **fields)
        except HubError:
            logger.exception("the hub did not take user %s", external_id)

    transaction.on_commit(send)
