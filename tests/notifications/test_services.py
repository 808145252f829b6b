"""notifications.services: storing, idempotency, read state, archive."""

import pytest

from notifications import selectors, services
from notifications.models import Notification


def test_notify__stores_one_row_per_recipient(alice, bob):
    created = services.notify(recipients=[alice, bob.pk], title="Hi", body="there")

    assert len(created) == 2
    assert {n.recipient_id for n in created} == {alice.pk, bob.pk}
    assert all(n.pk for n in created)
    assert Notification.objects.count() == 2


def test_notify__duplicate_recipients_get_one_row(alice):
    created = services.notify(recipients=[alice, alice.pk, alice], title="Once")

    assert len(created) == 1


def test_notify__same_idempotency_key_notifies_nobody_twice(alice, bob):
    services.notify(recipients=[alice], title="Deploy", idempotency_key="deploy:1")
    again = services.notify(
        recipients=[alice, bob], title="Deploy", idempotency_key="deploy:1"
    )

    assert [n.recipient_id for n in again] == [bob.pk]
    assert Notification.objects.filter(recipient=alice).count() == 1


def test_notify__ids_increase_per_recipient(alice):
    first = services.notify(recipients=[alice], title="1")[0]
    second = Notification.objects.create(recipient=alice, title="2")
    third = services.notify(recipients=[alice], title="3")[0]

    assert first.pk < second.pk < third.pk


def test_mark_read__own_notification(alice):
    n = services.notify(recipients=[alice], title="x")[0]

    services.notification_mark_read(user_id=alice.pk, notification_id=n.pk)

    n.refresh_from_db()
    assert n.read_at is not None
    assert selectors.notification_unread_count(user_id=alice.pk) == 0


def test_mark_read__someone_elses_notification_is_not_found(alice, bob):
    n = services.notify(recipients=[alice], title="x")[0]

    with pytest.raises(Notification.DoesNotExist):
        services.notification_mark_read(user_id=bob.pk, notification_id=n.pk)
    n.refresh_from_db()
    assert n.read_at is None


def test_mark_all_read__marks_only_own_unread(alice, bob):
    services.notify(recipients=[alice, bob], title="a")
    services.notify(recipients=[alice], title="b")

    assert services.notifications_mark_all_read(user_id=alice.pk) == 2
    assert services.notifications_mark_all_read(user_id=alice.pk) == 0
    assert selectors.notification_unread_count(user_id=bob.pk) == 1


def test_archive__hides_from_feed_and_count(alice):
    keep = services.notify(recipients=[alice], title="k")[0]
    gone = services.notify(recipients=[alice], title="g")[0]

    services.notification_archive(user_id=alice.pk, notification_id=gone.pk)

    assert list(selectors.notification_feed(user_id=alice.pk)) == [keep]
    assert selectors.notification_unread_count(user_id=alice.pk) == 1
    assert selectors.socket_state(user=alice).last_id == keep.pk


def test_archive__someone_elses_notification_is_not_found(alice, bob):
    n = services.notify(recipients=[alice], title="x")[0]

    with pytest.raises(Notification.DoesNotExist):
        services.notification_archive(user_id=bob.pk, notification_id=n.pk)
