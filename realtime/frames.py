"""Client frames: parsing with limits, field checks, and the errors they raise.

A handler raises :class:`FrameError` (or a subclass) for bad input; the base
consumer turns it into ``{"type": "error", "code", "message"}`` and the socket
stays open. The nesting check is shared with the HTTP API's JSON parser, so
both edges refuse the same bodies.
"""

import json
import time

# Deepest JSON nesting a frame may have; deeper frames get `invalid_json`.
WS_MAX_JSON_DEPTH = 32

# Rate limits count frames in fixed windows of this length.
RATE_WINDOW_SECS = 60.0


class FrameError(Exception):
    """Bad input on a socket: becomes an error frame; the socket stays open."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Forbidden(FrameError):
    code = "forbidden"


class NotFound(FrameError):
    code = "not_found"


def too_deep(text: str, limit: int) -> bool:
    """True if brackets in JSON ``text`` nest deeper than ``limit`` (strings are
    skipped). Checked before ``json.loads``, whose recursion would otherwise
    fail on very deep input."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse(text: str) -> dict | None:
    """The frame as a dict, or None if it is not a JSON object nested at most
    WS_MAX_JSON_DEPTH deep."""
    if too_deep(text, WS_MAX_JSON_DEPTH):
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def require_int(frame: dict, field: str, *, minimum: int = 0) -> int:
    """The integer ``frame[field]``, or a FrameError naming the field."""
    value = frame.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError(f"'{field}' must be an integer.")
    if value < minimum:
        raise FrameError(f"'{field}' must be at least {minimum}.")
    return value


def require_str(frame: dict, field: str, *, max_chars: int) -> str:
    """The string ``frame[field]``, non-empty and at most ``max_chars`` long."""
    value = frame.get(field)
    if not isinstance(value, str) or not value:
        raise FrameError(f"'{field}' must be a non-empty string.")
    if len(value) > max_chars:
        raise FrameError(f"'{field}' must be at most {max_chars} characters.")
    return value


class RateWindow:
    """Counts hits in fixed one-minute windows; hits past the limit are strikes.

    Every frame counts against its socket's frame limit and against its user's
    budget in the web process (realtime.per_user), and a consumer may keep
    tighter ones for costly frames (chat messages).
    """

    # Two per socket (its own, its user's): slots keep each at 72 bytes, not 400.
    __slots__ = ("_count", "_start", "_strikes", "limit_per_min")

    def __init__(self, limit_per_min: int) -> None:
        self.limit_per_min = limit_per_min
        self._start = time.monotonic()
        self._count = 0
        self._strikes = 0

    def hit(self) -> int:
        """Count one hit: 0 if within the limit, else this window's strike number."""
        now = time.monotonic()
        if now - self._start >= RATE_WINDOW_SECS:
            self._start, self._count, self._strikes = now, 0, 0
        self._count += 1
        if self._count <= self.limit_per_min:
            return 0
        self._strikes += 1
        return self._strikes
