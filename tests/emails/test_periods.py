"""emails.periods: quiet hours and digest periods, at chosen instants and zones."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from emails.periods import digest_period, in_quiet_hours, is_timezone, zone

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 30), True),
        (time(0, 0), True),
        (time(6, 59), True),
        (time(7, 0), False),
        (time(12, 0), False),
    ],
)
def test_in_quiet_hours__wrapping_midnight(local, quiet):
    now = datetime.combine(datetime(2025, 1, 15).date(), local, tzinfo=NEW_YORK)

    assert (
        in_quiet_hours(
            start=time(22), end=time(7), now=now.astimezone(UTC), tz=NEW_YORK
        )
        is quiet
    )


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(12, 59), False),
        (time(13, 0), True),
        (time(13, 59), True),
        (time(14), False),
    ],
)
def test_in_quiet_hours__within_a_day(local, quiet):
    now = datetime.combine(datetime(2025, 1, 15).date(), local, tzinfo=TOKYO)

    assert in_quiet_hours(start=time(13), end=time(14), now=now, tz=TOKYO) is quiet


def test_in_quiet_hours__none_is_never_quiet():
    now = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)

    assert not in_quiet_hours(start=None, end=None, now=now, tz=UTC)


def test_digest_period__daily_before_and_at_0800_tokyo():
    before = datetime(2025, 6, 1, 22, 59, 59, tzinfo=UTC)  # 07:59:59 June 2, Tokyo
    at = datetime(2025, 6, 1, 23, 0, tzinfo=UTC)  # 08:00 June 2, Tokyo

    p_before = digest_period(frequency="daily", now=before, tz=TOKYO, hour=8)
    p_at = digest_period(frequency="daily", now=at, tz=TOKYO, hour=8)

    assert p_before.key == "daily:2025-06-01"
    assert p_at.key == "daily:2025-06-02"
    assert p_at.end == at
    assert p_at.start == at - timedelta(days=1)


@pytest.mark.parametrize(
    ("end_utc", "hours"),
    [
        # Spring forward (March 30 in London): 23 hours.
        (datetime(2025, 3, 30, 7, 0, tzinfo=UTC), 23),
        # Fall back (October 26 in London): 25 hours.
        (datetime(2025, 10, 26, 8, 0, tzinfo=UTC), 25),
        (datetime(2025, 6, 1, 7, 0, tzinfo=UTC), 24),
    ],
)
def test_digest_period__follows_the_wall_clock_across_dst(end_utc, hours):
    period = digest_period(frequency="daily", now=end_utc, tz=LONDON, hour=8)

    assert period.end == end_utc
    assert period.end.astimezone(LONDON).hour == 8
    assert period.start.astimezone(LONDON).hour == 8
    assert period.end - period.start == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("local_now", "key"),
    [
        (datetime(2025, 6, 9, 7, 59), "weekly:2025-06-02"),  # Monday before 08:00
        (datetime(2025, 6, 9, 8, 0), "weekly:2025-06-09"),  # Monday 08:00
        (datetime(2025, 6, 12, 15, 0), "weekly:2025-06-09"),  # Thursday
        (datetime(2025, 6, 15, 23, 59), "weekly:2025-06-09"),  # Sunday night
    ],
)
def test_digest_period__weekly_ends_on_mondays(local_now, key):
    now = local_now.replace(tzinfo=NEW_YORK)

    period = digest_period(frequency="weekly", now=now, tz=NEW_YORK, hour=8)

    assert period.key == key
    assert period.end.astimezone(NEW_YORK).weekday() == 0
    assert period.end - period.start == timedelta(days=7)


def test_digest_period__same_instant_differs_by_zone():
    now = datetime(2025, 6, 1, 23, 30, tzinfo=UTC)  # 08:30 Tokyo, 19:30 New York

    assert digest_period(frequency="daily", now=now, tz=TOKYO, hour=8).key == (
        "daily:2025-06-02"
    )
    assert digest_period(frequency="daily", now=now, tz=NEW_YORK, hour=8).key == (
        "daily:2025-06-01"
    )


def test_digest_period__off_is_refused():
    with pytest.raises(ValueError, match="no digest period"):
        digest_period(frequency="off", now=datetime.now(UTC), tz=UTC, hour=8)


def test_is_timezone__iana_names_only():
    assert is_timezone("Asia/Tokyo")
    assert is_timezone("UTC")
    assert not is_timezone("Mars/Olympus_Mons")
    assert not is_timezone("../../etc/passwd")
    assert not is_timezone("asia/tokyo")


def test_zone__an_unknown_stored_name_falls_back_to_utc():
    assert zone("Gone/Away") == ZoneInfo("UTC")
