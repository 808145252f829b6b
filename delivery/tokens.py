"""The signed token a push carries so its click can mark it read without a session.

It names one notification of one user and allows only marking that one read:
the service worker has no CSRF token, and the person may have signed out since.
"""

from django.core import signing

SALT = "hub.push.read"
# How long a pushed notification's read link works.
READ_TOKEN_MAX_AGE_SECS = 30 * 24 * 3600


def read_token(*, user_id: int, notification_id: int) -> str:
    return signing.dumps({"u": user_id, "n": notification_id}, salt=SALT, compress=True)


def read_token_target(token: str) -> tuple[int, int] | None:
    """(user id, notification id) of a valid token, or None."""
    try:
        value = signing.loads(token, salt=SALT, max_age=READ_TOKEN_MAX_AGE_SECS)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not {"u", "n"} <= value.keys():
        return None
    return value["u"], value["n"]
