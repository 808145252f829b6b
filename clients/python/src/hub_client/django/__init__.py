"""The hub in a Django product: ``{% hub_bell %}``, a token view, notify on commit.

Add ``"hub_client.django"`` to ``INSTALLED_APPS``, set ``HUB_URL`` and ``HUB_API_KEY``
(and ``HUB_JWT_SECRET`` to sign tokens locally), include ``hub_client.django.urls``.
"""

from .services import get_client, notify_on_commit, subscriber_id

__all__ = ["get_client", "notify_on_commit", "subscriber_id"]
