"""A real hub for end-to-end tests: uvicorn and a Celery worker, started from
the Procfile's own commands, against the test database and the real Redis.
"""

import shlex

import pytest

from hub.celery import app as celery_app
from tests.support.stack import LiveHub, hub_env


@pytest.fixture(scope="package")
def live_hub(django_db_setup, django_db_blocker, tmp_path_factory):
    """uvicorn + Celery worker in production mode, for the tests of this package.

    Package scope: the worker must be gone before unit tests elsewhere queue
    tasks of their own, or it would run them against those tests' rows.
    """
    env = hub_env(DJANGO_SECRET_KEY="e2e-secret-key-for-tests-only")
    hub = LiveHub(env, tmp_path_factory.mktemp("live-hub"))
    celery_app.control.purge()  # tasks queued by earlier unit tests name rows long gone
    hub.start("web")
    hub.start("worker", "--concurrency 1 -n " + shlex.quote(hub.worker_name))
    try:
        hub.wait_web()
        hub.wait_worker()
        yield hub
    finally:
        for name in list(hub.processes):
            hub.stop(name)
