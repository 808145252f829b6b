"""Connection tokens: HS256 JWTs for one subscriber, signed with the shared secret."""

from __future__ import annotations

import time

import jwt

AUDIENCE = "hub"
ALGORITHM = "HS256"
# The hub refuses tokens that live longer than its HUB_TOKEN_MAX_TTL_SECS (default
# 86400); short tokens limit what a leaked one allows, and the bell refreshes them.
DEFAULT_TOKEN_TTL_SECS = 900
PROFILE_CLAIMS = ("name", "email", "timezone", "locale")


def mint_token(
    secret: str,
    external_id: str,
    *,
    ttl_secs: int = DEFAULT_TOKEN_TTL_SECS,
    now: float | None = None,
    **profile: str | None,
) -> str:
    """A token for ``external_id`` that expires ``ttl_secs`` from ``now``.

    ``profile`` takes the optional claims the hub stores on first use (``name``,
    ``email``, ``timezone``, ``locale``); ``None`` values are left out.
    """
    unknown = set(profile) - set(PROFILE_CLAIMS)
    if unknown:
        raise TypeError(
            f"unknown token claims {sorted(unknown)}; the hub reads {PROFILE_CLAIMS}"
        )
    if not isinstance(ttl_secs, int) or ttl_secs <= 0:
        raise ValueError(f"ttl_secs must be a positive number of seconds: {ttl_secs!r}")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": external_id,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_secs,
        **{k: v for k, v in profile.items() if v is not None},
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_expiry(token: str) -> int | None:
    """The ``exp`` (unix seconds) of a token, read without verifying it.

    For the product's own bookkeeping (the token view's ``expires_at``) only: the
    hub verifies every token it is given.
    """
    claims = jwt.decode(token, options={"verify_signature": False})
    exp = claims.get("exp")
    return int(exp) if isinstance(exp, int | float) else None
