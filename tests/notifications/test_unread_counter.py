"""notifications.UnreadCount: the database triggers keep it equal to a fresh count.

Every test writes through one path and then compares the counters with a
``COUNT(*)`` of the rows, and with the number the scenario must leave, so a
missing or wrong trigger fails here on both SQLite and PostgreSQL.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from notifications import selectors, services
from notifications.models import Notification, UnreadCount

TRIGGERS = {
    "notifications_unread_on_insert",
    "notifications_unread_on_update",
    "notifications_unread_on_delete",
}


def counted_from_rows() -> dict[int, int]:
    """Unread notifications per user, counted now from the rows."""
    return dict(
        Notification.objects.filter(read_at__isnull=True, archived_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )


def counters() -> dict[int, int]:
    """What the triggers keep, users at 0 left out (no row also means 0)."""
    return dict(UnreadCount.objects.exclude(unread=0).values_list("user_id", "unread"))


def assert_counters_match_rows() -> None:
    assert counters() == counted_from_rows()


def test_triggers__installed_by_the_migrations(db):
    if connection.vendor == "postgresql":
        sql = (
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid = 'notifications_notification'::regclass"
        )
    else:
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            " AND tbl_name = 'notifications_notification'"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = {row[0] for row in cursor.fetchall()}

    assert names >= TRIGGERS


def test_counter__create_one(alice):
    services.notify(recipients=[alice], title="by the service")
    Notification.objects.create(recipient=alice, title="by the ORM")

    assert counters() == {alice.pk: 2}
    assert_counters_match_rows()


def test_counter__created_read_or_archived_counts_nothing(alice):
    Notification.objects.create(recipient=alice, title="unread")
    Notification.objects.create(recipient=alice, title="read", read_at=timezone.now())
    Notification.objects.create(
        recipient=alice, title="archived", archived_at=timezone.now()
    )

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__bulk_create_across_users(alice, bob, make_user):
    carol = make_user("carol")

    services.notify(recipients=[alice, bob, carol], title="fan-out")
    Notification.objects.bulk_create(
        [Notification(recipient=alice, title=str(i)) for i in range(3)]
        + [Notification(recipient=bob, title="b", read_at=timezone.now())]
    )

    assert counters() == {alice.pk: 4, bob.pk: 1, carol.pk: 1}
    assert_counters_match_rows()


def test_counter__idempotent_retry_counts_once(alice, bob):
    services.notify(recipients=[alice], title="deploy", idempotency_key="deploy:1")
    services.notify(recipients=[alice, bob], title="deploy", idempotency_key="deploy:1")

    assert counters() == {alice.pk: 1, bob.pk: 1}
    assert_counters_match_rows()


def test_counter__mark_read(alice):
    a, _ = (services.notify(recipients=[alice], title=t)[0] for t in "ab")

    services.notification_mark_read(user_id=alice.pk, notification_id=a.pk)
    services.notification_mark_read(user_id=alice.pk, notification_id=a.pk)

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__read_all(alice, bob):
    for title in "abc":
        services.notify(recipients=[alice, bob], title=title)

    assert services.notifications_mark_all_read(user_id=alice.pk) == 3

    assert counters() == {bob.pk: 3}
    assert_counters_match_rows()


def test_counter__archive_unread_and_read(alice):
    unread, read, _kept = (
        services.notify(recipients=[alice], title=t)[0] for t in "abc"
    )
    services.notification_mark_read(user_id=alice.pk, notification_id=read.pk)

    services.notification_archive(user_id=alice.pk, notification_id=unread.pk)
    services.notification_archive(user_id=alice.pk, notification_id=read.pk)

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__delete_rows(alice, bob):
    rows = services.notify(recipients=[alice, bob], title="a")
    services.notify(recipients=[alice], title="b")
    read = services.notify(recipients=[alice], title="read")[0]
    services.notification_mark_read(user_id=alice.pk, notification_id=read.pk)

    rows[0].delete()  # one instance
    Notification.objects.filter(recipient=bob).delete()  # a queryset
    read.delete()  # a read row takes nothing off

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__deleting_the_user_cascades(alice, bob):
    services.notify(recipients=[alice, bob], title="a")
    services.notify(recipients=[alice], title="b")

    alice.delete()

    assert not UnreadCount.objects.filter(user_id=alice.pk).exists()
    assert counters() == {bob.pk: 1}
    assert_counters_match_rows()


def test_counter__rows_deleted_after_their_counter_row_leave_no_row(alice):
    services.notify(recipients=[alice], title="a")
    # A user's cascade may remove the counter row before the notifications.
    UnreadCount.objects.filter(user_id=alice.pk).delete()

    Notification.objects.filter(recipient=alice).delete()

    assert not UnreadCount.objects.filter(user_id=alice.pk).exists()


def test_counter__read_at_back_to_null_is_unread_again(alice):
    n = services.notify(recipients=[alice], title="a")[0]
    services.notifications_mark_all_read(user_id=alice.pk)

    Notification.objects.filter(pk=n.pk).update(read_at=None)

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__changing_the_recipient_moves_the_count(alice, bob):
    unread = services.notify(recipients=[alice], title="unread")[0]
    read = services.notify(recipients=[alice], title="read")[0]
    services.notification_mark_read(user_id=alice.pk, notification_id=read.pk)

    Notification.objects.filter(pk__in=[unread.pk, read.pk]).update(recipient=bob)

    assert counters() == {bob.pk: 1}
    assert_counters_match_rows()


def test_counter__admin_style_full_save(alice):
    n, _ = (services.notify(recipients=[alice], title=t)[0] for t in "ab")
    n.refresh_from_db()

    n.read_at = timezone.now()
    n.title = "edited"
    n.save()
    n.title = "edited again"  # saving other fields changes nothing
    n.save()

    assert counters() == {alice.pk: 1}
    assert_counters_match_rows()


def test_counter__raw_sql_insert_update_delete(alice, bob):
    insert = (
        "INSERT INTO notifications_notification"
        " (recipient_id, title, body, level, category, data, created_at)"
        " VALUES (%s, 'raw', '', 'info', 'general', '{}', %s)"
    )
    with connection.cursor() as cursor:
        for user in (alice, alice, alice, bob):
            cursor.execute(insert, [user.pk, timezone.now()])
        assert counters() == {alice.pk: 3, bob.pk: 1}

        cursor.execute(
            "UPDATE notifications_notification SET read_at = %s"
            " WHERE id = (SELECT min(id) FROM notifications_notification"
            " WHERE recipient_id = %s)",
            [timezone.now(), alice.pk],
        )
        cursor.execute(
            "DELETE FROM notifications_notification WHERE recipient_id = %s", [bob.pk]
        )

    assert counters() == {alice.pk: 2}
    assert_counters_match_rows()


# Committed rows: TRUNCATE refuses a table with deferred foreign-key checks pending.
@pytest.mark.django_db(transaction=True)
def test_counter__truncate_empties_it(alice):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    services.notify(recipients=[alice], title="a")

    with connection.cursor() as cursor:
        # CASCADE: push deliveries (delivery app) reference the notifications.
        cursor.execute("TRUNCATE notifications_notification CASCADE")

    assert counters() == {}


def test_counter__many_users_one_statement(make_user):
    users = [make_user(f"user{i}") for i in range(5)]
    services.notify(recipients=users, title="a")
    services.notify(recipients=users[:2], title="b")

    Notification.objects.filter(recipient__in=users[1:4], title="a").update(
        archived_at=timezone.now()
    )

    assert counters() == {users[0].pk: 2, users[1].pk: 1, users[4].pk: 1}
    assert_counters_match_rows()


def test_selectors__read_the_counter_not_the_rows(alice, bob):
    services.notify(recipients=[alice], title="a")
    # Only the counter says 42: a selector that counted rows would say 1.
    UnreadCount.objects.filter(user_id=alice.pk).update(unread=42)

    assert selectors.notification_unread_count(user_id=alice.pk) == 42
    assert selectors.notification_unread_count(user_id=bob.pk) == 0
    assert selectors.notification_unread_counts(user_ids=[alice.pk, bob.pk]) == {
        alice.pk: 42,
        bob.pk: 0,
    }


def test_unread_count_api__returns_the_counter(alice, api_client):
    services.notify(recipients=[alice], title="a")
    client = api_client(alice)
    assert client.get("/api/notifications/unread-count/").json() == {"unread": 1}

    UnreadCount.objects.filter(user_id=alice.pk).update(unread=42)

    assert client.get("/api/notifications/unread-count/").json() == {"unread": 42}


def test_unread_count_api__user_with_nothing_is_zero(alice, api_client):
    response = api_client(alice).get("/api/notifications/unread-count/")

    assert response.json() == {"unread": 0}
    assert not UnreadCount.objects.filter(user_id=alice.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_migration__backfills_existing_rows_and_reverses():
    from django.db.migrations.executor import MigrationExecutor

    users = [get_user_model().objects.create_user(username=name) for name in ("a", "b")]
    services.notify(recipients=users, title="x")
    services.notify(recipients=users[:1], title="y")
    services.notifications_mark_all_read(user_id=users[1].pk)
    before = [("notifications", "0002_topics_broadcasts")]
    executor = MigrationExecutor(connection)
    # Every app's newest migration: going back to 0002 also unapplies the
    # migrations of other apps that depend on later ones (delivery's tables),
    # and later tests need every table as it is now.
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    with connection.cursor() as cursor:
        assert "notifications_unreadcount" not in connection.introspection.table_names(
            cursor
        )
        # Written while there are no triggers: only the backfill can count it.
        cursor.execute(
            "INSERT INTO notifications_notification"
            " (recipient_id, title, body, level, category, data, created_at)"
            " VALUES (%s, 'raw', '', 'info', 'general', '{}', %s)",
            [users[1].pk, timezone.now()],
        )
    executor.loader.build_graph()
    executor.migrate(latest)

    assert counters() == {users[0].pk: 2, users[1].pk: 1}
    assert_counters_match_rows()
