"""Broadcasts: the outbox, fan-out idempotency, scheduling, cancelling, sweeping."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from notifications import selectors, services
from notifications.models import Broadcast, Notification, Subscription, Topic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deploys(db):
    return Topic.objects.create(slug="deploys", name="Deploys")


@pytest.fixture
def followers(deploys):
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"follower{i}") for i in range(30)
    )
    Subscription.objects.bulk_create(Subscription(user=u, topic=deploys) for u in users)
    return users


def test_post__202_at_once_with_id_and_status(staff, deploys, api_client):
    response = api_client(staff).post(
        "/api/broadcasts/", {"topic": "deploys", "title": "Deployed"}, format="json"
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert Broadcast.objects.get(pk=body["id"]).title == "Deployed"


def test_post__plain_user_refused_permission_holder_allowed(
    alice, bob, deploys, api_client
):
    payload = {"topic": "deploys", "title": "x"}

    assert (
        api_client(alice).post("/api/broadcasts/", payload, format="json").status_code
        == 403
    )
    bob.user_permissions.add(Permission.objects.get(codename="add_broadcast"))
    assert (
        api_client(bob).post("/api/broadcasts/", payload, format="json").status_code
        == 202
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x"}, "topic"),
        ({"topic": "nope", "title": "x"}, "topic"),
        ({"topic": None}, "title"),
        ({"topic": None, "title": "x", "send_at": "tomorrow"}, "send_at"),
        ({"topic": None, "title": "x", "level": 3}, "level"),
    ],
)
def test_post__bad_input_field_errors(staff, deploys, api_client, payload, field):
    response = api_client(staff).post("/api/broadcasts/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Broadcast.objects.exists()


def test_post__idempotency_key_returns_the_first_broadcast(staff, deploys, api_client):
    client = api_client(staff)
    payload = {"topic": "deploys", "title": "Once"}

    first = client.post(
        "/api/broadcasts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = client.post(
        "/api/broadcasts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    other = client.post(
        "/api/broadcasts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )

    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert Broadcast.objects.count() == 2


def test_fan_out__one_row_per_follower_and_status_sent(deploys, followers, alice):
    item, _ = services.broadcast(topic=deploys, title="Deployed")

    done = services.broadcast_fan_out(broadcast_id=item.pk)

    assert done.status == "sent"
    assert done.recipients == len(followers)
    assert done.sent_at is not None
    rows = Notification.objects.filter(title="Deployed")
    assert sorted(rows.values_list("recipient_id", flat=True)) == sorted(
        u.pk for u in followers
    )
    assert not rows.filter(recipient=alice).exists()  # not a follower
    assert {n.topic_id for n in rows} == {deploys.pk}


def test_fan_out__topic_null_reaches_every_active_user(alice, bob, make_user):
    make_user("gone", is_active=False)
    item, _ = services.broadcast(topic=None, title="Maintenance tonight")

    done = services.broadcast_fan_out(broadcast_id=item.pk)

    assert done.recipients == 2
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        "alice",
        "bob",
    }


def test_fan_out__run_twice_adds_nothing(deploys, followers, settings):
    settings.BROADCAST_CHUNK_USERS = 7
    item, _ = services.broadcast(topic=deploys, title="Twice")

    services.broadcast_fan_out(broadcast_id=item.pk)
    Broadcast.objects.filter(pk=item.pk).update(status="sending")  # as if redelivered
    again = services.broadcast_fan_out(broadcast_id=item.pk)

    assert again.recipients == len(followers)
    assert Notification.objects.count() == len(followers)


def test_fan_out__resumes_a_half_done_run_without_duplicates(deploys, followers):
    item, _ = services.broadcast(topic=deploys, title="Half")
    # A worker wrote the first chunk, then died with -9.
    services.notify(
        recipients=followers[:10], title="Half", idempotency_key=item.notification_key
    )
    Broadcast.objects.filter(pk=item.pk).update(status="sending")

    done = services.broadcast_fan_out(broadcast_id=item.pk)

    assert done.recipients == len(followers)
    assert Notification.objects.count() == len(followers)
    assert Notification.objects.values("recipient").distinct().count() == len(followers)


def test_scheduled__fires_when_due_not_before(deploys, followers):
    now = timezone.now()
    item, _ = services.broadcast(
        topic=deploys, title="Later", send_at=now + timedelta(hours=1)
    )
    assert item.status == "scheduled"

    assert services.broadcasts_dispatch_due(now=now + timedelta(minutes=59)) == []
    assert services.broadcasts_dispatch_due(now=now + timedelta(minutes=61)) == [
        item.pk
    ]
    done = services.broadcast_fan_out(broadcast_id=item.pk)

    assert done.status == "sent"
    assert done.recipients == len(followers)


def test_scheduled__cancelled_never_goes_out(deploys, followers, staff, api_client):
    now = timezone.now()
    item, _ = services.broadcast(
        topic=deploys, title="Nope", send_at=now + timedelta(hours=1)
    )

    assert api_client(staff).delete(f"/api/broadcasts/{item.pk}/").status_code == 204
    assert services.broadcasts_dispatch_due(now=now + timedelta(hours=2)) == []
    services.broadcast_fan_out(broadcast_id=item.pk)

    item.refresh_from_db()
    assert item.status == "cancelled"
    assert not Notification.objects.exists()


def test_cancel__only_scheduled_409_otherwise(deploys, staff, api_client):
    item, _ = services.broadcast(topic=deploys, title="Now")

    response = api_client(staff).delete(f"/api/broadcasts/{item.pk}/")

    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_detail__staff_only_and_404(alice, staff, deploys, api_client):
    item, _ = services.broadcast(topic=deploys, title="x")

    assert api_client(alice).get(f"/api/broadcasts/{item.pk}/").status_code == 403
    body = api_client(staff).get(f"/api/broadcasts/{item.pk}/").json()
    assert {"id", "status", "recipients", "created_at", "sent_at"} <= set(body)
    assert api_client(staff).get("/api/broadcasts/999999/").status_code == 404


def test_sweeper__requeues_only_stalled(deploys, settings):
    now = timezone.now()
    services.broadcast(topic=deploys, title="fresh")
    stalled, _ = services.broadcast(topic=deploys, title="stalled")
    Broadcast.objects.filter(pk=stalled.pk).update(
        progress_at=now - timedelta(seconds=settings.BROADCAST_STALL_SECS + 1)
    )

    assert services.broadcasts_requeue_stalled(now=now) == [stalled.pk]
    assert services.broadcasts_requeue_stalled(now=now) == []  # progress_at refreshed


def test_purge__deletes_old_read_keeps_unread_and_recent(alice, settings):
    old = timezone.now() - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS + 1)
    read_old, unread_old, read_new = (
        services.notify(recipients=[alice], title=t)[0] for t in ("ro", "uo", "rn")
    )
    Notification.objects.filter(pk__in=[read_old.pk, unread_old.pk]).update(
        created_at=old
    )
    Notification.objects.filter(pk__in=[read_old.pk, read_new.pk]).update(
        read_at=timezone.now()
    )

    assert services.notifications_purge() == 1
    assert set(Notification.objects.values_list("title", flat=True)) == {"uo", "rn"}


@pytest.fixture
def team_news(alice, bob, staff):
    """A topic for the group "team": alice and bob followed it while in the
    group, bob has left it since; staff follows without being in it."""
    team = Group.objects.create(name="team")
    topic = Topic.objects.create(slug="team-news", name="Team", group=team)
    for user in (alice, bob):
        user.groups.add(team)
    for user in (alice, bob, staff):
        services.topic_subscribe(user=user, slug="team-news")
    bob.groups.remove(team)
    return topic


def test_fan_out__followers_who_lost_access_are_not_reached(
    team_news, alice, bob, staff
):
    item, _ = services.broadcast(topic=team_news, title="Team only")

    services.broadcast_fan_out(broadcast_id=item.pk)

    reached = Notification.objects.filter(title="Team only")
    assert sorted(reached.values_list("recipient_id", flat=True)) == [
        alice.pk,
        staff.pk,
    ]
    assert Subscription.objects.filter(user=bob, topic=team_news).exists()  # kept


def test_audience__follows_the_topic_rule_at_send_time(team_news, alice, bob, staff):
    everyone = {alice.pk, bob.pk, staff.pk}

    def audience():
        chunk = selectors.broadcast_audience_chunk(
            topic_id=team_news.pk, after_user_id=0, limit=100
        )
        among = selectors.broadcast_audience_among(
            topic_id=team_news.pk, user_ids=everyone
        )
        assert chunk == among
        return chunk

    assert audience() == [alice.pk, staff.pk]
    team_news.staff_only = True
    team_news.save()
    assert audience() == [staff.pk]
    staff.is_staff = False
    staff.save()
    assert audience() == []
