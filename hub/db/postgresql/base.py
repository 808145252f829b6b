"""PostgreSQL backend whose per-request health check costs no round trip when it can.

Django's ``CONN_HEALTH_CHECKS`` runs ``SELECT 1`` before the first query of every
request that reuses a persistent connection: on a request that makes one or two
queries (an unread count, a feed page) that is a third of its database time.
Here the check first looks at the connection without talking to the server: an
idle, healthy libpq connection whose socket has nothing to read cannot have been
closed by the server, because a server that closes a connection (restart,
``pg_terminate_backend``, ``idle_session_timeout``, a proxy that cuts it) makes
the socket readable (its error message, then end of file). Only then is
``SELECT 1`` skipped; in every other case Django's full check runs as before.

What neither check sees is a path that drops packets silently (no FIN, no RST):
``SELECT 1`` would hang on it as the request's own query does, until the TCP
timeout.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

# Anything to read, or the peer gone: the full check decides.
_READABLE_OR_HUNG_UP = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._connection_is_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _connection_is_quiet(self) -> bool:
        """True if libpq says idle and OK and the socket has nothing to read."""
        pgconn = self.connection.pgconn
        if (
            pgconn.status != pq.ConnStatus.OK
            or pgconn.transaction_status != pq.TransactionStatus.IDLE
        ):
            return False
        try:
            fd = pgconn.socket
        except psycopg.OperationalError:
            return False
        # poll, not select: a web process holding 10,000 sockets has fds past 1024.
        poller = select.poll()
        poller.register(fd, _READABLE_OR_HUNG_UP)
        return not poller.poll(0)
