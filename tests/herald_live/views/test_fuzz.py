"""Hypothesis against the send form and the JSON endpoints: never a 500, never an unintended recipient."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notifications.models import Notification

from herald_live.actions import service_tokens
from herald_live.models import Event

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
USERNAMES = ["alice", "bob", "Alice", "alice ", "al%ice", "", "__everyone__"]
LEVELS = [level for level, _ in Notification.LEVELS.choices]
# How a posted checkbox may look; what counts as ticked is the form's business, the test only
# checks that the view and the form agree on it.
EVERYONE_VALUES = [None, "", "1", "on", "true", "false", "0", "x"]
# Any text a JSON body can carry: hypothesis leaves lone surrogates out of text by default, and
# NUL is rare in it; both are what PostgreSQL and the encoders refuse, so draw them often.
TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d"])), max_size=300
)


def unstorable(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


@pytest.fixture(params=[False, True], ids=["plain", "may-send-to-everyone"])
def as_bob(request, client, django_user_model, settings):
    settings.HERALD_SEND_RATE_LIMIT = 0
    django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    if request.param:
        bob.user_permissions.add(Permission.objects.get(codename="send_to_everyone"))
    client.force_login(bob)
    client.may_send_to_everyone = request.param
    return client


@FUZZ
@given(
    recipient=st.one_of(st.sampled_from(USERNAMES), st.text(max_size=200)),
    everyone=st.sampled_from(EVERYONE_VALUES),
    message=st.text(max_size=300),
    level=st.one_of(st.sampled_from(LEVELS), st.text(max_size=30)),
    as_json=st.booleans(),
)
def test_the_send_form_never_fails_and_never_misdirects(as_bob, recipient, everyone, message, level, as_json):
    before = Event.objects.count()
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    data = {"recipient": recipient, "message": message, "level": level}
    if everyone is not None:
        data["everyone"] = everyone

    response = as_bob.post("/notifications/send/", data, **headers)

    assert response.status_code in (202, 302, 400, 403), response.status_code
    if response.status_code in (400, 403):
        assert Event.objects.count() == before
        if response.status_code == 403:
            assert not as_bob.may_send_to_everyone, "only those without the permission are refused"
        return
    event = Event.objects.order_by("-pk").first()
    assert Event.objects.count() == before + 1
    if event.audience == "everyone":
        assert as_bob.may_send_to_everyone and everyone not in (None, "", "false") and recipient == ""
        assert event.recipient is None
    else:
        assert event.audience == "user"
        assert event.recipient.username == recipient, "sent to someone else than the one named"
    assert event.verb == message.strip() and event.verb
    assert event.level in LEVELS


@FUZZ
@given(after=st.text(max_size=40))
def test_the_state_endpoint_answers_any_after(as_bob, after):
    response = as_bob.get("/herald/notifications/state/", {"after": after}, HTTP_ACCEPT="application/json")

    assert response.status_code in (200, 400)
    assert "error" in response.json() or "notifications" in response.json()


@FUZZ
@given(prefix=st.text(max_size=200))
def test_the_user_suggestions_answer_any_prefix(as_bob, prefix):
    response = as_bob.get("/users/suggest/", {"q": prefix})

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        usernames = response.json()["usernames"]
        assert len(usernames) <= 10
        assert all(name.lower().startswith(prefix.lower()) for name in usernames)
    else:
        assert (not 1 <= len(prefix) <= 150 or "\x00" in prefix) and "q must" in response.json()["error"]


@FUZZ
@given(session=st.text(max_size=100), notification_id=st.integers(min_value=0, max_value=2**63 - 1))
def test_session_and_read_actions_answer_any_input(as_bob, session, notification_id):
    revoke = as_bob.post("/sessions/revoke/", {"session": session}, HTTP_ACCEPT="application/json")
    read = as_bob.post(f"/herald/notifications/{notification_id}/read/", HTTP_ACCEPT="application/json")

    assert revoke.status_code in (400, 404)
    assert read.status_code == 404


@pytest.fixture
def service(client, django_user_model, settings):
    settings.HERALD_API_RATE_LIMIT = 0
    client.recipient = django_user_model.objects.create_user("carol")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_tokens.create(name='fuzz')}"
    return client


@FUZZ
@given(verb=TEXT, key=TEXT, value=st.one_of(TEXT, st.lists(TEXT, max_size=3)))
def test_the_api_answers_any_text_with_202_or_a_clear_400(service, verb, key, value):
    before = Event.objects.count()
    body = {"recipients": [service.recipient.pk], "verb": verb, "data": {key: value}}

    response = service.post("/herald/api/v1/events", json.dumps(body), content_type="application/json")

    texts = [verb, key, *(value if isinstance(value, list) else [value])]
    if any(unstorable(text) for text in texts) or not verb.strip() or len(verb.strip()) > 255:
        assert response.status_code == 400, response.content
        assert response.json()["errors"]["event"] and Event.objects.count() == before
    else:
        assert response.status_code == 202, response.content
        assert Event.objects.get(pk=response.json()["event_id"]).verb == verb.strip()
