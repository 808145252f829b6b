"""How the hub's Celery tasks retry: a lost database connection only, with backoff.

A lost or restarted database (``OperationalError``, ``InterfaceError``) is what a
retry can cure; a bad row (``DataError``, ``IntegrityError``) or bad input is
not, so nothing else is retried. Exponential backoff (1, 2, 4 ... s, at most
RETRY_BACKOFF_MAX_SECS apart), RETRY_MAX times, then the task fails.
"""

from django.db import InterfaceError, OperationalError

RETRY_MAX = 8
RETRY_BACKOFF_MAX_SECS = 60
# The errors a retry can cure: the connection to the database is gone.
RETRYABLE_ERRORS = (OperationalError, InterfaceError)
# Keyword arguments for ``shared_task`` (``@shared_task(**RETRY_ON_DATABASE_ERRORS)``).
RETRY_ON_DATABASE_ERRORS = {
    "autoretry_for": RETRYABLE_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECS,
    "max_retries": RETRY_MAX,
}
