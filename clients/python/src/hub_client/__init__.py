"""hub-client: notify a product's users through the hub and sign them in to its bell."""

from .client import AsyncHubClient, HubClient, __version__
from .errors import (
    HubAuthenticationError,
    HubError,
    HubNotFoundError,
    HubPermissionError,
    HubRateLimitedError,
    HubServerError,
    HubUnavailableError,
    HubValidationError,
)
from .tokens import mint_token

__all__ = [
    "AsyncHubClient",
    "HubAuthenticationError",
    "HubClient",
    "HubError",
    "HubNotFoundError",
    "HubPermissionError",
    "HubRateLimitedError",
    "HubServerError",
    "HubUnavailableError",
    "HubValidationError",
    "__version__",
    "mint_token",
]
