"""The chat HTTP API: rooms a user may see, creating rooms, and room history."""

import pytest

from chat import services
from chat.models import Membership, Room


@pytest.fixture
def rooms(alice, bob, staff):
    """lobby (public), team (alice + bob), staff-only (staff), support-alice."""
    services.room_join(slug="lobby", user=alice)
    services.room_create(creator=alice, slug="team", private=True, member_ids=[bob.pk])
    services.room_create(creator=staff, slug="staff-only", private=True)
    services.room_join(slug="support-alice", user=alice)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["slug"] for room in response.json()]


def test_rooms__each_user_sees_public_own_private_and_own_support(
    rooms, alice, bob, staff, api_client
):
    assert slugs(api_client(alice).get("/api/chat/rooms/")) == [
        "lobby",
        "support-alice",
        "team",
    ]
    assert slugs(api_client(bob).get("/api/chat/rooms/")) == ["lobby", "team"]
    assert slugs(api_client(staff).get("/api/chat/rooms/")) == [
        "lobby",
        "staff-only",
        "support-alice",
    ]


def test_rooms__shape(rooms, alice, api_client):
    by_slug = {r["slug"]: r for r in api_client(alice).get("/api/chat/rooms/").json()}

    assert set(by_slug["team"]) == {
        "slug", "name", "private", "support", "members", "created_at",
    }  # fmt: skip
    assert by_slug["team"]["members"] == ["alice", "bob"]
    assert by_slug["team"]["private"] is True
    assert by_slug["lobby"]["members"] is None
    assert by_slug["support-alice"]["support"] is True


def test_rooms__anonymous_refused_with_json(client):
    response = client.get("/api/chat/rooms/")

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/json"


def test_create__private_room_with_members(alice, bob, api_client):
    response = api_client(alice).post(
        "/api/chat/rooms/",
        {"slug": "plans", "name": "Plans", "private": True, "members": ["bob"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["members"] == ["alice", "bob"]
    assert "plans" in slugs(api_client(bob).get("/api/chat/rooms/"))


def test_create__public_room_by_user_allowed_when_setting_on_refused_when_off(
    alice, staff, api_client, settings
):
    settings.CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS = True
    allowed = api_client(alice).post(
        "/api/chat/rooms/", {"slug": "open"}, format="json"
    )
    settings.CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS = False
    refused = api_client(alice).post(
        "/api/chat/rooms/", {"slug": "shut"}, format="json"
    )
    by_staff = api_client(staff).post(
        "/api/chat/rooms/", {"slug": "shut"}, format="json"
    )

    assert allowed.status_code == 201
    assert refused.status_code == 403
    assert "detail" in refused.json()
    assert by_staff.status_code == 201
    assert by_staff.json()["private"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"slug": "support-bob"}, "slug"),
        ({"slug": "has space"}, "slug"),
        ({"slug": "x" * 65}, "slug"),
        ({"slug": ""}, "slug"),
        ({}, "slug"),
        ({"slug": "ok", "private": True, "members": ["nobody"]}, "members"),
        ({"slug": "ok", "members": ["bob"]}, "members"),
        ({"slug": "ok", "private": True, "members": "bob"}, "members"),
        ({"slug": "ok", "private": "perhaps"}, "private"),
    ],
)
def test_create__bad_input_is_a_field_error(alice, bob, api_client, payload, field):
    response = api_client(alice).post("/api/chat/rooms/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Room.objects.filter(slug="ok").exists()


def test_create__existing_slug_is_a_field_error(rooms, bob, api_client):
    response = api_client(bob).post("/api/chat/rooms/", {"slug": "team"}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()
    assert Membership.objects.filter(room__slug="team").count() == 2


def test_create__more_members_than_the_limit_refused(alice, api_client, settings):
    members = ["someone"] * (settings.CHAT_ROOM_MAX_MEMBERS + 1)

    response = api_client(alice).post(
        "/api/chat/rooms/",
        {"slug": "big", "private": True, "members": members},
        format="json",
    )

    assert response.status_code == 400
    assert "members" in response.json()


def _post(room_slug: str, author, text: str):
    return services.message_post(
        room=Room.objects.get(slug=room_slug), author=author, text=text
    )


def test_messages__newest_first_cursor_walks_every_message_once(
    rooms, alice, api_client
):
    for i in range(7):
        _post("team", alice, str(i))

    seen, url = [], "/api/chat/rooms/team/messages/?limit=3"
    while url:
        page = api_client(alice).get(url).json()
        assert set(page) == {"next", "previous", "results"}
        seen += [m["message"] for m in page["results"]]
        url = page["next"]

    assert seen == [str(i) for i in reversed(range(7))]


def test_messages__payload_matches_the_socket_frame(rooms, alice, api_client):
    message = _post("lobby", alice, "hi")

    [item] = api_client(alice).get("/api/chat/rooms/lobby/messages/").json()["results"]

    assert item == {
        "id": message.pk,
        "message": "hi",
        "username": "alice",
        "user_id": alice.pk,
        "created_at": item["created_at"],
    }


def test_messages__private_room_member_reads_non_member_refused(
    rooms, bob, staff, api_client
):
    assert api_client(bob).get("/api/chat/rooms/team/messages/").status_code == 200
    refused = api_client(staff).get("/api/chat/rooms/team/messages/")
    assert refused.status_code == 403
    assert "detail" in refused.json()


def test_messages__support_room_owner_and_staff_read_others_refused(
    rooms, alice, bob, staff, api_client
):
    path = "/api/chat/rooms/support-alice/messages/"

    assert api_client(alice).get(path).status_code == 200
    assert api_client(staff).get(path).status_code == 200
    assert api_client(bob).get(path).status_code == 403


def test_messages__public_room_any_user_reads(rooms, bob, api_client):
    assert api_client(bob).get("/api/chat/rooms/lobby/messages/").status_code == 200


def test_messages__unknown_room_404_json(alice, api_client):
    response = api_client(alice).get("/api/chat/rooms/nowhere/messages/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such room."}


def test_schema__documents_the_chat_endpoints(alice, api_client):
    paths = api_client(alice).get("/api/schema/?format=json").json()["paths"]

    assert "/api/chat/rooms/" in paths
    assert "/api/chat/rooms/{slug}/messages/" in paths
