"""notifications.tasks: notify_users checks its input as the API does and
retries only what a retry can cure."""

import pytest

from notifications.errors import InvalidNotification
from notifications.models import Notification
from notifications.tasks import notify_users
from workers.retrying import RETRY_ON_DATABASE_ERRORS

pytestmark = pytest.mark.django_db


def run(**kwargs):
    """Run the task in this process, as a worker would (retries included)."""
    return notify_users.apply(kwargs={"idempotency_key": "k1", **kwargs})


def test_notify_users__valid_content_is_stored(alice):
    result = run(recipient_ids=[alice.pk], title="Hi", url="/inbox/")

    assert result.successful(), result.traceback
    assert result.result == 1
    assert Notification.objects.get(recipient=alice).url == "/inbox/"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"title": "x" * 300}, "title"),
        ({"title": "Hi", "url": "javascript:alert(1)"}, "url"),
        ({"title": "Hi", "level": "panic"}, "level"),
        ({"title": "Hi", "data": ["not", "an", "object"]}, "data"),
    ],
)
def test_notify_users__bad_content_is_refused_once_and_not_stored(
    alice, content, field
):
    result = run(recipient_ids=[alice.pk], **content)

    assert result.failed()
    assert isinstance(result.result, InvalidNotification)
    assert field in result.result.args[0]
    assert result.state == "FAILURE"  # not RETRY: a retry cannot cure it
    assert not Notification.objects.exists()


def test_notify_users__unknown_recipient_is_refused_not_retried(alice):
    result = run(recipient_ids=[alice.pk, 10**9], title="Hi")

    assert isinstance(result.result, InvalidNotification)
    assert "recipients" in result.result.args[0]
    assert not Notification.objects.exists()


def test_retrying__only_lost_connections_are_retried():
    from django.db import DataError, IntegrityError, InterfaceError, OperationalError

    retried = RETRY_ON_DATABASE_ERRORS["autoretry_for"]
    assert issubclass(OperationalError, retried)
    assert issubclass(InterfaceError, retried)
    assert not issubclass(DataError, retried)
    assert not issubclass(IntegrityError, retried)
