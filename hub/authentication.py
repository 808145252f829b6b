"""API tokens: one fixed query from a key to its user, for HTTP and sockets alike.

DRF's ``TokenAuthentication`` looks the key up with
``Token.objects.select_related("user").get(key=...)``: the ORM builds and
compiles the same join on every request, about half of an unread count's
time in the web process (cProfile, 2,000 requests; docs/PERFORMANCE.md). Here
the SQL is made once per process from the models' own metadata (so a custom
user model works) and each lookup is one execute and one row.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


@functools.cache
def _token_user_sql() -> tuple[str, list[str], list]:
    """The lookup's SQL, the user fields its columns fill (after the token's
    ``created``), and each column's converters (SQLite's datetimes, say), as
    the ORM would apply them."""
    user_model = get_user_model()
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = list(user_model._meta.concrete_fields)
    token_table = quote(Token._meta.db_table)
    user_table = quote(user_model._meta.db_table)
    columns = ", ".join(f"u.{quote(f.column)}" for f in fields)

    def token_column(name: str) -> str:
        return "t." + quote(Token._meta.get_field(name).column)

    # Only quoted identifiers from the models' metadata; the key is a parameter.
    sql = (
        f"SELECT {token_column('created')}, {columns} FROM {token_table} t "  # noqa: S608
        f"JOIN {user_table} u ON u.{quote(user_model._meta.pk.column)} = "
        f"{token_column('user')} WHERE {token_column('key')} = %s"
    )
    connection = connections[DEFAULT_DB_ALIAS]
    converters = []
    for field in [Token._meta.get_field("created"), *fields]:
        column = field.get_col(field.model._meta.db_table)
        converters.append(
            (
                column,
                connection.ops.get_db_converters(column)
                + column.get_db_converters(connection),
            )
        )
    return sql, [f.attname for f in fields], converters


def _converted(row, converters) -> list:
    connection = connections[DEFAULT_DB_ALIAS]
    values = []
    for value, (column, functions) in zip(row, converters, strict=True):
        for convert in functions:
            value = convert(value, column, connection)
        values.append(value)
    return values


def token_lookup(key: str) -> Token | None:
    """The token with this key, its ``user`` loaded; None if there is none."""
    sql, user_fields, converters = _token_user_sql()
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    created, *user_values = _converted(row, converters)
    user = get_user_model().from_db(DEFAULT_DB_ALIAS, user_fields, user_values)
    token = Token.from_db(
        DEFAULT_DB_ALIAS, ["key", "user_id", "created"], [key, user.pk, created]
    )
    token.user = user
    return token


def token_expires_at(token: Token) -> datetime | None:
    """When the token stops working: API_TOKEN_TTL_SECS after it was issued;
    None when tokens never expire (0)."""
    if not settings.API_TOKEN_TTL_SECS:
        return None
    return token.created + timedelta(seconds=settings.API_TOKEN_TTL_SECS)


def token_is_expired(token: Token) -> bool:
    expires_at = token_expires_at(token)
    return expires_at is not None and expires_at <= timezone.now()


class TokenExpired(exceptions.AuthenticationFailed):
    """An API token past API_TOKEN_TTL_SECS: 401 on every endpoint (hub.api)."""

    default_detail = (
        "Token expired. Get a new one from POST /api/auth/token/ (rotate before "
        "expiry with POST /api/auth/token/rotate/)."
    )
    default_code = "token_expired"


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, looked up by :func:`token_lookup`,
    refused once expired (API_TOKEN_TTL_SECS)."""

    def authenticate_credentials(self, key: str):
        token = token_lookup(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token_is_expired(token):
            raise TokenExpired
        return (token.user, token)
