"""Password-guessing lockout (django-axes): the client's address, and what a
locked-out login is told, as a page or as API JSON.

Axes counts failed logins per username and per address (hub/settings.py); its
backend refuses a locked-out attempt before any password hash is computed.
"""

from django.conf import settings
from django.shortcuts import render
from rest_framework import exceptions


def client_address(request) -> str | None:
    """The peer address uvicorn gives the request (``REMOTE_ADDR``).

    Behind a proxy, uvicorn replaces it with the X-Forwarded-For address only
    when the connection comes from FORWARDED_ALLOW_IPS; a header sent by anyone
    else is ignored. Reading X-Forwarded-For here instead would let each guess
    claim a new address.
    """
    return request.META.get("REMOTE_ADDR")


LOCKED_OUT = "Too many failed logins for this account or from this address."


def _try_again() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECS / 60))
    return f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def lockout_page(request, original_response=None, credentials=None):
    """Axes' AXES_LOCKOUT_CALLABLE: the login page's answer to a locked-out
    attempt (/login/, /admin/login/), 429 with Retry-After."""
    response = render(
        request,
        "web/locked_out.html",
        {"message": LOCKED_OUT, "try_again": _try_again()},
        status=429,
    )
    response["Retry-After"] = str(settings.LOGIN_LOCKOUT_SECS)
    return response


class LoginLockedOut(exceptions.Throttled):
    """The token endpoint's answer to a locked-out attempt: 429, Retry-After
    (the whole lockout: it may end sooner)."""

    default_code = "login_locked_out"

    def __init__(self):
        # DRF adds "Expected available in <n> seconds." and the header.
        super().__init__(wait=settings.LOGIN_LOCKOUT_SECS, detail=LOCKED_OUT)


def is_locked_out(request) -> bool:
    """Whether axes refused this request's login as locked out (its backend
    marks the request it was given: the DRF request, for API views)."""
    return bool(getattr(request, "axes_locked_out", False))
