"""notifications.selectors: feed filters, counts, resume reads."""

from notifications import selectors, services
from notifications.models import Topic


def test_feed__filters_unread_topic_and_category(alice):
    deploys = Topic.objects.create(slug="deploys", name="Deploys")
    a = services.notify(recipients=[alice], title="a", category="billing")[0]
    b = services.notify(recipients=[alice], title="b", topic=deploys)[0]
    services.notification_mark_read(user_id=alice.pk, notification_id=a.pk)

    def feed(**f):
        return list(selectors.notification_feed(user_id=alice.pk, **f))

    assert feed() == [b, a]
    assert feed(unread=True) == [b]
    assert feed(unread=False) == [a]
    assert feed(topic="deploys") == [b]
    assert feed(category="billing") == [a]


def test_unread_counts__many_users_in_one_query(alice, bob, django_assert_num_queries):
    services.notify(recipients=[alice], title="a")
    services.notify(recipients=[alice], title="b")

    with django_assert_num_queries(1):
        counts = selectors.notification_unread_counts(user_ids=[alice.pk, bob.pk])

    assert counts == {alice.pk: 2, bob.pk: 0}


def test_notifications_after__oldest_first_bounded(alice, bob):
    rows = [services.notify(recipients=[alice], title=str(i))[0] for i in range(5)]
    services.notify(recipients=[bob], title="not alice's")

    after = selectors.notifications_after(user_id=alice.pk, last_id=rows[1].pk, limit=2)

    assert after == rows[2:4]


def test_notification_ids_before__the_previous_visible_row_of_each_recipient(
    alice, bob
):
    a1, a2 = (services.notify(recipients=[alice], title=t)[0] for t in ("1", "2"))
    [b1] = services.notify(recipients=[bob], title="b1")
    services.notification_archive(user_id=bob.pk, notification_id=b1.pk)
    [b2] = services.notify(recipients=[bob], title="b2")

    before = selectors.notification_ids_before(notification_ids=[a1.pk, a2.pk, b2.pk])

    assert before == {a1.pk: 0, a2.pk: a1.pk, b2.pk: 0}  # archived rows are skipped
