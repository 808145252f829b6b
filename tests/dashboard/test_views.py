"""The dashboard's HTTP API: allowed/refused pairs, validation errors."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from dashboard import selectors

pytestmark = pytest.mark.django_db

SNAPSHOT_KEYS = {
    "type",
    "at",
    "sockets",
    "notifications_created_per_min",
    "notifications_delivered_per_min",
    "notifications_created_total",
    "notifications_delivered_total",
    "publish_latency_ms",
    "celery",
    "metrics",
}


@pytest.fixture
def pusher(make_user):
    """A service account: not staff, but holds dashboard.push_metric."""
    user = make_user("metrics-bot")
    user.user_permissions.add(Permission.objects.get(codename="push_metric"))
    return user


def test_snapshot__staff_gets_it(api_client, staff):
    response = api_client(staff).get("/api/dashboard/")

    assert response.status_code == 200
    assert set(response.json()) == SNAPSHOT_KEYS
    assert response.json()["type"] == "stats"
    assert set(response.json()["celery"]) == {
        "queue_depth",
        "workers_alive",
        "failed_tasks",
    }


def test_snapshot__non_staff_refused(api_client, alice, pusher):
    for user in (alice, pusher):
        response = api_client(user).get("/api/dashboard/")
        assert response.status_code == 403
        assert response.json() == {"detail": "The dashboard is for staff."}


def test_snapshot__anonymous_refused():
    response = Client().get("/api/dashboard/")

    # 403, not 401: session auth comes first and sends no WWW-Authenticate.
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Authentication credentials were not provided."
    }


def test_metric_push__staff_allowed_and_kept(api_client, staff):
    response = api_client(staff).post(
        "/api/dashboard/metrics/", {"name": "orders.per_min", "value": 12.5}, "json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "metric"
    assert (body["name"], body["value"]) == ("orders.per_min", 12.5)
    assert body["at"].endswith("Z")
    # A page that loads later shows it.
    latest = api_client(staff).get("/api/dashboard/").json()["metrics"]
    assert latest == {"orders.per_min": 12.5}


def test_metric_push__holder_of_the_permission_allowed(api_client, pusher):
    response = api_client(pusher).post(
        "/api/dashboard/metrics/", {"name": "queue-lag", "value": 3}, "json"
    )

    assert response.status_code == 200
    assert selectors.dashboard_snapshot()["metrics"] == {"queue-lag": 3}


def test_metric_push__others_refused(api_client, alice):
    response = api_client(alice).post(
        "/api/dashboard/metrics/", {"name": "x", "value": 1}, "json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Pushing metrics needs staff or dashboard.push_metric."
    }
    assert selectors.dashboard_snapshot()["metrics"] == {}


def test_metric_push__latest_value_wins(api_client, staff):
    client = api_client(staff)
    for value in (1, 2, 3):
        client.post("/api/dashboard/metrics/", {"name": "m", "value": value}, "json")

    assert selectors.dashboard_snapshot()["metrics"] == {"m": 3}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": 1}, "name"),
        ({"name": "", "value": 1}, "name"),
        ({"name": "has space", "value": 1}, "name"),
        ({"name": "-leading-dash", "value": 1}, "name"),
        ({"name": "<script>", "value": 1}, "name"),
        ({"name": "x" * 65, "value": 1}, "name"),
        ({"name": "ok"}, "value"),
        ({"name": "ok", "value": "12"}, "value"),
        ({"name": "ok", "value": True}, "value"),
        ({"name": "ok", "value": None}, "value"),
        ({"name": "ok", "value": [1]}, "value"),
    ],
)
def test_metric_push__invalid_input_gets_field_errors(api_client, staff, body, field):
    response = api_client(staff).post("/api/dashboard/metrics/", body, "json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field][0], str)
    assert selectors.dashboard_snapshot()["metrics"] == {}


@pytest.mark.parametrize(
    "raw", ['{"name": "ok", "value": NaN}', '{"name": "ok", "value": 1e400}']
)
def test_metric_push__non_finite_numbers_refused(api_client, staff, raw):
    response = api_client(staff).post(
        "/api/dashboard/metrics/", raw, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()  # {"detail": ...} (NaN is not JSON) or {"value": [...]}
    assert selectors.dashboard_snapshot()["metrics"] == {}


def test_metric_push__64_chars_is_the_longest_name(api_client, staff):
    response = api_client(staff).post(
        "/api/dashboard/metrics/", {"name": "x" * 64, "value": 1}, "json"
    )

    assert response.status_code == 200


def test_metric_push__bounded_number_of_names(api_client, staff, settings):
    settings.DASHBOARD_METRICS_MAX_NAMES = 2
    client = api_client(staff)
    for name in ("a", "b"):
        client.post("/api/dashboard/metrics/", {"name": name, "value": 1}, "json")

    refused = client.post("/api/dashboard/metrics/", {"name": "c", "value": 1}, "json")
    known = client.post("/api/dashboard/metrics/", {"name": "a", "value": 5}, "json")

    assert refused.status_code == 400
    assert "At most 2 metric names" in refused.json()["name"][0]
    assert known.status_code == 200
    assert selectors.dashboard_snapshot()["metrics"] == {"a": 5, "b": 1}


def test_schema__documents_both_endpoints(api_client, staff):
    schema = api_client(staff).get("/api/schema/?format=json")

    paths = json.loads(schema.content)["paths"]
    assert "get" in paths["/api/dashboard/"]
    assert "post" in paths["/api/dashboard/metrics/"]
