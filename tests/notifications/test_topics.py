"""Topics: who may follow what, over HTTP and the socket; ephemeral events."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, Permission

from notifications.models import Subscription, Topic
from realtime import groups
from tests.conftest import communicator, nothing_before_marker, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def topics(db):
    ops = Group.objects.create(name="ops")
    return {
        "public": Topic.objects.create(slug="deploys", name="Deploys"),
        "staff": Topic.objects.create(
            slug="incidents", name="Incidents", staff_only=True
        ),
        "group": Topic.objects.create(slug="oncall", name="On call", group=ops),
    }


def test_list__shows_followable_topics_with_subscribed_flag(alice, topics, api_client):
    Subscription.objects.create(user=alice, topic=topics["public"])

    body = api_client(alice).get("/api/topics/").json()

    assert body == [
        {"slug": "deploys", "name": "Deploys", "description": "", "subscribed": True}
    ]


def test_list__staff_sees_every_topic(staff, topics, api_client):
    slugs = [t["slug"] for t in api_client(staff).get("/api/topics/").json()]

    assert slugs == ["deploys", "incidents", "oncall"]


def test_create__staff_allowed_user_refused(alice, staff, api_client):
    payload = {"slug": "billing", "name": "Billing"}

    assert (
        api_client(alice).post("/api/topics/", payload, format="json").status_code
        == 403
    )
    assert (
        api_client(staff).post("/api/topics/", payload, format="json").status_code
        == 201
    )
    assert (
        api_client(staff).post("/api/topics/", payload, format="json").status_code
        == 400
    )


@pytest.mark.parametrize(
    ("topic", "member", "expected"),
    [
        ("public", False, 200),
        ("staff", False, 403),
        ("group", False, 403),
        ("group", True, 200),
    ],
)
def test_subscribe_http__permission_pairs(
    alice, topics, api_client, topic, member, expected
):
    if member:
        alice.groups.add(Group.objects.get(name="ops"))
    slug = topics[topic].slug

    response = api_client(alice).put(f"/api/topics/{slug}/subscription/")

    assert response.status_code == expected
    assert Subscription.objects.filter(user=alice).exists() == (expected == 200)


def test_subscribe_http__staff_may_follow_staff_topic(staff, topics, api_client):
    assert (
        api_client(staff).put("/api/topics/incidents/subscription/").status_code == 200
    )


def test_subscribe_http__unknown_topic_404(alice, api_client):
    assert api_client(alice).put("/api/topics/nope/subscription/").status_code == 404


def test_unsubscribe_http__204_and_gone(alice, topics, api_client):
    Subscription.objects.create(user=alice, topic=topics["public"])

    assert (
        api_client(alice).delete("/api/topics/deploys/subscription/").status_code == 204
    )
    assert not Subscription.objects.filter(user=alice).exists()


async def hello_of(comm) -> dict:
    ok, _ = await comm.connect()
    assert ok
    return await comm.receive_json_from()


async def test_socket_subscribe__allowed_then_gets_events(
    alice, topics, staff, api_client
):
    comm = communicator("/ws/notifications/", alice)
    await hello_of(comm)

    await comm.send_json_to({"type": "subscribe", "topic": "deploys"})
    assert await comm.receive_json_from() == {"type": "subscribed", "topic": "deploys"}
    response = await database_sync_to_async(api_client(staff).post)(
        "/api/topics/deploys/events/", {"event": {"build": 42}}, format="json"
    )

    assert response.status_code == 202
    assert await comm.receive_json_from(timeout=3) == {
        "type": "event",
        "topic": "deploys",
        "event": {"build": 42},
    }
    await nothing_before_marker(comm, groups.user(alice.pk))  # no subscription echo
    await comm.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "subscribe", "topic": "incidents"}, "forbidden"),
        ({"type": "subscribe", "topic": "oncall"}, "forbidden"),
        ({"type": "subscribe", "topic": "nope"}, "not_found"),
        ({"type": "subscribe"}, "invalid"),
        ({"type": "subscribe", "topic": ["deploys"]}, "invalid"),
        ({"type": "unsubscribe", "topic": "nope"}, "not_found"),
    ],
)
async def test_socket_subscribe__refused_with_error_frame(alice, topics, frame, code):
    comm = communicator("/ws/notifications/", alice)
    await hello_of(comm)

    await comm.send_json_to(frame)

    error = await comm.receive_json_from()
    assert (error["type"], error["code"]) == ("error", code)
    assert not await database_sync_to_async(
        Subscription.objects.filter(user=alice).exists
    )()
    await comm.disconnect()


async def test_http_subscribe__takes_effect_on_open_sockets(
    alice, topics, staff, api_client
):
    comm = communicator("/ws/notifications/", alice)
    hello = await hello_of(comm)
    assert hello["topics"] == []

    await database_sync_to_async(api_client(alice).put)(
        "/api/topics/deploys/subscription/"
    )
    assert await comm.receive_json_from(timeout=3) == {
        "type": "subscribed",
        "topic": "deploys",
    }
    await database_sync_to_async(api_client(staff).post)(
        "/api/topics/deploys/events/", {"event": {"n": 1}}, format="json"
    )
    assert (await receive_until(comm, "event"))["event"] == {"n": 1}

    await database_sync_to_async(api_client(alice).delete)(
        "/api/topics/deploys/subscription/"
    )
    assert await comm.receive_json_from(timeout=3) == {
        "type": "unsubscribed",
        "topic": "deploys",
    }
    await database_sync_to_async(api_client(staff).post)(
        "/api/topics/deploys/events/", {"event": {"n": 2}}, format="json"
    )
    await nothing_before_marker(comm, groups.user(alice.pk))
    await comm.disconnect()


async def test_hello__lists_followed_topics_and_joins_them(
    alice, topics, staff, api_client
):
    await database_sync_to_async(Subscription.objects.create)(
        user=alice, topic=topics["public"]
    )
    follower = communicator("/ws/notifications/", alice)
    outsider = communicator("/ws/notifications/", staff)
    assert (await hello_of(follower))["topics"] == ["deploys"]
    await hello_of(outsider)

    await database_sync_to_async(api_client(staff).post)(
        "/api/topics/deploys/events/", {"event": {"up": True}}, format="json"
    )

    assert (await follower.receive_json_from(timeout=3))["event"] == {"up": True}
    await nothing_before_marker(outsider, groups.user(staff.pk))
    await follower.disconnect()
    await outsider.disconnect()


def test_event__needs_broadcast_permission(alice, bob, topics, api_client):
    payload = {"event": {"x": 1}}
    url = "/api/topics/deploys/events/"

    assert api_client(alice).post(url, payload, format="json").status_code == 403
    bob.user_permissions.add(Permission.objects.get(codename="add_broadcast"))
    assert api_client(bob).post(url, payload, format="json").status_code == 202


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"event": [1, 2]}, 400),
        ({"event": "text"}, 400),
        ({}, 400),
        ({"event": {"pad": "x" * 20_000}}, 400),
    ],
)
def test_event__bad_input(staff, topics, api_client, payload, status):
    response = api_client(staff).post(
        "/api/topics/deploys/events/", payload, format="json"
    )

    assert response.status_code == status
    assert "event" in response.json()


def test_event__unknown_topic_404(staff, api_client):
    response = api_client(staff).post(
        "/api/topics/nope/events/", {"event": {}}, format="json"
    )

    assert response.status_code == 404
