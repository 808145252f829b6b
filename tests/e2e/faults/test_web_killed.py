"""The web process killed with SIGKILL and started again on the same port.

Its sockets drop without a close frame; notifications keep being stored by the
worker meanwhile. Each client reconnects and resumes from the last id it saw:
every notification reaches every socket exactly once, none lost, none twice.
"""

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import ConnectionClosed

from notifications.models import Notification
from notifications.tasks import notify_users
from tests.support.sockets import Socket, assert_once_each
from tests.support.stack import api, kill_group, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WHILE_DOWN = 5


def ids_of(user) -> set[int]:
    return set(Notification.objects.filter(recipient=user).values_list("pk", flat=True))


async def test_web_killed__clients_reconnect_and_resume_zero_loss_zero_duplicates(
    hub_factory, alice, bob, staff
):
    hub = hub_factory()
    users = [alice, bob]
    sockets = [Socket(hub.ws_url, u) for u in (alice, alice, bob)]
    for s in sockets:
        await s.open()
    before = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users], "title": "before"},
    )
    assert before.status_code == 201
    for s in sockets:
        await s.until_title("before")

    await sync_to_async(kill_group)(hub, "web")
    for s in sockets:  # what a client notices: the connection is gone
        with pytest.raises((ConnectionClosed, OSError)):
            while True:  # frames already buffered (the unread count), then the end
                await s.frame()
    for i in range(WHILE_DOWN):  # the worker keeps storing while web is down
        await sync_to_async(notify_users.delay)(
            recipient_ids=[u.pk for u in users],
            title=f"while down {i}",
            idempotency_key=f"faults:web-down:{i}",
        )
    stored = Notification.objects.filter(title__startswith="while down").count
    await sync_to_async(wait_for)(
        lambda: stored() == WHILE_DOWN * len(users), "the worker to store them"
    )

    await sync_to_async(hub.start)("web")
    await sync_to_async(hub.wait_web)()
    for s in sockets:
        await s.open()
        assert await s.resume() == WHILE_DOWN
    after = await sync_to_async(api)(
        hub.base_url,
        staff,
        "POST",
        "/api/notifications/",
        {"recipients": [u.pk for u in users], "title": "after"},
    )
    assert after.status_code == 201
    for s in sockets:
        await s.until_title("after")
        assert_once_each(s, await sync_to_async(ids_of)(s.user))
        assert len(s.titles) == WHILE_DOWN + 2
        await s.close()
