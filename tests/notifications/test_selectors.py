"""notifications.selectors: feed filters, counts, resume reads."""

from django.contrib.auth.models import Group

from notifications import selectors, services
from notifications.models import Subscription, Topic


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


def test_socket_state__a_new_user(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        state = selectors.socket_state(user=alice)

    assert state == selectors.SocketState(unread=0, last_id=0, topics=[])


def test_socket_state__count_resume_point_and_topics_in_one_query(
    alice, bob, django_assert_num_queries
):
    for slug in ("zebra", "alpha", "other"):
        Topic.objects.create(slug=slug, name=slug)
    services.topic_subscribe(user=alice, slug="zebra")
    services.topic_subscribe(user=alice, slug="alpha")
    services.topic_subscribe(user=bob, slug="other")
    kept = services.notify(recipients=[alice], title="kept")[0]
    read = services.notify(recipients=[alice], title="read")[0]
    archived = services.notify(recipients=[alice], title="archived")[0]
    services.notify(recipients=[bob], title="bob's")
    services.notification_mark_read(user_id=alice.pk, notification_id=read.pk)
    services.notification_archive(user_id=alice.pk, notification_id=archived.pk)

    with django_assert_num_queries(1):
        state = selectors.socket_state(user=alice)

    assert state == selectors.SocketState(
        unread=1, last_id=read.pk, topics=["alpha", "zebra"]
    )
    assert kept.pk < read.pk < archived.pk


def test_socket_state__only_topics_the_user_may_still_follow(alice, staff):
    ops = Group.objects.create(name="ops")
    Topic.objects.create(slug="open", name="Open")
    Topic.objects.create(slug="ops-only", name="Ops", group=ops)
    Topic.objects.create(slug="staff-only", name="Staff", staff_only=True)
    alice.groups.add(ops)
    for user in (alice, staff):
        for slug in ("open", "ops-only"):
            services.topic_subscribe(user=user, slug=slug)
    services.topic_subscribe(user=staff, slug="staff-only")
    # Rows that outlive access: alice leaves ops; her follow of staff-only
    # comes from a time she was staff.
    Subscription.objects.create(user=alice, topic=Topic.objects.get(slug="staff-only"))
    alice.groups.remove(ops)

    assert selectors.socket_state(user=alice).topics == ["open"]
    assert selectors.socket_state(user=staff).topics == [
        "open",
        "ops-only",
        "staff-only",
    ]
