"""Security fixtures: a small world of users, rows and rooms with owners, and a
throttle cache of each test's own."""

import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from chat import services as chat_services
from notifications.models import Broadcast, Notification, Topic


@dataclass
class World:
    users: dict
    ids: dict


@pytest.fixture
def world(make_user) -> World:
    """alice and bob (plain users), staff, a notifier and a broadcaster (holders
    of add_notification / add_broadcast, not staff), a holder of
    dashboard.push_metric (a service pushing metrics), and a member of the ops group;
    a notification each for alice and bob; a staff-only topic, a group topic; a
    private room of alice's that the member is invited to (not yet accepted),
    alice's support room; a scheduled broadcast."""
    ops = Group.objects.create(name="ops")
    users = {
        "alice": make_user("alice"),
        "bob": make_user("bob"),
        "staff": make_user("staff", is_staff=True),
        "notifier": make_user("notifier"),
        "broadcaster": make_user("broadcaster"),
        "member": make_user("member"),
        "metrics": make_user("metrics"),
    }
    users["notifier"].user_permissions.add(
        Permission.objects.get(codename="add_notification")
    )
    users["broadcaster"].user_permissions.add(
        Permission.objects.get(codename="add_broadcast")
    )
    users["metrics"].user_permissions.add(
        Permission.objects.get(codename="push_metric")
    )
    users["member"].groups.add(ops)
    Topic.objects.create(slug="ops-only", name="Ops", staff_only=True)
    Topic.objects.create(slug="oncall", name="On call", group=ops)
    Topic.objects.create(slug="deploys", name="Deploys")
    secret = chat_services.room_create(
        creator=users["alice"],
        slug="secret",
        private=True,
        invitee_ids=[users["member"].pk],
    )
    chat_services.room_join(slug="support-alice", user=users["alice"])
    scheduled = Broadcast.objects.create(
        title="later",
        send_at=timezone.now() + timezone.timedelta(days=1),
        status="scheduled",
        created_by=users["staff"],
    )
    ids = {
        "alice_note": Notification.objects.create(
            recipient=users["alice"], title="for alice"
        ).pk,
        "bob_note": Notification.objects.create(
            recipient=users["bob"], title="for bob"
        ).pk,
        "broadcast": scheduled.pk,
        "invitation": secret.invitations.get().pk,
    }
    return World(users=users, ids=ids)


@pytest.fixture
def isolated_cache(settings):
    """The hub's Redis cache under a key prefix of this test's own, so throttle
    counts (and tickets) never leak between tests or runs."""
    caches = {**settings.CACHES}
    caches["default"] = {
        **caches["default"],
        "KEY_PREFIX": f"{caches['default'].get('KEY_PREFIX', '')}:{uuid.uuid4().hex}",
    }
    settings.CACHES = caches
    yield
