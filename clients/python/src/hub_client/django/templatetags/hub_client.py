"""``{% load hub_client %}{% hub_bell %}``: the hub's bell for the signed-in user."""

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def hub_bell(context: template.Context, token_url: str | None = None) -> str:
    """The embed script and ``<hub-bell>``; nothing for an anonymous visitor.

    ``token_url`` defaults to this app's token view; the user is the context's
    ``request.user`` (the ``request`` context processor), else its ``user``.
    """
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated:
        return ""
    hub_url = settings.HUB_URL.rstrip("/")
    return format_html(
        '<script type="module" src="{}/static/hub/embed.js"></script>'
        '<hub-bell hub-url="{}" token-url="{}"></hub-bell>',
        hub_url,
        hub_url,
        token_url or reverse("hub_client:token"),
    )
