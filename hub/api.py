"""The HTTP API's edges: body parsing with limits, write throttling, and errors
translated once (JSON, never HTML, never a 500 for bad input)."""

import codecs
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from hub.authentication import TokenExpired

# The same bracket counter the sockets use, so both edges share one depth rule.
from realtime.frames import too_deep

logger = logging.getLogger(__name__)

# The largest id a database holds (a signed 64-bit integer): past it SQLite
# raises OverflowError instead of finding nothing.
DATABASE_ID_MAX = 2**63 - 1


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A backing service is unavailable; retry shortly."
    default_code = "service_unavailable"


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser with the hub's limits: at most API_MAX_BODY_BYTES read
    (413), nesting at most API_MAX_JSON_DEPTH deep (400).

    The stock parser reads the whole stream and lets a deeply nested body raise
    RecursionError, which would be a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            raise ParseError("JSON parse error - empty body.")
        raw = stream.read(settings.API_MAX_BODY_BYTES + 1)
        if len(raw) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - not {encoding} text.") from exc
        if too_deep(text, settings.API_MAX_JSON_DEPTH):
            raise ParseError(
                "JSON parse error - nested deeper than "
                f"{settings.API_MAX_JSON_DEPTH} levels."
            )
        parse_constant = _refuse_constant if api_settings.STRICT_JSON else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


class IdCursorPagination(CursorPagination):
    """DRF's cursor pagination over ``-id``, refusing cursors it did not make.

    DRF decodes the cursor's position and hands it to the ORM as it is, so a
    forged cursor whose position is not an id (``p=abc``, ``p=1e999``, past
    64 bits) raised ValueError or OverflowError in the query: a 500. Such a
    cursor gets DRF's own answer for an undecodable one, 404 "Invalid cursor".
    """

    ordering = "-id"

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            position = cursor.position
            if not (position.isascii() and position.isdigit()) or (
                int(position) > DATABASE_ID_MAX
            ):
                raise NotFound(self.invalid_cursor_message)
        return cursor


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class WriteRateThrottle(SimpleRateThrottle):
    """At most API_WRITE_RATE writes (non-GET requests) per user and view scope.

    A view names its bucket with ``throttle_scope``. The rate is read from the
    settings on every request (DRF's scoped throttle reads its rates once, at
    import), so a changed setting, in tests too, takes effect at once.
    """

    cache_format = "throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:
        # The rate is looked up per request in allow_request, not fixed here.
        pass

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        self.scope = getattr(view, "throttle_scope", "write")
        self.rate = settings.API_WRITE_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except RedisError:
            # Fail open: a write accepted while Redis is down is stored and found
            # by resume; refusing it would lose what the hub promises to keep.
            logger.warning("throttle cache unavailable; %s not throttled", self.scope)
            return True

    def get_cache_key(self, request, view) -> str:
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        elif hasattr(request.auth, "throttle_ident"):  # an API key
            ident = request.auth.throttle_ident
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DatabaseError):
        exc = ServiceUnavailable()
    response = drf_exception_handler(exc, context)
    if isinstance(exc, TokenExpired):
        # DRF answers 403 when the view's first authenticator (the session)
        # has no challenge; an expired token is a credential to renew: 401.
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = "Token"
    return response


def json_not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def json_server_error(request):
    return JsonResponse({"detail": "Server error."}, status=500)


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# A 400 is either {"detail": ...} or field errors {"field": ["..."], ...}.
VALIDATION_ERROR_SCHEMA = {"type": "object", "additionalProperties": True}
_ERRORS = {
    "400": ("Bad input: a parse error or field errors.", VALIDATION_ERROR_SCHEMA),
    "401": ("Not authenticated.", ERROR_SCHEMA),
    "403": ("Not allowed.", ERROR_SCHEMA),
    "404": ("No such object.", ERROR_SCHEMA),
    "405": ("Method not allowed.", ERROR_SCHEMA),
    "406": ("Only JSON is served.", ERROR_SCHEMA),
    "413": ("Request body too large.", ERROR_SCHEMA),
    "415": ("Only JSON bodies are read.", ERROR_SCHEMA),
    "429": ("Too many requests; see Retry-After.", ERROR_SCHEMA),
    "503": ("A backing service is unavailable.", ERROR_SCHEMA),
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular hook: every API operation may answer the JSON errors the
    exception handler produces; say so in the schema."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, (description, schema) in _ERRORS.items():
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": schema}},
                    },
                )
    return result
