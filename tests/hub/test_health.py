"""/healthz and /metrics."""

import pytest


@pytest.mark.django_db
def test_healthz__ok_when_db_and_redis_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["db"] == "ok"
    assert body["redis"] == "ok"
    assert body["channel_layer"] == "ok"
    assert isinstance(body["workers"], int)


@pytest.mark.django_db
def test_healthz__503_when_redis_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"] == "down"


def test_metrics__prometheus_text(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"hub_websockets_open" in response.content


def _sample(text: str, name: str) -> float:
    [line] = [row for row in text.splitlines() if row.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_metrics__count_and_time_full_garbage_collections(client):
    import gc

    before = client.get("/metrics").content.decode()
    gc.collect()
    after = client.get("/metrics").content.decode()

    full = '{generation="2"}'
    runs = _sample(after, "hub_gc_pauses_total" + full)
    assert runs >= _sample(before, "hub_gc_pauses_total" + full) + 1
    paused = _sample(after, "hub_gc_pause_seconds_total" + full)
    assert paused > _sample(before, "hub_gc_pause_seconds_total" + full)
    assert _sample(after, "hub_gc_pause_longest_seconds" + full) > 0
