"""The Redis presence store: key format, tabs, expiry."""

import json
import time

import pytest
import redis
from django.conf import settings as django_settings

from chat import presence

pytestmark = pytest.mark.django_db(transaction=True)


def entry(user_id: int, username: str, channel: str) -> presence.Entry:
    return presence.Entry("room-1", user_id, username, channel)


def test_key__prefixed_per_room():
    assert presence.key("lobby") == (
        f"{django_settings.CHANNEL_LAYER_PREFIX}:chat:presence:lobby"
    )


def test_entry__member_is_json_of_user_name_and_channel():
    member = entry(7, "a:b|c", "specific.x!y").member

    assert json.loads(member) == [7, "a:b|c", "specific.x!y"]


async def test_tabs__user_joins_with_first_leaves_with_last():
    tab1, tab2 = entry(1, "alice", "c1"), entry(1, "alice", "c2")
    bob = entry(2, "bob", "c3")

    steps = [
        await presence.ajoin(tab1),
        await presence.ajoin(tab2),
        await presence.ajoin(bob),
        await presence.aleave(tab1),
        await presence.aleave(tab2),
        await presence.aleave(bob),
    ]

    assert [(s.users, s.changed) for s in steps] == [
        (["alice"], True),
        (["alice"], False),
        (["alice", "bob"], True),
        (["alice", "bob"], False),
        (["bob"], True),
        ([], True),
    ]


async def test_refresh__purges_expired_entries_and_reports_the_change(settings):
    settings.CHAT_PRESENCE_TTL_SECS = 30.0
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    dead = entry(9, "ghost", "gone")
    client.zadd(presence.key("room-1"), {dead.member: time.time() - 1})
    live = entry(1, "alice", "c1")
    await presence.ajoin(live)

    assert presence.present_user_ids("room-1") == {1}
    again = await presence.arefresh(live)

    assert (again.users, again.changed) == (["alice"], False)
    client.close()


async def test_join__reports_purge_of_expired_users(settings):
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.zadd(
        presence.key("room-1"), {entry(9, "ghost", "x").member: time.time() - 1}
    )

    change = await presence.ajoin(entry(1, "alice", "c1"))

    assert (change.users, change.changed) == (["alice"], True)
    client.close()


async def test_refresh__re_adds_an_entry_that_expired(settings):
    live = entry(1, "alice", "c1")
    await presence.ajoin(live)
    redis.Redis.from_url(django_settings.REDIS_URL).delete(presence.key("room-1"))

    change = await presence.arefresh(live)

    assert (change.users, change.changed) == (["alice"], True)


async def test_key__expires_when_nobody_refreshes(settings):
    settings.CHAT_PRESENCE_TTL_SECS = 5.0
    await presence.ajoin(entry(1, "alice", "c1"))

    ttl = redis.Redis.from_url(django_settings.REDIS_URL).ttl(presence.key("room-1"))

    assert 0 < ttl <= 6
