"""Connection tokens: JWTs a product signs for one subscriber, verified here.

Every refusal raises :class:`InvalidConnectionToken` with a message that says
what was wrong. The key is chosen by the token's ``alg`` and that alg alone is
passed to PyJWT, so an HS256 token is only ever checked against
``HUB_JWT_SECRET`` (never against the public key's PEM: the "algorithm
confusion" attack), and ``none`` or any other alg is refused before decoding.
"""

import functools
import re
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import EmailValidator

from emails.periods import is_timezone
from subscribers.errors import InvalidConnectionToken, TokenSigningUnavailable
from subscribers.models import (
    EXTERNAL_ID_PATTERN,
    LOCALE_MAX_CHARS,
    NAME_MAX_CHARS,
)

AUDIENCE = "hub"
# Clocks of the product and the hub may differ this much (exp, the TTL cap).
CLOCK_SKEW_SECS = 5
_EXTERNAL_ID = re.compile(rf"\A{EXTERNAL_ID_PATTERN}\Z")
_LOCALE = re.compile(r"\A[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*\Z")
_EMAIL = EmailValidator()
EMAIL_MAX_CHARS = 254

__all__ = [
    "InvalidConnectionToken",
    "connection_token_mint",
    "connection_token_verify",
]


@functools.cache
def public_key(pem: str) -> tuple[object, str]:
    """The loaded key and the one alg it verifies (RS256 for RSA, ES256 for EC)."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"HUB_JWT_PUBLIC_KEY is not a PEM public key: {exc}"
        ) from exc
    if isinstance(key, rsa.RSAPublicKey):
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return key, "ES256"
    raise ImproperlyConfigured(
        "HUB_JWT_PUBLIC_KEY must be an RSA key (RS256) or a P-256 EC key (ES256)."
    )


def _verification_key(alg: object) -> object:
    """The key for a token of this alg, from the hub's settings; refuses the rest."""
    if alg == "HS256" and settings.HUB_JWT_SECRET:
        return settings.HUB_JWT_SECRET
    if settings.HUB_JWT_PUBLIC_KEY:
        key, key_alg = public_key(settings.HUB_JWT_PUBLIC_KEY)
        if alg == key_alg:
            return key
    allowed = []
    if settings.HUB_JWT_SECRET:
        allowed.append("HS256")
    if settings.HUB_JWT_PUBLIC_KEY:
        allowed.append(public_key(settings.HUB_JWT_PUBLIC_KEY)[1])
    raise InvalidConnectionToken(
        f"Token alg {alg!r} is not accepted; this hub accepts "
        f"{', '.join(allowed) or 'no connection tokens (no key configured)'}."
    )


def connection_token_verify(token: str) -> dict:
    """The claims of a valid connection token; raises InvalidConnectionToken."""
    if not isinstance(token, str) or not token:
        raise InvalidConnectionToken("No token.")
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise InvalidConnectionToken(f"Malformed token: {exc}") from exc
    key = _verification_key(alg)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=AUDIENCE,
            leeway=CLOCK_SKEW_SECS,
            options={"require": ["exp", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidConnectionToken("Token expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidConnectionToken(f'Token aud must be "{AUDIENCE}".') from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidConnectionToken(f"Token has no {exc.claim!r} claim.") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidConnectionToken("Token signature does not verify.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidConnectionToken(f"Invalid token: {exc}") from exc
    _check_lifetime(claims["exp"])
    _check_subject(claims)
    return claims


def _check_lifetime(exp: object) -> None:
    max_ttl_secs = settings.HUB_TOKEN_MAX_TTL_SECS
    ahead_secs = float(exp) - datetime.now(UTC).timestamp()  # PyJWT checked a number
    if ahead_secs > max_ttl_secs + CLOCK_SKEW_SECS:
        raise InvalidConnectionToken(
            f"Token exp is {int(ahead_secs)} s ahead; this hub accepts at most "
            f"{max_ttl_secs} s (HUB_TOKEN_MAX_TTL_SECS)."
        )


def _check_subject(claims: dict) -> None:
    """``sub`` is an external id; the optional profile claims are well formed."""
    sub = claims["sub"]
    if not isinstance(sub, str) or not _EXTERNAL_ID.match(sub):
        raise InvalidConnectionToken(
            "Token sub must be an external id: 1-128 of A-Z a-z 0-9 _ . : @ -."
        )
    name = claims.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX_CHARS):
        raise InvalidConnectionToken(
            f"Token name must be text of at most {NAME_MAX_CHARS} characters."
        )
    email = claims.get("email")
    if email is not None:
        if not isinstance(email, str) or len(email) > EMAIL_MAX_CHARS:
            raise InvalidConnectionToken("Token email must be an email address.")
        if email:
            try:
                _EMAIL(email)
            except Exception as exc:  # ValidationError; its text is Django's
                raise InvalidConnectionToken(
                    "Token email must be an email address."
                ) from exc
    timezone = claims.get("timezone")
    if timezone is not None and (
        not isinstance(timezone, str) or not is_timezone(timezone)
    ):
        raise InvalidConnectionToken(
            "Token timezone must be an IANA name, such as Europe/Paris."
        )
    locale = claims.get("locale")
    if locale is not None and (
        not isinstance(locale, str)
        or len(locale) > LOCALE_MAX_CHARS
        or not _LOCALE.match(locale)
    ):
        raise InvalidConnectionToken(
            "Token locale must be a BCP 47 tag, such as fr-CA."
        )


def connection_token_mint(
    *, external_id: str, ttl_secs: int, **claims
) -> tuple[str, datetime]:
    """A token for one subscriber signed with HUB_JWT_SECRET (HS256), and its expiry.

    ``claims`` may add ``name``, ``email``, ``timezone``, ``locale``. Raises
    TokenSigningUnavailable when the hub has no secret.
    """
    if not settings.HUB_JWT_SECRET:
        raise TokenSigningUnavailable(
            "This hub has no HUB_JWT_SECRET, so it cannot mint connection tokens: "
            "set it, or sign tokens in your back end with your own key."
        )
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(seconds=ttl_secs)
    payload = {
        **claims,
        "sub": external_id,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(payload, settings.HUB_JWT_SECRET, algorithm="HS256"), expires_at
