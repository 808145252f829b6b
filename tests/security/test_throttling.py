"""Write throttling: API_WRITE_RATE per user and endpoint, 429 JSON with Retry-After."""

import pytest

from tests.conftest import api_client_for

pytestmark = pytest.mark.usefixtures("isolated_cache")

EVENT = {"event": {"n": 1}}


@pytest.fixture
def tiny_rate(settings):
    settings.API_WRITE_RATE = "2/min"


def _post_event(user, slug="deploys"):
    return api_client_for(user).post(
        f"/api/topics/{slug}/events/", EVENT, format="json"
    )


def test_write_throttle__past_the_rate_is_429_json_with_retry_after(world, tiny_rate):
    staff = world.users["staff"]

    codes = [_post_event(staff).status_code for _ in range(2)]
    refused = _post_event(staff)

    assert codes == [202, 202]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert "throttled" in refused.json()["detail"]
    assert 0 < int(refused["Retry-After"]) <= 60


def test_write_throttle__counts_each_user_apart(world, tiny_rate):
    for _ in range(3):
        _post_event(world.users["staff"])

    assert _post_event(world.users["broadcaster"]).status_code == 202


def test_write_throttle__counts_each_endpoint_apart(world, tiny_rate):
    staff = world.users["staff"]
    for _ in range(3):
        _post_event(staff)

    created = api_client_for(staff).post(
        "/api/notifications/",
        {"recipients": [world.users["bob"].pk], "title": "still allowed"},
        format="json",
    )

    assert created.status_code == 201


def test_write_throttle__broadcasts_and_notifications_are_throttled(world, tiny_rate):
    client = api_client_for(world.users["staff"])
    broadcast = {"topic": None, "title": "t", "send_at": "2099-01-01T00:00:00Z"}
    notify = {"recipients": [world.users["bob"].pk], "title": "t"}

    broadcasts = [
        client.post("/api/broadcasts/", broadcast, format="json") for _ in "abc"
    ]
    notifies = [
        client.post("/api/notifications/", notify, format="json") for _ in "abc"
    ]

    assert [r.status_code for r in broadcasts] == [202, 202, 429]
    assert [r.status_code for r in notifies] == [201, 201, 429]


def test_write_throttle__reads_are_not_throttled(world, tiny_rate):
    client = api_client_for(world.users["staff"])

    codes = {client.get("/api/notifications/").status_code for _ in range(5)}

    assert codes == {200}


def test_write_throttle__count_lives_in_the_redis_cache(world, tiny_rate, settings):
    import redis
    from django.core.cache import cache

    _post_event(world.users["staff"])

    key = cache.make_key(f"throttle:topic_events:{world.users['staff'].pk}")
    assert redis.Redis.from_url(settings.REDIS_URL).exists(key)
