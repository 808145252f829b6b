"""Build the hub's emails: Django templates (HTML and text), links, headers.

Templates live in ``emails/templates/emails/``: ``<name>.html`` is autoescaped
(user-supplied titles and bodies cannot inject markup), ``<name>.txt`` is plain
text. Every email carries a signed one-click unsubscribe link and the
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers of RFC 8058.
"""

from datetime import tzinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from emails import tokens
from notifications.serializers import validate_url

SUBJECT_MAX_CHARS = 120


def absolute_url(url: str | None) -> str | None:
    """A link for an email: what the API accepts as a notification url (http(s)
    or a site path, see ``validate_url``), made absolute with HUB_BASE_URL. Any
    other value (javascript:, data:, saved with the plain ORM) is dropped."""
    try:
        url = validate_url(url)
    except ValidationError:
        return None
    if url and url.startswith("/"):
        return settings.HUB_BASE_URL + url
    return url


def one_line(text: str, limit: int = SUBJECT_MAX_CHARS) -> str:
    """Text safe for a header: whitespace (newlines included) collapsed, shortened."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def signed_url(view_name: str, purpose: str, user_id: int) -> str:
    """An absolute link to ``view_name`` carrying a signed token for the user."""
    path = reverse(view_name, args=[tokens.make_token(purpose, user_id)])
    return settings.HUB_BASE_URL + path


def item(notification) -> dict:
    """What a template shows of one notification."""
    return {
        "title": notification.title,
        "body": notification.body,
        "category": notification.category,
        "level": notification.level,
        "url": absolute_url(notification.url),
        "created_at": notification.created_at,
        "read": notification.read_at is not None,
    }


def build(
    *,
    template: str,
    subject: str,
    to: str,
    user_id: int,
    tz: tzinfo,
    context: dict,
) -> EmailMultiAlternatives:
    """Render ``template`` (.txt and .html) into a message with the unsubscribe
    link and headers; times show in ``tz``; ``context`` gets ``unsubscribe_url``,
    ``preferences_url`` and ``hub_url`` added."""
    link = signed_url("email-unsubscribe", tokens.UNSUBSCRIBE, user_id)
    context = {
        **context,
        "subject": subject,
        "unsubscribe_url": link,
        "preferences_url": signed_url("email-preferences", tokens.PREFERENCES, user_id),
        "hub_url": settings.HUB_BASE_URL + "/",
    }
    with timezone.override(tz):
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 3834: machine-sent; auto-responders must not answer it.
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message
