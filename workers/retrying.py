"""How the hub's Celery tasks retry: database errors only, with backoff.

A lost or restarted database is what a retry can cure; a bad row is not, so
nothing else is retried. Exponential backoff (1, 2, 4 ... s, at most
RETRY_BACKOFF_MAX_SECS apart), RETRY_MAX times, then the task fails.
"""

from django.db import DatabaseError

RETRY_MAX = 8
RETRY_BACKOFF_MAX_SECS = 60
# Keyword arguments for ``shared_task`` (``@shared_task(**RETRY_ON_DATABASE_ERRORS)``).
RETRY_ON_DATABASE_ERRORS = {
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECS,
    "max_retries": RETRY_MAX,
}
