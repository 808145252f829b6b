"""``/ws/notifications/`` over the full ASGI stack and the real Redis channel layer."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction

from emails.models import Preference
from notifications import services
from notifications.models import Notification, Topic
from realtime import groups
from tests.conftest import (
    communicator,
    nothing_before_marker,
    receive_until,
    send_raw,
)
from tests.support.write_thread import held_write_thread

# Each test runs on the hub's consumer loop and on channels' stock loop.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("consumer_loop"),
]

notify = database_sync_to_async(services.notify)
WAIT_SECS = 10.0


async def notify_b(producer):
    return await database_sync_to_async(producer)()


async def connected(user):
    comm = communicator("/ws/notifications/", user)
    ok, _ = await comm.connect()
    assert ok
    hello = await comm.receive_json_from()
    assert hello["type"] == "hello"
    return comm, hello


async def test_connect__hello_has_user_unread_and_last_id(alice):
    [n] = await notify(recipients=[alice], title="before")
    comm, hello = await connected(alice)

    assert hello == {
        "type": "hello",
        "user": {"id": alice.pk, "username": "alice"},
        "unread": 1,
        "last_id": n.pk,
        "topics": [],
    }
    await comm.disconnect()


async def test_connect__without_credentials_closes_4401_after_the_auth_deadline(
    settings,
):
    settings.WS_AUTH_TIMEOUT_SECS = 0.2
    comm = communicator("/ws/notifications/")
    ok, _ = await comm.connect()

    assert ok  # accepted first, so browsers can read the close code
    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_connect__without_credentials_a_first_frame_but_auth_closes_4401():
    comm = communicator("/ws/notifications/")
    assert (await comm.connect())[0]

    await comm.send_json_to({"type": "ping"})

    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_notification__every_socket_of_recipient_gets_it_and_unread(alice, bob):
    tab1, _ = await connected(alice)
    tab2, _ = await connected(alice)
    other, _ = await connected(bob)

    [n] = await notify(recipients=[alice], title="Deploy done")

    for tab in (tab1, tab2):
        frame = await tab.receive_json_from(timeout=3)
        assert frame["type"] == "notification"
        assert frame["notification"]["id"] == n.pk
        assert frame["notification"]["title"] == "Deploy done"
        assert await tab.receive_json_from(timeout=3) == {"type": "unread", "unread": 1}
    await nothing_before_marker(other, groups.user(bob.pk))
    for comm in (tab1, tab2, other):
        await comm.disconnect()


async def test_notification__plain_orm_create_is_pushed(alice):
    comm, _ = await connected(alice)

    n = await database_sync_to_async(Notification.objects.create)(
        recipient=alice, title="from the shell"
    )

    frame = await receive_until(comm, "notification")
    assert frame["notification"]["id"] == n.pk
    await comm.disconnect()


async def test_read__marks_read_and_every_tab_hears(alice):
    [n] = await notify(recipients=[alice], title="x")
    tab1, _ = await connected(alice)
    tab2, _ = await connected(alice)

    await tab1.send_json_to({"type": "read", "id": n.pk})

    for tab in (tab1, tab2):
        assert await tab.receive_json_from(timeout=3) == {"type": "read", "ids": [n.pk]}
        assert await tab.receive_json_from(timeout=3) == {"type": "unread", "unread": 0}
        await tab.disconnect()


async def test_read__someone_elses_id_is_not_found_and_unchanged(alice, bob):
    [n] = await notify(recipients=[alice], title="x")
    comm, _ = await connected(bob)

    await comm.send_json_to({"type": "read", "id": n.pk})

    frame = await comm.receive_json_from()
    assert frame["type"] == "error"
    assert frame["code"] == "not_found"
    await database_sync_to_async(n.refresh_from_db)()
    assert n.read_at is None
    await comm.disconnect()


async def test_read_all__every_tab_hears(alice):
    a, b = [(await notify(recipients=[alice], title=t))[0] for t in "ab"]
    comm, _ = await connected(alice)

    await comm.send_json_to({"type": "read_all"})

    read = await comm.receive_json_from(timeout=3)
    assert read["type"] == "read"
    assert sorted(read["ids"]) == [a.pk, b.pk]
    assert await comm.receive_json_from(timeout=3) == {"type": "unread", "unread": 0}
    await comm.disconnect()


async def test_resume__replays_missed_notifications_oldest_first(alice, bob):
    comm, hello = await connected(alice)
    await comm.disconnect()
    missed = [(await notify(recipients=[alice], title=str(i)))[0] for i in range(3)]
    await notify(recipients=[bob], title="bob's")

    comm, _ = await connected(alice)
    await comm.send_json_to({"type": "resume", "last_id": hello["last_id"]})

    frames = [await comm.receive_json_from() for _ in range(4)]
    assert [f["notification"]["id"] for f in frames[:3]] == [n.pk for n in missed]
    assert frames[3] == {
        "type": "resumed",
        "count": 3,
        "last_id": missed[-1].pk,
        "more": False,
    }
    await comm.disconnect()


async def test_resume__does_not_send_again_what_this_socket_was_pushed(alice):
    """A client resumes right after hello; a push that reached the socket
    before its resume (a broadcast, the server's catch-up after a Redis
    restart) was sent again by the replay: the 600 s soak counted a duplicate.
    What the socket was sent since its hello is not replayed; what came
    before its hello is."""
    before = (await notify(recipients=[alice], title="before"))[0]
    comm, hello = await connected(alice)
    assert hello["last_id"] == before.pk
    [pushed] = await notify(recipients=[alice], title="pushed")
    frame = await receive_until(comm, "notification")
    assert frame["notification"]["id"] == pushed.pk

    await comm.send_json_to({"type": "resume", "last_id": before.pk - 1})
    replayed = []
    while (frame := await comm.receive_json_from(timeout=3))["type"] != "resumed":
        if frame["type"] == "notification":
            replayed.append(frame["notification"]["id"])

    assert replayed == [before.pk]
    assert frame == {"type": "resumed", "count": 1, "last_id": pushed.pk,
                     "more": False}  # fmt: skip
    await comm.disconnect()


async def test_resume__a_live_push_after_its_replay_still_brings_the_unread_count(
    alice,
):
    """The resume replayed a notification before its live push came: the push's
    notification is not sent twice, but its unread count is (else the badge
    stayed at hello's count: a browser test saw 4 of 5 after a web restart)."""
    [before] = await notify(recipients=[alice], title="before")
    comm, hello = await connected(alice)
    assert hello["unread"] == 1
    # Stored without its push (bulk_create sends no post_save), pushed below.
    [row] = await database_sync_to_async(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title="pushed late")]
    )
    # From before `before`: the replay reads the database, and finds both.
    await comm.send_json_to({"type": "resume", "last_id": before.pk - 1})
    assert (await receive_until(comm, "notification"))["notification"][
        "id"
    ] == before.pk
    assert (await receive_until(comm, "notification"))["notification"]["id"] == row.pk
    await receive_until(comm, "resumed")

    await database_sync_to_async(services.publish_created)([row])

    assert await comm.receive_json_from(timeout=3) == {"type": "unread", "unread": 2}
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=3) == {"type": "pong"}
    await comm.disconnect()


async def test_resume__from_the_delivery_point_replays_nothing_and_loses_nothing(
    alice,
):
    """A client back from a short loss has usually seen everything: its resume
    from hello's last_id (or later) is answered at once, and what comes after
    it arrives live, once."""
    [seen] = await notify(recipients=[alice], title="seen before the loss")
    comm, hello = await connected(alice)
    assert hello["last_id"] == seen.pk

    await comm.send_json_to({"type": "resume", "last_id": seen.pk})
    assert await comm.receive_json_from(timeout=3) == {
        "type": "resumed", "count": 0, "last_id": seen.pk, "more": False,
    }  # fmt: skip
    [later] = await notify(recipients=[alice], title="after the resume")

    frame = await receive_until(comm, "notification")
    assert frame["notification"]["id"] == later.pk
    assert (await receive_until(comm, "unread"))["unread"] == 2
    await nothing_before_marker(comm, groups.user(alice.pk))  # and not again
    await comm.disconnect()


async def test_resume__from_before_the_delivery_point_still_reads_the_database(alice):
    """The answer without a query holds only from the delivery point on: one
    id short of it, the missed notification is replayed."""
    [missed] = await notify(recipients=[alice], title="missed")
    comm, hello = await connected(alice)

    await comm.send_json_to({"type": "resume", "last_id": hello["last_id"] - 1})
    frame = await receive_until(comm, "notification")
    assert frame["notification"]["id"] == missed.pk
    assert (await receive_until(comm, "resumed"))["count"] == 1
    await comm.disconnect()


async def test_resume__bounded_with_more_flag(alice, settings):
    settings.RESUME_MAX_ITEMS = 2
    rows = [(await notify(recipients=[alice], title=str(i)))[0] for i in range(3)]
    comm, _ = await connected(alice)

    await comm.send_json_to({"type": "resume", "last_id": 0})
    first = [await comm.receive_json_from() for _ in range(3)]
    await comm.send_json_to({"type": "resume", "last_id": first[-1]["last_id"]})
    second = [await comm.receive_json_from() for _ in range(2)]

    assert first[-1] == {"type": "resumed", "count": 2, "last_id": rows[1].pk,
                         "more": True}  # fmt: skip
    assert second[0]["notification"]["id"] == rows[2].pk
    assert second[1]["more"] is False
    await comm.disconnect()


async def test_seen__sets_seen_at_once_and_only_on_own_rows(alice, bob):
    mine, other = (await notify(recipients=[alice], title="mine"))[0], None
    [other] = await notify(recipients=[bob], title="bob's")
    comm, _ = await connected(alice)

    await comm.send_json_to({"type": "seen", "ids": [mine.pk, other.pk]})
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}  # seen was handled
    await database_sync_to_async(mine.refresh_from_db)()
    first = mine.seen_at
    await comm.send_json_to({"type": "seen", "ids": [mine.pk]})
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}

    await database_sync_to_async(mine.refresh_from_db)()
    await database_sync_to_async(other.refresh_from_db)()
    assert first is not None
    assert mine.seen_at == first  # the first report counts
    assert mine.read_at is None  # seen is not read
    assert other.seen_at is None
    await comm.disconnect()


async def test_noop_frames__answered_with_no_write(alice):
    """Frames that would change nothing are answered while the write thread is
    held: none of them queued a write there."""
    [n] = await notify(recipients=[alice], title="read and seen")
    await database_sync_to_async(services.notification_mark_read)(
        user_id=alice.pk, notification_id=n.pk
    )
    await database_sync_to_async(services.notifications_mark_seen)(
        user_id=alice.pk, notification_ids=[n.pk]
    )
    for slug in ("deploys", "news"):
        await database_sync_to_async(Topic.objects.create)(slug=slug, name=slug)
    await database_sync_to_async(services.topic_subscribe)(user=alice, slug="deploys")
    comm, hello = await connected(alice)
    assert hello["topics"] == ["deploys"]
    answers = []

    async with held_write_thread():
        for frame in (
            {"type": "subscribe", "topic": "deploys"},  # followed already
            {"type": "unsubscribe", "topic": "news"},  # not followed
            {"type": "read", "id": n.pk},  # read already
            {"type": "read_all"},  # nothing unread
            {"type": "seen", "ids": [n.pk]},  # seen already
        ):
            await comm.send_json_to(frame)
            await comm.send_json_to({"type": "ping"})
            answers.append(await comm.receive_json_from(timeout=3))
            if answers[-1]["type"] != "pong":
                answers.append(await comm.receive_json_from(timeout=3))

    assert answers == [
        {"type": "subscribed", "topic": "deploys"},
        {"type": "pong"},
        {"type": "unsubscribed", "topic": "news"},
        {"type": "pong"},
        *[{"type": "pong"}] * 3,
    ]
    await comm.disconnect()


async def test_ping__pong(alice):
    comm, _ = await connected(alice)

    await comm.send_json_to({"type": "ping"})

    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('"read"', "invalid_json"),
        ("[" * 100 + "]" * 100, "invalid_json"),
        ('{"type": "explode"}', "unknown_type"),
        ('{"no_type": 1}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "read"}', "invalid"),
        ('{"type": "read", "id": "12"}', "invalid"),
        ('{"type": "read", "id": true}', "invalid"),
        ('{"type": "read", "id": 999999999}', "not_found"),
        ('{"type": "resume", "last_id": -1}', "invalid"),
        ('{"type": "resume", "last_id": 1.5}', "invalid"),
        ('{"type": "seen"}', "invalid"),
        ('{"type": "seen", "ids": []}', "invalid"),
        ('{"type": "seen", "ids": ["1"]}', "invalid"),
        ('{"type": "seen", "ids": [true]}', "invalid"),
        ('{"type": "seen", "ids": [0]}', "invalid"),
        ('{"type": "seen", "ids": ' + json.dumps(list(range(1, 102))) + "}", "invalid"),
    ],
)
async def test_bad_frame__error_frame_and_socket_stays_open(alice, text, code):
    comm, _ = await connected(alice)

    error = await send_raw(comm, text)

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


async def test_binary_frame__error_frame(alice):
    comm, _ = await connected(alice)

    await comm.send_to(bytes_data=b"\x00\x01")

    assert (await comm.receive_json_from())["code"] == "invalid_json"
    await comm.disconnect()


async def test_oversized_frame__closes_1009(alice, settings):
    comm, _ = await connected(alice)

    await comm.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 70_000}))

    assert (await comm.receive_output())["code"] == 1009


async def test_rate_limit__error_then_close_4429(alice, settings):
    settings.WS_RATE_LIMIT_PER_MIN = 3
    settings.WS_RATE_LIMIT_CLOSE_AFTER = 2
    comm, _ = await connected(alice)

    for _ in range(3):
        await comm.send_json_to({"type": "ping"})
        assert await comm.receive_json_from() == {"type": "pong"}
    for _ in range(2):
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from())["code"] == "rate_limited"
    await comm.send_json_to({"type": "ping"})

    assert (await comm.receive_output())["code"] == 4429


async def test_order__crossed_pushes_of_two_producers_arrive_in_id_order(alice):
    """Producer A commits id n and is slow to publish (another process, a busy
    worker); producer B commits n+1 and publishes first. The socket must still
    get n before n+1: a client that kept n+1 as its resume point and lost the
    connection at that instant would never get n back."""
    comm, _ = await connected(alice)
    a_committed, b_published = threading.Event(), threading.Event()

    def producer_a():
        with transaction.atomic():
            # Runs after A's commit, before A's own publish (registered later).
            transaction.on_commit(
                lambda: (a_committed.set(), b_published.wait(WAIT_SECS))
            )
            [n] = services.notify(recipients=[alice], title="first")
        return n

    def producer_b():
        [n] = services.notify(recipients=[alice], title="second")
        b_published.set()
        return n

    a = asyncio.ensure_future(sync_to_async(producer_a, thread_sensitive=False)())
    assert await asyncio.to_thread(a_committed.wait, WAIT_SECS)
    second = await notify_b(producer_b)
    first = await a
    assert first.pk < second.pk

    frames = [await receive_until(comm, "notification") for _ in range(2)]
    assert [f["notification"]["id"] for f in frames] == [first.pk, second.pk]
    assert (await receive_until(comm, "unread"))["unread"] == 2
    # A's push, which comes last, brings its count, not its notification again.
    assert await comm.receive_json_from(timeout=3) == {"type": "unread", "unread": 2}
    await nothing_before_marker(comm, groups.user(alice.pk))
    await comm.disconnect()


async def test_order__a_lost_push_is_fetched_before_the_next_one(alice):
    """A push lost on the way (the layer was down when it was published): the
    next notification's push brings it first, from the database."""
    comm, _ = await connected(alice)
    lost = await database_sync_to_async(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title="lost")]  # stored, never pushed
    )
    [after] = await notify(recipients=[alice], title="after")

    frames = [await receive_until(comm, "notification") for _ in range(2)]

    assert [f["notification"]["title"] for f in frames] == ["lost", "after"]
    assert frames[1]["notification"]["id"] == after.pk > lost[0].pk
    await comm.disconnect()


async def test_order__a_plain_orm_create_after_a_lost_push_brings_it_first(alice):
    comm, _ = await connected(alice)
    await database_sync_to_async(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title="lost")]  # stored, never pushed
    )
    await database_sync_to_async(Notification.objects.create)(
        recipient=alice, title="by the ORM"
    )

    frames = [await receive_until(comm, "notification") for _ in range(2)]

    assert [f["notification"]["title"] for f in frames] == ["lost", "by the ORM"]
    await comm.disconnect()


async def in_app_off(user, category: str) -> None:
    await database_sync_to_async(Preference.objects.create)(
        user=user, category_channels={category: {"in_app": False}}
    )


async def test_quiet__in_app_off_for_the_category_marks_the_live_frame(alice):
    await in_app_off(alice, "billing")
    comm, _ = await connected(alice)

    [quiet] = await notify(recipients=[alice], title="q", category="billing")
    [loud] = await notify(recipients=[alice], title="l", category="ci")

    frames = [await receive_until(comm, "notification") for _ in range(2)]
    assert frames[0] == {
        "type": "notification",
        "notification": frames[0]["notification"],
        "quiet": True,
    }
    assert frames[0]["notification"]["id"] == quiet.pk  # stored and delivered
    assert frames[1]["notification"]["id"] == loud.pk
    assert "quiet" not in frames[1]
    await comm.disconnect()


async def test_quiet__resume_marks_the_same_frames(alice):
    await in_app_off(alice, "billing")
    [quiet] = await notify(recipients=[alice], title="q", category="billing")
    [loud] = await notify(recipients=[alice], title="l", category="ci")
    comm, _ = await connected(alice)

    await comm.send_json_to({"type": "resume", "last_id": 0})

    frames = [await comm.receive_json_from() for _ in range(3)]
    assert [(f["notification"]["id"], f.get("quiet")) for f in frames[:2]] == [
        (quiet.pk, True),
        (loud.pk, None),
    ]
    assert frames[2]["type"] == "resumed"
    await comm.disconnect()


async def test_quiet__a_lost_push_fetched_from_the_database_stays_quiet(alice):
    await in_app_off(alice, "billing")
    comm, _ = await connected(alice)
    await database_sync_to_async(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title="lost", category="billing")]
    )
    await notify(recipients=[alice], title="after", category="ci")

    frames = [await receive_until(comm, "notification") for _ in range(2)]

    assert [(f["notification"]["title"], f.get("quiet")) for f in frames] == [
        ("lost", True),
        ("after", None),
    ]
    await comm.disconnect()
