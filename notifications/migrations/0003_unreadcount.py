"""The per-user unread counter, and the triggers that keep it.

A notification counts as unread while ``read_at IS NULL AND archived_at IS NULL``.
Every write to ``notifications_notification`` turns into per-recipient deltas
(+1 for each such row it creates, -1 for each it removes, both for an update,
which also moves the count when ``recipient_id`` changes) and applies them to
``notifications_unreadcount``:

- PostgreSQL: statement-level triggers with transition tables, each ONE grouped
  upsert of the non-zero deltas, ordered by recipient so concurrent transactions
  lock counter rows in one order (no deadlocks; ``lock_recipients`` sorts users for
  the same reason). A 10,000-row broadcast chunk costs one extra statement, not
  10,000 row-trigger calls.
- SQLite (dev and tests): row-level triggers, since SQLite has no statement-level
  ones; SQLite has one writer at a time, so ordering does not arise.

A negative delta only updates an existing counter row: with no row (a user being
deleted, whose counter row the cascade may remove before their notifications)
there is nothing to take from, and inserting one would point at a deleted user.

Why ``RunPython`` and not ``RunSQL``: the SQL differs by database and ``RunSQL``
has no vendor switch, so each function picks the SQL for
``schema_editor.connection.vendor`` and runs it with ``schema_editor.execute``
(``sqlmigrate`` shows it as a Python operation). Other databases are refused
rather than left with a counter nothing keeps.

Triggers first, then the backfill, in the migration's transaction: on PostgreSQL
CREATE TRIGGER waits for open writers and holds them off until the commit, so no
row is counted twice or missed. On SQLite, a later migration that makes Django
rebuild ``notifications_notification`` (most ALTERs there) drops its triggers:
such a migration must install them again (``install_unread_triggers``), and
tests/notifications/test_unread_counter.py fails if it does not.
"""

from django.conf import settings
from django.db import NotSupportedError, migrations, models
import django.db.models.deletion

UNREAD = "read_at IS NULL AND archived_at IS NULL"

# {changes} yields (recipient_id, delta) rows from the transition tables.
_PG_APPLY = f"""
INSERT INTO notifications_unreadcount AS counter (user_id, unread)
SELECT recipient_id, delta
FROM (
    SELECT recipient_id, sum(delta) AS delta
    FROM ({{changes}}) AS change
    GROUP BY recipient_id
) AS per_user
WHERE delta > 0 OR (delta < 0 AND EXISTS (
    SELECT 1 FROM notifications_unreadcount AS existing
    WHERE existing.user_id = per_user.recipient_id
))
ORDER BY recipient_id
ON CONFLICT (user_id) DO UPDATE SET unread = counter.unread + EXCLUDED.unread
"""
_PG_ADDED = f"SELECT recipient_id, 1 AS delta FROM new_rows WHERE {UNREAD}"
_PG_REMOVED = f"SELECT recipient_id, -1 AS delta FROM old_rows WHERE {UNREAD}"


def _pg_trigger(event: str, referencing: str, changes: str) -> list[str]:
    name = f"notifications_unread_on_{event.lower()}"
    return [
        f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{_PG_APPLY.format(changes=changes)};
    RETURN NULL;
END
$$""",
        f"""
CREATE TRIGGER {name} AFTER {event} ON notifications_notification
REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()""",
    ]


POSTGRESQL_INSTALL = [
    *_pg_trigger("INSERT", "NEW TABLE AS new_rows", _PG_ADDED),
    *_pg_trigger(
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"{_PG_REMOVED} UNION ALL {_PG_ADDED}",
    ),
    *_pg_trigger("DELETE", "OLD TABLE AS old_rows", _PG_REMOVED),
    # TRUNCATE fires no delete trigger: it empties the counters too.
    """
CREATE FUNCTION notifications_unread_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notifications_unreadcount;
    RETURN NULL;
END
$$""",
    """
CREATE TRIGGER notifications_unread_on_truncate AFTER TRUNCATE
ON notifications_notification
FOR EACH STATEMENT EXECUTE FUNCTION notifications_unread_on_truncate()""",
]
POSTGRESQL_UNINSTALL = [
    stmt
    for event in ("insert", "update", "delete", "truncate")
    for stmt in (
        f"DROP TRIGGER IF EXISTS notifications_unread_on_{event} "
        "ON notifications_notification",
        f"DROP FUNCTION IF EXISTS notifications_unread_on_{event}()",
    )
]

# The SELECT ... WHERE form of the upsert: SQLite needs a WHERE before ON CONFLICT
# in INSERT ... SELECT to parse it as an upsert.
_SQLITE_ADD = """
    INSERT INTO notifications_unreadcount (user_id, unread)
    SELECT NEW.recipient_id, 1 WHERE NEW.read_at IS NULL AND NEW.archived_at IS NULL
    ON CONFLICT (user_id) DO UPDATE SET unread = unread + 1;"""
_SQLITE_REMOVE = """
    UPDATE notifications_unreadcount SET unread = unread - 1
    WHERE user_id = OLD.recipient_id
      AND OLD.read_at IS NULL AND OLD.archived_at IS NULL;"""
SQLITE_INSTALL = [
    f"""
CREATE TRIGGER notifications_unread_on_insert AFTER INSERT
ON notifications_notification FOR EACH ROW
BEGIN{_SQLITE_ADD}
END""",
    f"""
CREATE TRIGGER notifications_unread_on_update
AFTER UPDATE OF recipient_id, read_at, archived_at
ON notifications_notification FOR EACH ROW
WHEN OLD.recipient_id IS NOT NEW.recipient_id
  OR (OLD.read_at IS NULL AND OLD.archived_at IS NULL)
     IS NOT (NEW.read_at IS NULL AND NEW.archived_at IS NULL)
BEGIN{_SQLITE_REMOVE}{_SQLITE_ADD}
END""",
    f"""
CREATE TRIGGER notifications_unread_on_delete AFTER DELETE
ON notifications_notification FOR EACH ROW
BEGIN{_SQLITE_REMOVE}
END""",
]
SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS notifications_unread_on_{event}"
    for event in ("insert", "update", "delete")
]

BACKFILL = f"""
INSERT INTO notifications_unreadcount (user_id, unread)
SELECT recipient_id, count(*) FROM notifications_notification
WHERE {UNREAD}
GROUP BY recipient_id
"""

INSTALL = {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL}
UNINSTALL = {"postgresql": POSTGRESQL_UNINSTALL, "sqlite": SQLITE_UNINSTALL}


def _statements(table: dict[str, list[str]], schema_editor) -> list[str]:
    vendor = schema_editor.connection.vendor
    if vendor not in table:
        raise NotSupportedError(
            f"notifications.UnreadCount has triggers for {sorted(table)}, "
            f"not {vendor}"
        )
    return table[vendor]


def install_unread_triggers(apps, schema_editor) -> None:
    for sql in _statements(INSTALL, schema_editor):
        schema_editor.execute(sql, params=None)


def uninstall_unread_triggers(apps, schema_editor) -> None:
    for sql in _statements(UNINSTALL, schema_editor):
        schema_editor.execute(sql, params=None)


def install_and_backfill(apps, schema_editor) -> None:
    install_unread_triggers(apps, schema_editor)
    schema_editor.execute(BACKFILL, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_topics_broadcasts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UnreadCount",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        help_text="Whose count it is.",
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "unread",
                    models.BigIntegerField(
                        default=0,
                        help_text="Notifications with read_at and archived_at both "
                        "empty (written by triggers only).",
                    ),
                ),
            ],
        ),
        # Reversed: the triggers and functions go, then the table (CreateModel).
        migrations.RunPython(install_and_backfill, uninstall_unread_triggers),
    ]
