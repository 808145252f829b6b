"""The dashboard's periodic task: compute hub statistics and push them."""

from celery import shared_task

from dashboard import services


@shared_task(name="workers.dashboard_stats_push")
def dashboard_stats_push() -> int:
    """Push a stats snapshot to every /ws/dashboard/ socket (Beat, every 2 s).

    Takes nothing and keeps nothing: a lost or expired run is replaced by the
    next. Returns the socket count it reported.
    """
    return services.stats_push()["sockets"]
