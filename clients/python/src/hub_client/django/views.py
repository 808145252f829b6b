"""The view behind ``<hub-bell token-url>``: the signed-in user's connection token."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..errors import HubError
from ..tokens import DEFAULT_TOKEN_TTL_SECS, token_expiry
from .services import get_client, logger, subscriber_id


# Exempt from CSRF on purpose: a cross-site page can make the request but cannot read
# the answer (no CORS here), so a forged request gains nothing; GET works as well.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def token(request: HttpRequest) -> JsonResponse:
    """``{"token", "expires_at"}`` (unix seconds) for ``request.user``; 401 if
    anonymous, 502 if the hub could not mint one."""
    user = request.user
    if not user.is_authenticated:
        response = JsonResponse({"detail": "Sign in to get a hub token."}, status=401)
    else:
        try:
            value = get_client().connection_token(
                subscriber_id(user), ttl_secs=_ttl_secs(), **_profile(user)
            )
        except HubError as exc:
            logger.warning("hub: no connection token for user %s: %s", user.pk, exc)
            response = JsonResponse(
                {"detail": "The notification hub could not be reached."}, status=502
            )
        else:
            response = JsonResponse({"token": value, "expires_at": token_expiry(value)})
    add_never_cache_headers(response)
    return response


def _ttl_secs() -> int:
    # The bell renews its token before it expires, so a short one costs a small
    # request per lifetime and limits what a leaked token is worth.
    return getattr(settings, "HUB_TOKEN_TTL_SECS", DEFAULT_TOKEN_TTL_SECS)


def _profile(user) -> dict[str, str | None]:
    # Only a locally signed token carries the profile; the hub's token endpoint
    # takes none (keep it current with identify()).
    if not get_client().jwt_secret:
        return {}
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {
        "name": name or user.get_username(),
        "email": getattr(user, "email", None) or None,
    }
