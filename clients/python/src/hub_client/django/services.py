"""The product's one configured client, and notifications sent after the commit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, transaction
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..client import HubClient

logger = logging.getLogger("hub_client")
HUB_SETTINGS = (
    "HUB_URL",
    "HUB_API_KEY",
    "HUB_JWT_SECRET",
    "HUB_TIMEOUT_SECS",
    "HUB_MAX_RETRIES",
    "HUB_SUBSCRIBER_ID",
)


@functools.cache
def get_client() -> HubClient:
    """The ``HubClient`` built from ``HUB_URL``, ``HUB_API_KEY``, ``HUB_JWT_SECRET``
    (optional), ``HUB_TIMEOUT_SECS`` (default 10) and ``HUB_MAX_RETRIES`` (3)."""
    return HubClient(
        settings.HUB_URL,
        settings.HUB_API_KEY,
        jwt_secret=getattr(settings, "HUB_JWT_SECRET", None) or None,
        timeout=getattr(settings, "HUB_TIMEOUT_SECS", 10.0),
        max_retries=getattr(settings, "HUB_MAX_RETRIES", 3),
    )


@receiver(setting_changed)
def _reset_client(*, setting: str, **kwargs: Any) -> None:
    # override_settings in the product's tests must reach the next get_client().
    if setting in HUB_SETTINGS:
        get_client.cache_clear()


@functools.cache
def _subscriber_id_function(path: str | None) -> Callable[[Any], str]:
    if path is None:
        return lambda user: str(user.pk)
    return import_string(path)


def subscriber_id(user: Any) -> str:
    """The external id of a product user: ``str(user.pk)``, unless the setting
    ``HUB_SUBSCRIBER_ID`` names a function (dotted path) that maps a user to one."""
    named = getattr(settings, "HUB_SUBSCRIBER_ID", None)
    function = named if callable(named) else _subscriber_id_function(named)
    return str(function(user))


def notify_on_commit(
    subscribers: str | list[str],
    title: str,
    *,
    using: str = DEFAULT_DB_ALIAS,
    **fields: Any,
) -> None:
    """Notify ``subscribers`` (external ids) once the current transaction commits.

    Nothing is sent if it rolls back. Runs in the thread that commits (outside a
    transaction: at once), and never raises into it: a failure is logged on the
    ``hub_client`` logger with the hub's answer, so the product's request or task
    goes on.
    """
    ids = [subscribers] if isinstance(subscribers, str) else list(subscribers)

    def send() -> None:
        try:
            get_client().notify(ids, title, **fields)
        except Exception:
            logger.exception("hub: notifying %s of %r failed", ids, title)

    transaction.on_commit(send, using=using)
