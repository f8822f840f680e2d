"""The HTTP API against its OpenAPI description (docs/openapi.json), through Django's full stack."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from notifications.models import Notification

from herald_live import tokens
from herald_live.models import Event, ServiceToken

pytestmark = pytest.mark.django_db
SPEC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


def schema(name: str) -> dict:
    return {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}


def conforms(response, name: str) -> dict:
    body = response.json()
    resolver_schema = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    jsonschema.validate(body, resolver_schema)
    return body


@pytest.fixture
def token():
    return tokens.create(name="billing")


@pytest.fixture
def api(client, token, settings):
    settings.HERALD_API_RATE_LIMIT = 0

    def call(method: str, path: str, body=None, *, auth: str | None = None, **headers):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {auth or token}", **headers}
        if method == "get":
            return client.get(path, **extra)
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(client, method)(path, data=data, content_type="application/json", **extra)

    return call


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"u{i}") for i in range(3)]


def test_the_spec_is_a_valid_openapi_document_shape():
    assert SPEC["openapi"].startswith("3.1")
    for name in SPEC["components"]["schemas"]:
        jsonschema.Draft202012Validator.check_schema(schema(name))


def test_a_send_to_listed_users_is_accepted_and_followable(api, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api("post", "/herald/api/v1/events", {"recipients": [u.pk for u in users], "verb": "Invoice ready"})

    assert response.status_code == 202
    accepted = conforms(response, "Accepted")
    event = Event.objects.get(pk=accepted["event_id"])
    assert (event.audience, event.recipient_ids, event.actor) == ("users", [u.pk for u in users], None)
    assert len(callbacks) == 1 and not Notification.objects.exists()
    status = api("get", accepted["status_url"])
    assert status.status_code == 200
    assert conforms(status, "EventStatus")["status"] == "queued"


def test_the_same_idempotency_key_gives_the_same_event(api, users):
    body = {"recipients": "everyone", "verb": "Maintenance tonight", "level": "warning"}

    first = api("post", "/herald/api/v1/events", body, HTTP_IDEMPOTENCY_KEY="maint-1")
    again = api("post", "/herald/api/v1/events", body, HTTP_IDEMPOTENCY_KEY="maint-1")
    other = api("post", "/herald/api/v1/events", body, HTTP_IDEMPOTENCY_KEY="maint-2")

    assert first.status_code == again.status_code == other.status_code == 202
    assert conforms(first, "Accepted")["event_id"] == again.json()["event_id"] != other.json()["event_id"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Event.objects.count() == 2


def test_keys_are_per_token(api, users):
    body = {"recipients": "everyone", "verb": "x"}
    other_token = tokens.create(name="other-service")

    mine = api("post", "/herald/api/v1/events", body, HTTP_IDEMPOTENCY_KEY="k")
    theirs = api("post", "/herald/api/v1/events", body, auth=other_token, HTTP_IDEMPOTENCY_KEY="k")

    assert mine.json()["event_id"] != theirs.json()["event_id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"verb": "x"}, 400),
        ({"recipients": [], "verb": "x"}, 400),
        ({"recipients": [1, "2"], "verb": "x"}, 400),
        ({"recipients": [True], "verb": "x"}, 400),
        ({"recipients": "someone", "verb": "x"}, 400),
        ({"recipients": "everyone", "verb": ""}, 400),
        ({"recipients": "everyone", "verb": "x" * 256}, 400),
        ({"recipients": "everyone", "verb": "x", "level": "loud"}, 400),
        ({"recipients": "everyone", "verb": "x", "data": [1]}, 400),
        ({"recipients": "everyone", "verb": "x", "data": {"blob": "x" * 20_000}}, 400),
        ({"recipients": list(range(1, 10_002)), "verb": "x"}, 413),
    ],
)
def test_bad_events_get_a_clear_error_and_record_nothing(api, users, body, status):
    response = api("post", "/herald/api/v1/events", body)

    assert response.status_code == status
    assert conforms(response, "Error")["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("auth", ["", "Bearer nope", "Bearer hrld_wrong", "Basic dXNlcjpwdw=="])
def test_requests_without_a_valid_token_get_401(client, auth):
    response = client.post("/herald/api/v1/events", data="{}", content_type="application/json", HTTP_AUTHORIZATION=auth)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Event.objects.exists()


def test_a_revoked_token_is_refused_at_once(api, token, users):
    call_command("revoke_service_token", "billing")

    response = api("post", "/herald/api/v1/events", {"recipients": "everyone", "verb": "x"})

    assert response.status_code == 401


def test_tokens_are_stored_hashed_and_shown_once(capsys):
    call_command("create_service_token", "reports")

    shown = capsys.readouterr().out.strip()
    stored = ServiceToken.objects.get(name="reports")
    assert shown.startswith("hrld_") and shown not in stored.token_hash
    assert tokens.authenticate(token=shown) == stored


def test_the_api_is_rate_limited_per_token(api, users, settings):
    settings.HERALD_API_RATE_LIMIT = 1
    settings.HERALD_SEND_RATE_WINDOW_SECONDS = 3600

    first = api("post", "/herald/api/v1/events", {"recipients": "everyone", "verb": "1"})
    second = api("post", "/herald/api/v1/events", {"recipients": "everyone", "verb": "2"})

    assert (first.status_code, second.status_code) == (202, 429)
    assert conforms(second, "Error") and int(second["Retry-After"]) > 0


def test_wrong_methods_and_unknown_events(api):
    assert api("get", "/herald/api/v1/events").status_code == 405
    missing = api("get", "/herald/api/v1/events/999999")
    assert missing.status_code == 404 and conforms(missing, "Error")
