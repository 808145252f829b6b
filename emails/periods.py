"""Local-time arithmetic for emails: timezones, quiet hours, digest periods.

Pure functions of an aware ``now``; nothing here reads the clock, so the rules
can be tested at any instant, in any zone, across daylight-saving changes.
"""

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA timezone name this system knows."""
    return name in _known_timezones()


def zone(name: str) -> tzinfo:
    """The zone named ``name``; UTC for a name no longer known (stored earlier)."""
    return zoneinfo.ZoneInfo(name if is_timezone(name) else "UTC")


def in_quiet_hours(
    *, start: time | None, end: time | None, now: datetime, tz: tzinfo
) -> bool:
    """Whether ``now`` falls in [start, end) local time; the span may wrap midnight."""
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(tz).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass(frozen=True)
class Period:
    """A digest period: notifications created in [start, end) (UTC instants)."""

    key: str
    start: datetime
    end: datetime


def digest_period(*, frequency: str, now: datetime, tz: tzinfo, hour: int) -> Period:
    """The latest digest period that has ended by ``now``.

    Daily periods end at ``hour``:00 local time every day, weekly ones on
    Mondays. Periods follow the wall clock, so a day with a daylight-saving
    change lasts 23 or 25 hours. The key names the local date the period ends,
    which is what makes one digest per period.
    """
    send_at = time(hour)
    local = now.astimezone(tz)
    end_date: date = local.date()
    if local.time().replace(tzinfo=None) < send_at:
        end_date -= timedelta(days=1)
    if frequency == "weekly":
        end_date -= timedelta(days=end_date.weekday())  # back to Monday
        length = timedelta(days=7)
    elif frequency == "daily":
        length = timedelta(days=1)
    else:
        raise ValueError(f"no digest period for frequency {frequency!r}")
    # In UTC: arithmetic between two datetimes of one zoneinfo zone is wall-clock
    # arithmetic in Python (a 23-hour day would subtract to 24 hours).
    return Period(
        key=f"{frequency}:{end_date.isoformat()}",
        start=datetime.combine(end_date - length, send_at, tzinfo=tz).astimezone(UTC),
        end=datetime.combine(end_date, send_at, tzinfo=tz).astimezone(UTC),
    )
