"""bench/eio.js: the Socket.IO frames the load client answers and reads."""

import json
import shutil
import subprocess

import pytest
from django.conf import settings

EIO_JS = settings.BASE_DIR / "bench" / "eio.js"

pytestmark = pytest.mark.skipif(not shutil.which("node"), reason="needs node")


def decode(*texts: str) -> list[dict]:
    """bench/eio.js's decode() of each text, run by node."""
    script = (
        f"const {{ decode }} = require({json.dumps(str(EIO_JS))});"
        "const texts = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(texts.map(decode)));"
    )
    out = subprocess.run(
        ["node", "-e", script, json.dumps(texts)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def test_decode__open_is_answered_by_a_namespace_connect():
    (packet,) = decode('0{"sid":"abc","upgrades":[],"pingInterval":25000}')

    assert packet["reply"] == "40"
    assert not packet["connected"]


def test_decode__ping_is_answered_by_pong():
    (packet,) = decode("2")

    assert packet["reply"] == "3"


def test_decode__namespace_connect_is_the_hello():
    (packet,) = decode('40{"sid":"xyz"}')

    assert packet == {"reply": None, "connected": True, "event": None, "error": None}


@pytest.mark.parametrize("ack", ["", "12"])
def test_decode__event_gives_its_name_and_first_argument(ack):
    frame = {"type": "event", "event": {"seq": 7}}
    (packet,) = decode(f"42{ack}" + json.dumps(["event", frame]))

    assert packet["event"] == {"name": "event", "data": frame}
    assert packet["reply"] is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '44{"message":"Not authorized"}',
            'connect_error {"message":"Not authorized"}',
        ),
        ("41", "disconnected by the server"),
        ("1", "engine.io close"),
    ],
)
def test_decode__refusal_and_close_end_the_socket(text, error):
    (packet,) = decode(text)

    assert packet["error"] == error
    assert not packet["connected"]
