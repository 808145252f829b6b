"""``manage.py hub_vapid_keys``: a usable pair, and --file that never overwrites."""

import io
import re

from django.core.management import call_command

from delivery import webpush


def test_hub_vapid_keys__prints_an_env_line_whose_key_matches_the_public_key():
    out = io.StringIO()

    call_command("hub_vapid_keys", stdout=out)

    public = re.search(r"public key .*: (\S+)", out.getvalue()).group(1)
    escaped = re.search(r'WEBPUSH_VAPID_PRIVATE_KEY="(.+)"', out.getvalue()).group(1)
    pem = escaped.replace("\\n", "\n")
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert webpush.public_key_of(pem) == public


def test_hub_vapid_keys__file_is_made_once_and_kept(tmp_path):
    path = tmp_path / "var" / "vapid.pem"

    call_command("hub_vapid_keys", file=str(path))
    first = path.read_text()
    call_command("hub_vapid_keys", file=str(path))

    assert path.read_text() == first
    assert path.stat().st_mode & 0o077 == 0  # the owner's only
    assert webpush.public_key_of(first)
