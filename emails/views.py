"""HTTP: the preferences API, and the signed pages reached from emails."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from emails import selectors, services, tokens
from emails.models import CHANNELS, MUTED_CATEGORIES_MAX, Digest, Preference
from emails.serializers import PreferenceSerializer
from subscribers.authentication import AcceptsConnectionTokens

# The preferences page's column heading for each channel.
CHANNEL_LABELS = {"in_app": "In-app alerts", "push": "Push", "email": "Email"}


class PreferenceView(AcceptsConnectionTokens, APIView):
    """The user's email preferences (defaults until first changed)."""

    @extend_schema(responses={200: PreferenceSerializer})
    def get(self, request):
        preference = selectors.preference_get(user_id=request.user.pk)
        return Response(PreferenceSerializer(preference).data)

    @extend_schema(request=PreferenceSerializer, responses={200: PreferenceSerializer})
    def patch(self, request):
        serializer = PreferenceSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        preference = services.preference_update(
            user_id=request.user.pk, **serializer.validated_data
        )
        return Response(PreferenceSerializer(preference).data)


# One-click unsubscribe (RFC 8058): mail clients POST without cookies or a CSRF
# token; the signed token in the URL is the authorisation, and all it can do is
# turn email off.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page (link scanners must not unsubscribe anyone);
    POST: email and digests off, no login needed."""
    user_id = _user_of(tokens.UNSUBSCRIBE, token)
    if user_id is None:
        return render(request, "emails/link_invalid.html", status=400)
    if request.method == "POST":
        services.preference_unsubscribe(user_id=user_id)
        return render(request, "emails/unsubscribed.html")
    return render(request, "emails/unsubscribe.html")


@require_http_methods(["GET", "POST"])
def preferences_page(request: HttpRequest, token: str) -> HttpResponse:
    """The preferences page linked from every email: the same fields and rules
    as the API, reached with a signed, expiring link instead of a login."""
    user_id = _user_of(tokens.PREFERENCES, token)
    if user_id is None:
        return render(request, "emails/link_invalid.html", status=400)
    context, status = preferences_form(request, user_id=user_id)
    return render(request, "emails/preferences.html", context, status=status)


def preferences_form(request: HttpRequest, *, user_id: int) -> tuple[dict, int]:
    """The preferences form for ``user_id``: saves a POST through the API's
    serializer; returns the template context and the status (400 on errors).

    Shared by the signed email page and the signed-in /preferences/ page, which
    both render ``emails/_preferences_form.html``.
    """
    errors, saved = {}, False
    if request.method == "POST":
        current = selectors.preference_get(user_id=user_id)
        serializer = PreferenceSerializer(data=_form_to_api(request.POST, current))
        if serializer.is_valid():
            services.preference_update(user_id=user_id, **serializer.validated_data)
            saved = True
        else:
            errors = {name: _text(e) for name, e in serializer.errors.items()}
    preference = selectors.preference_get(user_id=user_id)
    shown = PreferenceSerializer(preference).data
    rows = _channel_rows(shown["category_channels"], user_id=user_id)
    context = {
        "preference": shown,
        "muted_text": ", ".join(shown["muted_categories"]),
        "channel_rows": rows,
        "channel_categories": ",".join(row["category"] for row in rows),
        "channel_names": CHANNEL_LABELS,
        "digest_choices": Digest.values,
        "errors": errors,
        "saved": saved,
    }
    return context, 400 if errors else 200


def _user_of(purpose: str, token: str) -> int | None:
    """The existing user a signed link is for, or None for a bad link."""
    user_id = tokens.read_token(purpose, token)
    if user_id is None or not selectors.user_exists(user_id=user_id):
        return None
    return user_id


def _channel_rows(category_channels: dict, *, user_id: int) -> list[dict]:
    """The page's table of channels per category: every category with a
    setting, then those of the user's notifications, each channel on unless
    turned off."""
    categories = list(category_channels)
    known = selectors.notification_categories(
        user_id=user_id, limit=MUTED_CATEGORIES_MAX
    )
    categories += [c for c in known if c not in category_channels]
    return [
        {
            "category": category,
            "channels": [
                {
                    "field": f"{channel}:{category}",
                    "label": f"{CHANNEL_LABELS[channel]} for {category}",
                    "on": category_channels.get(category, {}).get(channel, True),
                }
                for channel in CHANNELS
            ],
        }
        for category in categories
    ]


def _form_to_api(form, current: Preference) -> dict:
    """The HTML form's fields in the API's shape, so one serializer validates both.

    The table of channels per category posts a checkbox ``<channel>:<category>``
    for each channel of each category it lists (``channel_categories``), and
    one more row, ``new_category`` with ``new_<channel>``. A category the form
    did not list (a setting made through the API since the page was drawn)
    keeps its setting.
    """
    start, end = form.get("quiet_start", ""), form.get("quiet_end", "")
    listed = [c.strip() for c in form.get("channel_categories", "").split(",")]
    channels = dict(current.category_channels)
    for category in filter(None, listed):
        channels[category] = {c: f"{c}:{category}" in form for c in CHANNELS}
    new = form.get("new_category", "").strip()
    if new:
        channels[new] = {c: f"new_{c}" in form for c in CHANNELS}
    # Stored as the API shows it: only what is off (a channel not listed is on).
    channels = {
        category: {c: False for c, on in chosen.items() if on is False}
        for category, chosen in channels.items()
    }
    return {
        "push": "push" in form,
        "category_channels": {c: off for c, off in channels.items() if off},
        "email": "email" in form,
        "digest": form.get("digest", ""),
        "timezone": form.get("timezone", "").strip(),
        "quiet_hours": {"start": start, "end": end} if start or end else None,
        "muted_categories": [
            c.strip() for c in form.get("muted_categories", "").split(",") if c.strip()
        ],
    }


def _text(errors) -> str:
    """DRF's nested field errors as one line of text for the page."""
    if isinstance(errors, dict):
        return " ".join(f"{key}: {_text(value)}" for key, value in errors.items())
    if isinstance(errors, list):
        return " ".join(_text(e) for e in errors)
    return str(errors)
