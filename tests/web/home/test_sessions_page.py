"""The sessions page: when each session started and was last active, and which one is this one."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from user_sessions.models import Session

from web.home.sessions import STARTED_AT

pytestmark = pytest.mark.django_db


def rows(page: str) -> list[str]:
    return re.findall(r"<tr data-current=.*?</tr>", page, flags=re.S)


def started_of(row: str) -> str | None:
    cell = re.search(r'<td class="started">(.*?)</td>', row, flags=re.S).group(1)
    found = re.search(r'<time datetime="([^"]+)"', cell)
    return found.group(1) if found else None


def test_a_login_records_when_its_session_started(client, alice):
    before = timezone.now()
    assert client.login(username="alice", password="pw-alice-123")

    stored = Session.objects.get(user=alice).get_decoded()[STARTED_AT]
    assert before <= datetime.fromisoformat(stored) <= timezone.now()


def test_each_session_shows_its_start_and_last_activity_and_this_one_is_marked(client, alice):
    assert client.login(username="alice", password="pw-alice-123")
    # An older session from another device, started before the site recorded starts.
    Session.objects.create(
        session_key="o" * 32,
        session_data="",
        user=alice,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
        ip="198.51.100.4",
        expire_date=timezone.now() + timedelta(days=1),
    )

    page = client.get("/sessions/").content.decode()

    current = [row for row in rows(page) if 'data-current="true"' in row]
    others = [row for row in rows(page) if 'data-current="false"' in row]
    assert len(current) == 1 and len(others) == 1
    assert 'aria-current="true"' in current[0] and "this session" in current[0]
    assert page.count("this session") == 1
    assert (
        started_of(current[0]) == Session.objects.get(session_key=client.session.session_key).get_decoded()[STARTED_AT]
    )
    assert started_of(others[0]) is None and "unknown" in others[0]
    for row in current + others:
        assert re.search(r'<td class="last-activity"><time datetime="[^"]+"', row)
    assert "Log out</button>" in others[0] and "Log out</button>" not in current[0]


def test_identical_browsers_on_one_address_are_told_apart_by_their_start_and_this_one_is_marked(client, alice):
    """Many rows of "Chrome on Linux" at 127.0.0.1: each says when it started and was last active."""
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    for _ in range(3):
        other = client.__class__(HTTP_USER_AGENT=agent, REMOTE_ADDR="127.0.0.1")
        assert other.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"}).status_code == 302
    client.defaults.update(HTTP_USER_AGENT=agent, REMOTE_ADDR="127.0.0.1")
    assert client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"}).status_code == 302

    page = client.get("/sessions/").content.decode()

    found = rows(page)
    assert len(found) == 4
    for row in found:
        assert "Chrome" in row and "Linux" in row and "127.0.0.1" in row  # alike in everything else
    starts = [started_of(row) for row in found]
    assert None not in starts and len(set(starts)) == 4
    activities = [re.search(r'<td class="last-activity"><time datetime="([^"]+)"', row).group(1) for row in found]
    assert len(activities) == 4
    current = [row for row in found if 'data-current="true"' in row]
    assert len(current) == 1 and "this session" in current[0]
    assert started_of(current[0]) == max(starts)  # the newest login is this one
