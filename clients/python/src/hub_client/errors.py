"""The client's errors: one class per kind of failure, carrying the hub's answer."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """The hub refused a request, or could not be reached.

    ``status`` is the HTTP status (``None`` when no answer came), ``body`` the hub's
    JSON error body (``{"detail": ...}`` or field errors; ``None`` if not JSON),
    ``detail`` a one-line summary of it.
    """

    status_code: int | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        body: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.detail = detail
        self.status = status if status is not None else self.status_code
        self.body = body
        self.method = method
        self.url = url
        where = f"{method} {url}: " if method else ""
        code = f"{self.status} " if self.status is not None else ""
        super().__init__(f"{where}{code}{detail}")


class HubValidationError(HubError):
    """400: the hub refused the input; ``body`` holds the field errors."""

    status_code = 400


class HubAuthenticationError(HubError):
    """401: the API key is missing, unknown or revoked."""

    status_code = 401


class HubPermissionError(HubError):
    """403: the API key lacks the scope this endpoint needs."""

    status_code = 403


class HubNotFoundError(HubError):
    """404: no such subscriber, topic or endpoint."""

    status_code = 404


class HubRateLimitedError(HubError):
    """429, still after the retries; ``retry_after`` is the hub's wait in seconds."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class HubServerError(HubError):
    """5xx, still after the retries (or at once for a request unsafe to repeat)."""

    status_code = 500


class HubUnavailableError(HubError):
    """No answer: the connection failed or timed out (``__cause__`` says how)."""


_BY_STATUS: dict[int, type[HubError]] = {
    400: HubValidationError,
    401: HubAuthenticationError,
    403: HubPermissionError,
    404: HubNotFoundError,
    429: HubRateLimitedError,
}


def error_class(status: int) -> type[HubError]:
    """The error class for an HTTP error status."""
    if status >= 500:
        return HubServerError
    return _BY_STATUS.get(status, HubError)
