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


@pytest.fixture
def scraper(client, settings):
    """A client /metrics answers: METRICS_PUBLIC on."""
    settings.METRICS_PUBLIC = True
    return client


def test_metrics__prometheus_text(scraper):
    client = scraper
    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"hub_websockets_open" in response.content


def _sample(text: str, name: str) -> float:
    [line] = [row for row in text.splitlines() if row.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_metrics__count_and_time_full_garbage_collections(scraper):
    client = scraper
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


METRICS_TOKEN = "scrape-" + "t" * 40


def test_metrics__closed_to_anyone_by_default_in_production(client, settings):
    assert settings.METRICS_PUBLIC is False  # DEBUG is off in tests

    response = client.get("/metrics")

    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    ("header", "status"),
    [(f"Bearer {METRICS_TOKEN}", 200), ("Bearer wrong", 403), (METRICS_TOKEN, 403)],
)
def test_metrics__the_scraper_token_opens_it(client, settings, header, status):
    settings.METRICS_TOKEN = METRICS_TOKEN

    response = client.get("/metrics", HTTP_AUTHORIZATION=header)

    assert response.status_code == status


def test_metrics__no_token_configured_opens_nothing(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.parametrize(("is_staff", "status"), [(True, 200), (False, 403)])
def test_metrics__staff_session_may_read_it(client, make_user, is_staff, status):
    client.force_login(make_user("someone", is_staff=is_staff))

    assert client.get("/metrics").status_code == status
