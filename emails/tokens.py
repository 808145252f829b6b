"""Signed links that act for one user without a login: unsubscribe, preferences.

A token is the user id signed with SECRET_KEY (``django.core.signing``) under a
salt per purpose, so a token for one purpose is useless for the other and cannot
be altered to name another user. Unsubscribe tokens never expire: RFC 8058
expects the link in an old email to keep working, and all it can do is turn
email off. Preference-page tokens, which can change more, expire after
EMAIL_PREFERENCES_LINK_MAX_AGE_SECS.
"""

from django.conf import settings
from django.core import signing

UNSUBSCRIBE = "emails.unsubscribe"
PREFERENCES = "emails.preferences"


def make_token(purpose: str, user_id: int) -> str:
    return signing.dumps(user_id, salt=purpose)


def read_token(purpose: str, token: str) -> int | None:
    """The user id a token was made for, or None if forged, mangled or expired."""
    max_age = (
        settings.EMAIL_PREFERENCES_LINK_MAX_AGE_SECS if purpose == PREFERENCES else None
    )
    try:
        value = signing.loads(token, salt=purpose, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    return value if isinstance(value, int) else None
