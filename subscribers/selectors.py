"""Reads of subscribers: by external id, and the external id of a hub user."""

from subscribers.models import Subscriber


def subscriber_get(*, external_id: str) -> Subscriber:
    """The subscriber, its user loaded; raises Subscriber.DoesNotExist."""
    return Subscriber.objects.select_related("user").get(external_id=external_id)


def external_id_of(*, user_id: int) -> str | None:
    """The product's id for this hub user; None for the hub's own users."""
    return (
        Subscriber.objects.filter(user_id=user_id)
        .values_list("external_id", flat=True)
        .first()
    )
