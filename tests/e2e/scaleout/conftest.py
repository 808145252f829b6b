"""Two web processes and two workers on one machine: the shape of a deployment
on several machines (each process only shares Redis and the database)."""

import pytest

from tests.e2e.faults.conftest import session_worker_paused  # noqa: F401 (autouse)
from tests.support.stack import LiveHub, hub_env, start_worker


class Cluster:
    def __init__(self, hub: LiveHub, web_b: str) -> None:
        self.hub = hub
        self.web_urls = {"a": hub.base_url, "b": web_b}
        self.ws_urls = {
            k: v.replace("http://", "ws://") for k, v in self.web_urls.items()
        }
        self.workers = ("worker-a", "worker-b")


@pytest.fixture(scope="package")
def cluster(django_db_setup, django_db_blocker, tmp_path_factory):
    hub = LiveHub(hub_env(), tmp_path_factory.mktemp("scaleout"))
    try:
        hub.start("web")
        hub.wait_web()
        web_b = hub.start_web("web-b")
        for name in ("worker-a", "worker-b"):
            start_worker(hub, name)
        yield Cluster(hub, web_b)
    finally:
        for name in list(hub.processes):
            hub.stop(name)
