"""The HTTP API against its OpenAPI description (docs/openapi.json), through Django's full stack."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import resolve, reverse
from notifications.models import Notification

from herald_live import tokens
from herald_live.models import Event, ServiceToken

pytestmark = pytest.mark.django_db
SPEC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


def schema(name: str) -> dict:
    return {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}


def documented(response, path: str, method: str) -> dict | None:
    """Its status is one the spec lists for this operation, and its JSON body has the documented shape."""
    responses = SPEC["paths"][path][method]["responses"]
    answer = responses.get(str(response.status_code))
    assert answer is not None, f"{method.upper()} {path} answered {response.status_code}, which the spec does not list"
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    content = answer.get("content", {}).get("application/json")
    if content is None:
        return None
    body = response.json()
    jsonschema.validate(body, {**content["schema"], "components": SPEC["components"]})
    return body


def conforms(response, name: str) -> dict:
    body = response.json()
    resolver_schema = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    jsonschema.validate(body, resolver_schema)
    return body


@pytest.fixture
def token():
    # Most tests send to everyone: this token may (see the --everyone tests for one that may not).
    return tokens.create(name="billing", can_send_to_everyone=True)


@pytest.fixture
def plain_token():
    return tokens.create(name="no-everyone")


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
    other_token = tokens.create(name="other-service", can_send_to_everyone=True)

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


def test_a_token_without_the_everyone_permission_gets_a_clear_403(api, plain_token, users):
    response = api("post", "/herald/api/v1/events", {"recipients": "everyone", "verb": "x"}, auth=plain_token)

    assert response.status_code == 403
    body = documented(response, "/api/v1/events", "post")
    assert "send_to_everyone" in body["error"] and "--everyone" in body["error"]
    assert not Event.objects.exists()
    listed = api("post", "/herald/api/v1/events", {"recipients": [users[0].pk], "verb": "x"}, auth=plain_token)
    assert listed.status_code == 202, "the same token may still send to listed users"


def test_a_refused_everyone_spends_no_rate_limit_and_no_idempotency_key(api, plain_token, users, settings):
    settings.HERALD_API_RATE_LIMIT = 1
    settings.HERALD_SEND_RATE_WINDOW_SECONDS = 3600
    everyone = {"recipients": "everyone", "verb": "x"}

    refused = [api("post", "/herald/api/v1/events", everyone, auth=plain_token, HTTP_IDEMPOTENCY_KEY="k") for _ in "ab"]
    listed = api("post", "/herald/api/v1/events", {"recipients": [users[0].pk], "verb": "x"}, auth=plain_token)

    assert [r.status_code for r in refused] == [403, 403]
    assert listed.status_code == 202
    assert Event.objects.get().audience == "users"


def test_tokens_send_to_everyone_only_when_created_with_everyone(api, users, capsys):
    call_command("create_service_token", "ops", "--everyone")
    ops = capsys.readouterr().out.strip()
    call_command("create_service_token", "billing-2")
    plain = capsys.readouterr().out.strip()

    stored = {
        token.name: token.can_send_to_everyone for token in ServiceToken.objects.filter(name__in=["ops", "billing-2"])
    }
    assert stored == {"ops": True, "billing-2": False}
    body = {"recipients": "everyone", "verb": "x"}
    assert api("post", "/herald/api/v1/events", body, auth=ops).status_code == 202
    assert api("post", "/herald/api/v1/events", body, auth=plain).status_code == 403


def test_every_documented_path_is_a_herald_url_under_the_default_prefix():
    prefix = SPEC["servers"][0]["variables"]["prefix"]["default"]

    for path in SPEC["paths"]:
        match = resolve(f"/{prefix}" + path.replace("{event_id}", "1").replace("{notification_id}", "1"))
        assert match.namespace == "herald", path
    assert reverse("herald:api_events") == f"/{prefix}/api/v1/events"


@pytest.fixture
def widget(client, users):
    """users[0], logged in, with notifications: one about a target, one about nothing, one of someone else."""
    me, other = users[0], users[1]
    client.force_login(me)
    Notification.objects.create(recipient=me, actor=other, verb="joined", target=Group.objects.create(name="ops"))
    Notification.objects.create(recipient=me, actor=other, verb="waved", level="success", description="hello")
    Notification.objects.create(recipient=other, actor=me, verb="not mine")

    def call(method: str, path: str, data=None, *, json_answer: bool = True):
        headers = {"HTTP_ACCEPT": "application/json"} if json_answer else {}
        return getattr(client, method)("/herald" + path, data or {}, **headers)

    call.user = me
    return call


def test_the_notification_list_answers_as_documented(widget):
    first = widget("get", "/notifications/", {"filter": "all", "limit": 1})
    rest = widget("get", "/notifications/", {"filter": "all", "before": first.json()["notifications"][0]["id"]})
    bad = widget("get", "/notifications/", {"filter": "some"})

    page = documented(first, "/notifications/", "get")
    assert (len(page["notifications"]), page["has_more"], page["unread_count"]) == (1, True, 2)
    assert page["notifications"][0]["verb"] == "waved" and page["notifications"][0]["target"] is None
    older = documented(rest, "/notifications/", "get")
    assert [n["verb"] for n in older["notifications"]] == ["joined"] and not older["has_more"]
    group = Group.objects.get(name="ops")
    # A URL when the target has one (tests/settings.py gives groups one), else null: both are documented.
    assert older["notifications"][0]["target"] == {
        "text": "ops",
        "url": getattr(group, "get_absolute_url", lambda: None)(),
    }
    assert "filter" in documented(bad, "/notifications/", "get")["error"]


def test_the_state_and_its_catch_up_answer_as_documented(widget):
    state = documented(widget("get", "/notifications/state/"), "/notifications/state/", "get")
    first_id = state["notifications"][-1]["id"]
    catch_up = documented(widget("get", "/notifications/state/", {"after": first_id}), "/notifications/state/", "get")
    bad = widget("get", "/notifications/state/", {"after": "x"})

    assert "last_id" in state and "last_id" not in catch_up, "each matches exactly one of UnreadState, CatchUp"
    assert [n["verb"] for n in catch_up["notifications"]] == ["waved"]
    assert "after" in documented(bad, "/notifications/state/", "get")["error"]


def test_the_widget_actions_answer_as_documented(widget):
    newest = Notification.objects.filter(recipient=widget.user).order_by("-id").first()
    foreign = Notification.objects.exclude(recipient=widget.user).get()
    read_path, unread_path = "/notifications/{notification_id}/read/", "/notifications/{notification_id}/unread/"

    read = documented(widget("post", f"/notifications/{newest.id}/read/"), read_path, "post")
    unread = documented(widget("post", f"/notifications/{newest.id}/unread/"), unread_path, "post")
    missing = widget("post", f"/notifications/{foreign.id}/read/")
    all_read = documented(widget("post", "/notifications/read-all/"), "/notifications/read-all/", "post")
    plain = widget("post", "/notifications/read-all/", {"next": "/sessions/"}, json_answer=False)
    wrong_method = widget("get", "/notifications/read-all/")

    assert read == {"id": newest.id, "unread": False}
    assert (unread["id"], unread["unread"], unread["verb"]) == (newest.id, True, "waved")
    assert missing.status_code == 404 and documented(missing, read_path, "post")["error"]
    assert all_read == {"up_to_id": newest.id}
    assert documented(plain, "/notifications/read-all/", "post") is None and plain["Location"] == "/sessions/"
    assert documented(wrong_method, "/notifications/read-all/", "post")["error"]
    assert not Notification.objects.filter(recipient=widget.user, unread=True).exists()
    assert Notification.objects.get(pk=foreign.pk).unread, "another user's notification is never touched"


def test_the_socket_token_and_the_catalog_answer_as_documented(widget):
    token = documented(widget("get", "/socket-token/"), "/socket-token/", "get")
    catalog = widget("get", "/jsi18n/", json_answer=False)

    assert token["token"] and token["expires_in"] > 0
    assert catalog.status_code == 200 and catalog["Content-Type"].startswith("text/javascript")


@pytest.mark.parametrize(
    ("method", "path", "documented_path"),
    [
        ("get", "/notifications/", "/notifications/"),
        ("get", "/notifications/state/", "/notifications/state/"),
        ("post", "/notifications/read-all/", "/notifications/read-all/"),
        ("post", "/notifications/1/unread/", "/notifications/{notification_id}/unread/"),
        ("get", "/socket-token/", "/socket-token/"),
    ],
)
def test_the_widget_api_refuses_anonymous_callers_as_documented(client, method, path, documented_path):
    response = getattr(client, method)("/herald" + path, HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert documented(response, documented_path, method) == {"error": "Log in first."}
