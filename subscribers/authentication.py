"""DRF authentication for product back ends (API keys) and subscribers (tokens).

A request with an API key is not a user's: ``request.user`` is AnonymousUser
and ``request.auth`` is the :class:`ApiKey`. So every permission that needs a
user (``IsAuthenticated``, staff, model permissions) refuses a key, and only
the endpoints that also accept a key's scope (subscribers.permissions) let it
through. A connection token signs in as the subscriber's own user, and is
offered only on the subscriber's own endpoints (AcceptsConnectionTokens).
"""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from subscribers.errors import InvalidConnectionToken
from subscribers.models import ApiKey
from subscribers.services import subscriber_from_claims
from subscribers.tokens import connection_token_verify


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``: a usable (not revoked, not expired) key."""

    keyword = "Api-Key"
    key_parser = KeyParser()

    def authenticate(self, request):
        key = self.key_parser.get_from_authorization(request)
        if key is None:
            return None
        try:
            api_key = ApiKey.objects.get_from_key(key.strip())
        except ApiKey.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(
                "Unknown or revoked API key."
            ) from exc
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        return AnonymousUser(), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ConnectionTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <connection token>``: the token's subscriber.

    Only the header is read: a token in a URL would end up in access logs.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Bearer needs one token: 'Authorization: Bearer <token>'."
            )
        try:
            claims = connection_token_verify(parts[1].decode("ascii"))
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed token.") from exc
        except InvalidConnectionToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        return subscriber_from_claims(claims), claims

    def authenticate_header(self, request) -> str:
        return self.keyword


class AcceptsConnectionTokens:
    """View mixin for the subscriber's own endpoints (feed, unread count, read,
    archive, preferences, topics): the hub's usual ways in, plus connection tokens."""

    def get_authenticators(self):
        return [*super().get_authenticators(), ConnectionTokenAuthentication()]

    def get_authenticate_header(self, request):
        # A refused Bearer token is a 401 with WWW-Authenticate (DRF would answer
        # 403, going by the first authenticator, the session's): the client's
        # cue to fetch a new token.
        if authentication.get_authorization_header(request)[:7].lower() == b"bearer ":
            return 'Bearer realm="api"'
        return super().get_authenticate_header(request)
