"""``{% hub_bell %}``: the notification bell, rendered with the unread count so
the badge is right before the socket connects (hub.js keeps it live)."""

from django import template

from notifications import selectors

register = template.Library()


@register.inclusion_tag("hub/_bell.html", takes_context=True)
def hub_bell(context) -> dict:
    user = context["request"].user
    unread = (
        selectors.notification_unread_count(user_id=user.pk)
        if user.is_authenticated
        else 0
    )
    return {"user": user, "unread": unread}
