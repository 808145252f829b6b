"""The chat HTTP API: rooms a user may see, creating rooms, and room history."""

import base64
from urllib.parse import urlencode

import pytest

from chat import services
from chat.models import Membership, Room
from tests.chat.conftest import private_room_of


@pytest.fixture
def rooms(alice, bob, staff):
    """lobby (public), team (alice + bob), staff-only (staff), support-alice."""
    services.room_join(slug="lobby", user=alice)
    private_room_of("team", alice, bob)
    services.room_create(creator=staff, slug="staff-only", private=True)
    services.room_join(slug="support-alice", user=alice)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["slug"] for room in response.json()["results"]]


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
    page = api_client(alice).get("/api/chat/rooms/").json()
    by_slug = {r["slug"]: r for r in page["results"]}

    assert set(by_slug["team"]) == {
        "slug", "name", "private", "support", "members", "invited", "created_at",
    }  # fmt: skip
    assert by_slug["team"]["members"] == ["alice", "bob"]
    assert by_slug["team"]["invited"] == []
    assert by_slug["team"]["private"] is True
    assert by_slug["lobby"]["members"] is None
    assert by_slug["lobby"]["invited"] is None
    assert by_slug["support-alice"]["support"] is True


def test_rooms__anonymous_refused_with_json(client):
    response = client.get("/api/chat/rooms/")

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/json"


def test_create__private_room_invites_members_who_enter_once_they_accept(
    alice, bob, api_client
):
    response = api_client(alice).post(
        "/api/chat/rooms/",
        {"slug": "plans", "name": "Plans", "private": True, "members": ["bob"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["members"] == ["alice"]
    assert response.json()["invited"] == ["bob"]
    assert "plans" not in slugs(api_client(bob).get("/api/chat/rooms/"))
    history = "/api/chat/rooms/plans/messages/"
    assert api_client(bob).get(history).status_code == 403

    [invitation] = api_client(bob).get("/api/chat/invitations/").json()["results"]
    accepted = api_client(bob).post(f"/api/chat/invitations/{invitation['id']}/accept/")

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["members"] == ["alice", "bob"]
    assert "plans" in slugs(api_client(bob).get("/api/chat/rooms/"))
    assert api_client(bob).get(history).status_code == 200


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
    assert "/api/chat/rooms/{slug}/invitations/" in paths
    assert "/api/chat/invitations/" in paths
    assert "/api/chat/invitations/{id}/accept/" in paths
    assert "/api/chat/invitations/{id}/decline/" in paths


# --- invitations ------------------------------------------------------------------


def _invite(client, slug: str, username):
    return client.post(
        f"/api/chat/rooms/{slug}/invitations/", {"username": username}, format="json"
    )


def test_invite__member_invites_invitee_lists_and_accepts(alice, bob, api_client):
    services.room_create(creator=alice, slug="plans", private=True)

    sent = _invite(api_client(alice), "plans", "bob")
    again = _invite(api_client(alice), "plans", "bob")
    listed = api_client(bob).get("/api/chat/invitations/").json()

    assert sent.status_code == 201, sent.content
    assert again.status_code == 200
    assert again.json() == sent.json()
    assert sent.json() == {
        "id": sent.json()["id"],
        "room": "plans",
        "room_name": "plans",
        "inviter": "alice",
        "invitee": "bob",
        "status": "pending",
        "created_at": sent.json()["created_at"],
    }
    assert listed["results"] == [sent.json()]
    assert api_client(alice).get("/api/chat/invitations/").json()["results"] == []


def test_invite__decline_leaves_the_room_closed(alice, bob, api_client):
    services.room_create(creator=alice, slug="plans", private=True)
    invitation = _invite(api_client(alice), "plans", "bob").json()

    declined = api_client(bob).post(
        f"/api/chat/invitations/{invitation['id']}/decline/"
    )

    assert declined.status_code == 204
    assert api_client(bob).get("/api/chat/rooms/plans/messages/").status_code == 403
    assert api_client(bob).get("/api/chat/invitations/").json()["results"] == []


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_invite__someone_elses_answered_or_unknown_invitation_is_one_404(
    alice, bob, staff, api_client, answer
):
    services.room_create(creator=alice, slug="plans", private=True)
    bobs = _invite(api_client(alice), "plans", "bob").json()["id"]
    api_client(bob).post(f"/api/chat/invitations/{bobs}/decline/")
    staffs = _invite(api_client(alice), "plans", "staff").json()["id"]

    answers = [
        api_client(bob).post(f"/api/chat/invitations/{pk}/{answer}/")
        for pk in (staffs, bobs, 999_999_999, 2**70)
    ]

    assert {(r.status_code, r.content) for r in answers} == {
        (404, b'{"detail":"No such invitation."}')
    }
    assert api_client(bob).get("/api/chat/rooms/plans/messages/").status_code == 403


def test_invite__unknown_inactive_self_and_member_look_the_same(
    alice, bob, make_user, api_client
):
    make_user("carol", is_active=False)
    private_room_of("plans", alice, bob)

    answers = [
        _invite(api_client(alice), "plans", name)
        for name in ("nobody", "carol", "alice", "bob")
    ]

    assert {(r.status_code, r.content) for r in answers} == {
        (400, b'{"username":["No user of that name can be invited to this room."]}')
    }


def test_create__unknown_and_inactive_members_look_the_same(
    alice, make_user, api_client
):
    make_user("carol", is_active=False)

    answers = [
        api_client(alice).post(
            "/api/chat/rooms/",
            {"slug": "plans", "private": True, "members": [name]},
            format="json",
        )
        for name in ("nobody", "carol")
    ]

    assert {(r.status_code, r.content) for r in answers} == {
        (400, b'{"members":{"0":["No user of that name can be invited."]}}')
    }
    assert not Room.objects.filter(slug="plans").exists()


def test_invite__non_member_refused_public_and_support_rooms_have_none(
    rooms, alice, bob, api_client
):
    assert _invite(api_client(bob), "staff-only", "alice").status_code == 403
    assert _invite(api_client(alice), "lobby", "bob").status_code == 400
    assert _invite(api_client(alice), "support-alice", "bob").status_code == 403
    assert _invite(api_client(alice), "nowhere", "bob").status_code == 404


def test_invite__past_the_rate_is_429_with_retry_after(
    alice, bob, staff, api_client, settings
):
    settings.CHAT_INVITATIONS_RATE = "1/hour"
    services.room_create(creator=alice, slug="plans", private=True)

    assert _invite(api_client(alice), "plans", "bob").status_code == 201
    refused = _invite(api_client(alice), "plans", "staff")

    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many invitations (at most 1/hour).")
    assert 0 < int(refused["Retry-After"]) <= 3600


# --- room creation rate, pagination, support rooms ------------------------------


def test_create__past_the_room_rate_is_429_with_a_clear_body(
    alice, bob, api_client, settings
):
    settings.CHAT_ROOM_CREATE_RATE = "2/hour"

    codes = [
        api_client(alice).post("/api/chat/rooms/", {"slug": s}, format="json")
        for s in ("one", "two", "three")
    ]
    bobs = api_client(bob).post("/api/chat/rooms/", {"slug": "four"}, format="json")

    assert [r.status_code for r in codes] == [201, 201, 429]
    refused = codes[-1]
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["detail"].startswith(
        "Too many rooms created (at most 2/hour)."
    )
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert not Room.objects.filter(slug="three").exists()
    assert bobs.status_code == 201


def test_rooms__cursor_walks_every_room_once_by_slug(alice, api_client):
    for slug in ("b-room", "c-room", "d-room", "e-room"):
        services.room_join(slug=slug, user=alice)

    seen, url = [], "/api/chat/rooms/?limit=2"
    while url:
        page = api_client(alice).get(url).json()
        assert len(page["results"]) <= 2
        seen += [room["slug"] for room in page["results"]]
        url = page["next"]

    assert seen == ["b-room", "c-room", "d-room", "e-room", "lobby"]


@pytest.mark.parametrize("position", ["a\x00b", "a b", "", "x" * 65, "'--"])
def test_rooms__forged_cursor_is_404_not_a_500(alice, api_client, position):
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()

    response = api_client(alice).get("/api/chat/rooms/", {"cursor": cursor})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_support_room__of_another_user_is_403_whether_or_not_it_exists(
    rooms, bob, make_user, api_client
):
    make_user("carol")  # a user without a support room

    answers = [
        api_client(bob).get(f"/api/chat/rooms/support-{name}/messages/")
        for name in ("alice", "carol", "nobody")
    ] + [
        _invite(api_client(bob), f"support-{name}", "bob")
        for name in ("alice", "nobody")
    ]

    assert {(r.status_code, r.content) for r in answers} == {
        (403, b'{"detail":"A support room admits its user and staff."}')
    }


def test_messages__access_is_checked_on_every_request(
    rooms, alice, bob, staff, api_client
):
    support = "/api/chat/rooms/support-alice/messages/"
    team = "/api/chat/rooms/team/messages/"
    services.room_join(slug="support-alice", user=staff)  # staff join as members
    assert api_client(staff).get(support).status_code == 200

    staff.is_staff = False
    staff.save()
    Membership.objects.filter(room__slug="team", user=bob).delete()

    assert api_client(staff).get(support).status_code == 403
    assert "support-alice" not in slugs(api_client(staff).get("/api/chat/rooms/"))
    assert api_client(bob).get(team).status_code == 403
    assert slugs(api_client(bob).get("/api/chat/rooms/")) == ["lobby"]
