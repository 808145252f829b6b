"""seed_demo: demo users with a published password, in debug only."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def test_seed_demo__refused_outside_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")

    assert not get_user_model().objects.filter(username="admin").exists()


def test_seed_demo__creates_the_demo_users_in_debug(db, settings, capsys):
    settings.DEBUG = True

    call_command("seed_demo")

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password("hub-demo-pass")


def test_gitignore__keeps_env_files_out_of_git():
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text()

    assert ".env" in ignored.splitlines()
