"""The PostgreSQL backend's health check, against the real server."""

import select
from unittest import mock

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"
    ),
]

SERVER_CLOSE_TIMEOUT_SECS = 5.0


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def start_of_request() -> None:
    """What Django does for each request: the next query is checked first."""
    connection.health_check_done = False


def terminate_from_another_connection(pid: int) -> None:
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def wait_until_server_has_closed_it() -> None:
    poller = select.poll()
    poller.register(connection.connection.pgconn.socket, select.POLLIN)
    assert poller.poll(SERVER_CLOSE_TIMEOUT_SECS * 1000), "server never closed it"


def test_health_check__quiet_connection__no_round_trip():
    pid = backend_pid()
    start_of_request()

    with mock.patch.object(connection, "is_usable", wraps=connection.is_usable) as full:
        assert backend_pid() == pid

    full.assert_not_called()


def test_health_check__backend_terminated__reconnects_before_the_query():
    pid = backend_pid()
    terminate_from_another_connection(pid)
    wait_until_server_has_closed_it()
    start_of_request()

    with mock.patch.object(connection, "is_usable", wraps=connection.is_usable) as full:
        new_pid = backend_pid()  # would raise OperationalError on the dead one

    assert new_pid != pid
    full.assert_called_once()


def test_health_check__inside_a_transaction__left_to_django():
    backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            start_of_request()
            with mock.patch.object(
                connection, "is_usable", wraps=connection.is_usable
            ) as full:
                backend_pid()
            full.assert_called_once()
        finally:
            cursor.execute("ROLLBACK")
