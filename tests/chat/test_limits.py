"""Chat's rates: their format, checked at start-up, and how they are read."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat.limits import parse_rate
from hub.settings import chat_rate


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("20/hour", (20, 3600)),
        ("5/min", (5, 60)),
        ("1/s", (1, 1)),
        ("3/day", (3, 86400)),
    ],
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize(
    "rate", ["", "20", "0/hour", "-1/hour", "x/hour", "20/fortnight", "20/"]
)
def test_chat_rate__a_bad_rate_stops_the_hub_with_the_fix(monkeypatch, rate):
    monkeypatch.setenv("CHAT_ROOM_CREATE_RATE", rate)

    with pytest.raises(ImproperlyConfigured, match=r"e\.g\. '20/hour'"):
        chat_rate("CHAT_ROOM_CREATE_RATE", "20/hour")


def test_chat_rate__a_good_rate_passes(monkeypatch):
    monkeypatch.setenv("CHAT_ROOM_CREATE_RATE", "7/min")

    assert chat_rate("CHAT_ROOM_CREATE_RATE", "20/hour") == "7/min"
