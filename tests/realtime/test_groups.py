"""realtime.groups: names channels accepts, event types that map to handlers."""

import pytest

from notifications.consumers import NotificationConsumer
from realtime import groups, publish


def test_group_names__follow_the_contract():
    assert groups.user(42) == "user.42"
    assert groups.topic("deploys") == "topic.deploys"
    assert groups.chat("lobby") == "chat.lobby"
    assert groups.DASHBOARD == "dashboard"


@pytest.mark.parametrize("bad", ["has space", "é", "x" * 100, ""])
def test_group_names__invalid_refused_with_a_fix(bad):
    with pytest.raises(groups.InvalidGroupName, match="under 100 characters"):
        groups.checked(bad)


def test_event_types__domain_dot_verb():
    for event_type in groups.EVENT_TYPES:
        domain, _, verb = event_type.partition(".")
        assert domain and verb and "." not in verb


def test_event_types__notification_consumer_handles_its_events():
    for event_type in (groups.NOTIFICATION_CREATED, groups.NOTIFICATION_READ):
        assert callable(getattr(NotificationConsumer, event_type.replace(".", "_")))


def test_event_types__inline_ones_are_known_and_handled():
    assert NotificationConsumer.inline_events  # topic events fan out through it
    for event_type in NotificationConsumer.inline_events:
        assert event_type in groups.EVENT_TYPES
        assert callable(getattr(NotificationConsumer, event_type.replace(".", "_")))


def test_message__unknown_event_type_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        publish.message("notification.exploded", [])


def test_message__frames_encoded_once_compactly():
    msg = publish.message(groups.NOTIFICATION_READ, [{"type": "unread", "unread": 2}])

    assert msg == {
        "type": "notification.read",
        "frames": ['{"type":"unread","unread":2}'],
    }
