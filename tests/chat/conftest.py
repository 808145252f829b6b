"""Chat fixtures: a clean presence store, sockets that have joined a room, and
private rooms whose invitees have accepted."""

import pytest
import redis
from django.conf import settings

from chat import services
from chat.models import Invitation, Room
from tests.conftest import communicator, receive_until


@pytest.fixture(autouse=True)
def clean_presence():
    """Rooms reuse names across tests; start each with nobody present."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    pattern = f"{settings.CHANNEL_LAYER_PREFIX}:chat:presence:*"
    keys = list(client.scan_iter(pattern))
    if keys:
        client.delete(*keys)
    yield
    client.close()


async def join(room: str, user, *, headers=()):
    """Connect ``user`` to a room; return (socket, history frame, presence frame)."""
    comm = communicator(f"/ws/chat/{room}/", user, headers=headers)
    ok, _ = await comm.connect()
    assert ok
    history = await comm.receive_json_from(timeout=3)
    assert history["type"] == "history", history
    presence = await receive_until(comm, "presence")
    return comm, history, presence


async def refused(room: str, user) -> dict:
    """Connect and return the close message (accepted first, then closed)."""
    comm = communicator(f"/ws/chat/{room}/", user)
    ok, _ = await comm.connect()
    assert ok
    return await comm.receive_output(timeout=3)


async def frames_until_quiet(comm, quiet_secs: float = 0.3) -> list[dict]:
    """Every frame that arrives until none comes for ``quiet_secs``."""
    frames = []
    while not await comm.receive_nothing(timeout=quiet_secs):
        frames.append(await comm.receive_json_from())
    return frames


async def until_pong(comm) -> list[dict]:
    """Send a ping; return the frames that came before the pong. Frames are
    handled in order, so everything the frames sent before caused has happened."""
    await comm.send_json_to({"type": "ping"})
    frames = []
    while (frame := await comm.receive_json_from(timeout=3))["type"] != "pong":
        frames.append(frame)
    return frames


def without_presence(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["type"] != "presence"]


async def presence_with(comm, users: list[str], timeout: float = 5.0) -> dict:
    """Receive until a presence frame listing exactly ``users`` arrives."""
    while True:
        frame = await receive_until(comm, "presence", timeout=timeout)
        if frame["users"] == users:
            return frame


def private_room_of(slug: str, creator, *members) -> Room:
    """A private room of ``creator`` that ``members`` were invited to and joined."""
    room = services.room_create(
        creator=creator, slug=slug, private=True, invitee_ids=[m.pk for m in members]
    )
    for invitation in Invitation.objects.filter(room=room).select_related("invitee"):
        services.invitation_accept(invitation_id=invitation.pk, user=invitation.invitee)
    return room
