"""The notifications HTTP API: feed, counts, read, archive, create."""

import pytest
from django.contrib.auth.models import Permission

from notifications import services
from notifications.models import Notification


@pytest.fixture
def alice_client(alice, api_client):
    return api_client(alice)


def test_feed__newest_first_own_only(alice, bob, alice_client):
    services.notify(recipients=[alice], title="old")
    services.notify(recipients=[alice], title="new")
    services.notify(recipients=[bob], title="bob's")

    body = alice_client.get("/api/notifications/").json()

    assert [n["title"] for n in body["results"]] == ["new", "old"]
    assert set(body) == {"next", "previous", "results"}
    assert set(body["results"][0]) == {
        "id", "title", "body", "level", "category", "topic", "data", "url",
        "created_at", "read_at", "seen_at",
    }  # fmt: skip


def test_feed__cursor_pagination_walks_every_row_once(alice, alice_client):
    for i in range(7):
        services.notify(recipients=[alice], title=str(i))

    seen, url = [], "/api/notifications/?limit=3"
    while url:
        page = alice_client.get(url).json()
        seen += [n["title"] for n in page["results"]]
        url = page["next"]

    assert seen == [str(i) for i in reversed(range(7))]


def test_feed__bad_filter_is_a_field_error(alice_client):
    response = alice_client.get("/api/notifications/?unread=perhaps")

    assert response.status_code == 400
    assert "unread" in response.json()


def test_feed__anonymous_is_refused(client):
    response = client.get("/api/notifications/")

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/json"


def test_unread_count(alice, alice_client):
    services.notify(recipients=[alice], title="a")

    assert alice_client.get("/api/notifications/unread-count/").json() == {"unread": 1}


def test_read__owner_marks_read(alice, alice_client):
    n = services.notify(recipients=[alice], title="a")[0]

    response = alice_client.post(f"/api/notifications/{n.pk}/read/")

    assert response.status_code == 200
    assert response.json()["read_at"] is not None


def test_read__someone_elses_id_is_404(alice, bob, api_client):
    n = services.notify(recipients=[alice], title="a")[0]

    response = api_client(bob).post(f"/api/notifications/{n.pk}/read/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such notification."}


def test_read__unknown_and_malformed_ids_are_404(alice_client):
    assert alice_client.post("/api/notifications/999999/read/").status_code == 404
    response = alice_client.post("/api/notifications/abc/read/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_read_all(alice, alice_client):
    services.notify(recipients=[alice], title="a")
    services.notify(recipients=[alice], title="b")

    assert alice_client.post("/api/notifications/read-all/").json() == {"marked": 2}


def test_archive__owner_gets_204_and_row_leaves_feed(alice, alice_client):
    n = services.notify(recipients=[alice], title="a")[0]

    assert alice_client.delete(f"/api/notifications/{n.pk}/").status_code == 204
    assert alice_client.get("/api/notifications/").json()["results"] == []


def test_archive__someone_elses_id_is_404(alice, bob, api_client):
    n = services.notify(recipients=[alice], title="a")[0]

    assert api_client(bob).delete(f"/api/notifications/{n.pk}/").status_code == 404
    n.refresh_from_db()
    assert n.archived_at is None


def test_create__staff_allowed(alice, bob, staff, api_client):
    response = api_client(staff).post(
        "/api/notifications/",
        {"recipients": [alice.pk, bob.pk], "title": "Hello", "level": "warning"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json() == {"created": 2}
    assert Notification.objects.filter(level="warning").count() == 2


def test_create__plain_user_refused(alice, bob, api_client):
    response = api_client(bob).post(
        "/api/notifications/", {"recipients": [alice.pk], "title": "x"}, format="json"
    )

    assert response.status_code == 403
    assert Notification.objects.count() == 0


def test_create__user_with_permission_allowed(alice, bob, api_client):
    bob.user_permissions.add(Permission.objects.get(codename="add_notification"))

    response = api_client(bob).post(
        "/api/notifications/", {"recipients": [alice.pk], "title": "x"}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"recipients": [], "title": "x"}, "recipients"),
        ({"recipients": "1", "title": "x"}, "recipients"),
        ({"recipients": [999999], "title": "x"}, "recipients"),
        ({"recipients": ["one"], "title": "x"}, "recipients"),
        ({"recipients": [1]}, "title"),
        ({"recipients": [1], "title": "x" * 201}, "title"),
        ({"recipients": [1], "title": "x", "level": "panic"}, "level"),
        ({"recipients": [1], "title": "x", "data": [1, 2]}, "data"),
        ({"recipients": [1], "title": "x", "data": {"k": "v" * 20000}}, "data"),
        ({"recipients": [1], "title": "x", "url": "javascript:alert(1)"}, "url"),
        ({"recipients": [1], "title": "x", "category": "not a slug"}, "category"),
    ],
)
def test_create__bad_input_gets_field_error(staff, api_client, payload, field):
    response = api_client(staff).post("/api/notifications/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Notification.objects.count() == 0


def test_create__malformed_json_is_400_json(staff, api_client):
    response = api_client(staff).post(
        "/api/notifications/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.json()


def test_create__huge_body_is_413_json(staff, api_client):
    huge = '{"title": "' + "x" * 300_000 + '"}'
    response = api_client(staff).post(
        "/api/notifications/", huge, content_type="application/json"
    )

    assert response.status_code == 413
    assert "detail" in response.json()


def test_token_endpoint__returns_token_for_valid_credentials(alice, client):
    from tests.conftest import PASSWORD

    good = client.post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}
    ).json()
    bad = client.post("/api/auth/token/", {"username": "alice", "password": "no"})

    assert good["token"] == alice.auth_token.key
    assert set(good) == {"token", "expires_at"}
    assert bad.status_code == 400


def test_unknown_api_path_is_json_404(alice_client):
    response = alice_client.get("/api/nope/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_schema_is_served(alice_client):
    response = alice_client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert "/api/notifications/" in response.json()["paths"]
