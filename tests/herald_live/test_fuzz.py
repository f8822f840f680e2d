"""Hypothesis against the send form and the JSON endpoints: never a 500, never an unintended recipient."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notifications.models import Notification

from herald_live.models import Event
from web.home.forms import EVERYONE

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
USERNAMES = ["alice", "bob", "Alice", "alice ", "al%ice", EVERYONE]
LEVELS = [level for level, _ in Notification.LEVELS.choices]


@pytest.fixture
def as_bob(client, django_user_model, settings):
    settings.HERALD_SEND_RATE_LIMIT = 0
    django_user_model.objects.create_user("alice")
    client.force_login(django_user_model.objects.create_user("bob"))
    return client


@FUZZ
@given(
    recipient=st.one_of(st.sampled_from(USERNAMES), st.text(max_size=200)),
    message=st.text(max_size=300),
    level=st.one_of(st.sampled_from(LEVELS), st.text(max_size=30)),
    as_json=st.booleans(),
)
def test_the_send_form_never_fails_and_never_misdirects(as_bob, recipient, message, level, as_json):
    before = Event.objects.count()
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}

    response = as_bob.post(
        "/notifications/send/", {"recipient": recipient, "message": message, "level": level}, **headers
    )

    assert response.status_code in (202, 302, 400), response.status_code
    if response.status_code == 400:
        assert Event.objects.count() == before
        return
    event = Event.objects.order_by("-pk").first()
    assert Event.objects.count() == before + 1
    if recipient == EVERYONE:
        assert (event.audience, event.recipient) == ("everyone", None)
    else:
        assert event.audience == "user"
        assert event.recipient.username == recipient, "sent to someone else than the one named"
    assert event.verb == message.strip() and event.verb
    assert event.level in LEVELS


@FUZZ
@given(after=st.text(max_size=40))
def test_the_state_endpoint_answers_any_after(as_bob, after):
    response = as_bob.get("/herald/notifications/state/", {"after": after})

    assert response.status_code in (200, 400)
    assert "error" in response.json() or "notifications" in response.json()


@FUZZ
@given(session=st.text(max_size=100), notification_id=st.integers(min_value=0, max_value=2**63 - 1))
def test_session_and_read_actions_answer_any_input(as_bob, session, notification_id):
    revoke = as_bob.post("/sessions/revoke/", {"session": session}, HTTP_ACCEPT="application/json")
    read = as_bob.post(f"/notifications/{notification_id}/read/", HTTP_ACCEPT="application/json")

    assert revoke.status_code in (400, 404)
    assert read.status_code == 404
