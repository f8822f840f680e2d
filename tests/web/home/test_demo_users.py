"""make run's demo users: alice may send to everyone, bob and carol may not."""

from __future__ import annotations

import json
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from herald_live.permissions import can_send_to_everyone

pytestmark = pytest.mark.django_db


def test_demo_users_are_made_once_and_only_alice_may_send_to_everyone(tmp_path, capsys):
    credentials = tmp_path / "demo-users.json"

    call_command("create_demo_users", "--credentials", str(credentials))
    first = json.loads(credentials.read_text())
    call_command("create_demo_users", "--credentials", str(credentials))

    users = {u.username: u for u in get_user_model().objects.all()}
    assert {name: can_send_to_everyone(user) for name, user in users.items()} == {
        "alice": True,
        "bob": False,
        "carol": False,
    }
    assert json.loads(credentials.read_text()) == first, "the second run keeps the passwords"
    assert all(users[name].check_password(password) for name, password in first.items())
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "may send to everyone" in capsys.readouterr().out
