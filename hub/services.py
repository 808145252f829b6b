"""API tokens: issue, rotate and revoke (``Authorization: Token``).

A user has at most one token (DRF's ``Token``, one per user). Expiry is read
where tokens are checked (hub.authentication); here an expired token is only
replaced when a new one is asked for.
"""

from django.db import transaction
from rest_framework.authtoken.models import Token

from hub.authentication import token_is_expired


class TokenGone(Exception):
    """The token was rotated or revoked by another request meanwhile."""


def api_token_issue(*, user) -> Token:
    """The user's token; a new one if the user has none or its has expired."""
    with transaction.atomic():
        token, created = Token.objects.select_for_update().get_or_create(user=user)
        if not created and token_is_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
    return token


def api_token_rotate(*, token: Token) -> Token:
    """Replace ``token`` with a new one for its user: the old key stops working
    now. :class:`TokenGone` if it was rotated or revoked meanwhile (of two
    racing rotations one wins)."""
    with transaction.atomic():
        deleted, _ = Token.objects.filter(key=token.key).delete()
        if not deleted:
            raise TokenGone
        return Token.objects.create(user_id=token.user_id)


def api_token_revoke(*, token: Token) -> None:
    """Delete ``token``: its key stops working now."""
    Token.objects.filter(key=token.key).delete()
