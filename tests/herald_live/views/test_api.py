"""The HTTP API against its OpenAPI description (docs/openapi.json), through Django's full stack."""

from __future__ import annotations

import importlib
import json
import re

import jsonschema
import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import resolve, reverse
from notifications.models import Notification

from herald_live.actions import sending, service_tokens
from herald_live.models import Event, ServiceToken
from herald_live.selectors import service_tokens as token_lookup
from herald_live.views import api as herald_api
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db
SPEC = json.loads((ROOT / "docs" / "openapi.json").read_text())


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
    return service_tokens.create(name="billing", can_send_to_everyone=True)


@pytest.fixture
def plain_token():
    return service_tokens.create(name="no-everyone")


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
    other_token = service_tokens.create(name="other-service", can_send_to_everyone=True)

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
        # Beyond any bigint: no user has it (SQLite could not even look it up).
        ({"recipients": [2**63], "verb": "x"}, 400),
        # NaN is no JSON, and PostgreSQL's jsonb refuses it (it answered 503 there).
        ('{"recipients": "everyone", "verb": "x", "data": {"a": NaN}}', 400),
        # Nested past the parser's depth (it answered 500).
        ("[" * 50_000, 400),
    ],
)
def test_bad_events_get_a_clear_error_and_record_nothing(api, users, body, status):
    response = api("post", "/herald/api/v1/events", body)

    assert response.status_code == status
    assert conforms(response, "Error")["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "event",
    [
        {"verb": "a\x00b"},
        {"verb": "a\ud800b"},
        {"verb": "x", "data": {"k\x00": 1}},
        {"verb": "x", "data": {"k": "v\x00"}},
        {"verb": "x", "data": {"k\udfff": 1}},
        {"verb": "x", "data": {"k": ["ok", {"deep": "\ud83d"}]}},
    ],
    ids=["nul-verb", "surrogate-verb", "nul-data-key", "nul-data-value", "surrogate-data-key", "surrogate-nested"],
)
def test_nul_and_lone_surrogates_get_a_400_on_every_database_and_record_nothing(api, users, event):
    # json.dumps writes them as the escapes \u0000 and \ud800 that a client's JSON carries.
    body = json.dumps({"recipients": [users[0].pk], **event})

    response = api("post", "/herald/api/v1/events", body)

    # Before: 202 on SQLite, and on PostgreSQL a 503 with Retry-After (NUL), or a 500 (a surrogate).
    assert response.status_code == 400
    assert "Retry-After" not in response
    assert documented(response, "/api/v1/events", "post")["errors"]["event"].split()[0] in ("verb", "data")
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"recipients": "everyone", "verb": "x", "data": {"pad": "x" * 1_000_000}},
        {"recipients": "everyone", "verb": "x", "data": {"pad": "x" * 10_000_000}},
        {"recipients": list(range(1, 100_001)), "verb": "x"},
    ],
    ids=["1MB", "10MB", "100k-ids"],
)
def test_a_body_over_the_limit_gets_the_documented_json_413(api, users, body):
    response = api("post", "/herald/api/v1/events", body)

    # Before: Django's HTML "Bad Request (400)".
    assert response.status_code == 413
    assert "at most" in documented(response, "/api/v1/events", "post")["error"]
    assert not Event.objects.exists()


def test_the_documented_maximum_of_recipient_ids_fits_the_body_limit(api, django_user_model):
    ids = list(range(10_000_000, 10_000_000 + herald_api.MAX_RECIPIENT_IDS))  # 8 digits each
    django_user_model.objects.bulk_create(django_user_model(pk=pk, username=f"bulk{pk}") for pk in ids)

    response = api("post", "/herald/api/v1/events", {"recipients": ids, "verb": "x"})

    # Before: about 100 KB, past the site's 64 KiB, so Django's HTML 400.
    assert response.status_code == 202, response.content[:300]
    assert Event.objects.get().recipient_ids == ids
    # And the largest valid event of all, pretty-printed: ids of 19 digits, a verb of astral
    # characters (escaped as surrogate pairs), data at its limit.
    largest = {
        "recipients": [2**63 - 1] * herald_api.MAX_RECIPIENT_IDS,
        "verb": "\U0001f600" * 255,
        "level": "warning",
        "data": {"pad": "x" * (16 * 1024 - 20)},
    }
    assert len(json.dumps(largest, indent=1).encode()) <= herald_api.MAX_BODY_BYTES


def test_reusing_a_key_with_another_body_gets_422_and_the_same_body_replays(api, users):
    first = {"recipients": [users[0].pk, users[1].pk], "verb": "Invoice 1 ready", "data": {"n": 1, "m": [1, 2]}}
    key = {"HTTP_IDEMPOTENCY_KEY": "invoice-1"}
    accepted = api("post", "/herald/api/v1/events", first, **key)

    other_verb = api("post", "/herald/api/v1/events", {**first, "verb": "Invoice 2 ready"}, **key)
    other_recipients = api("post", "/herald/api/v1/events", {**first, "recipients": [users[2].pk]}, **key)
    other_level = api("post", "/herald/api/v1/events", {**first, "level": "error"}, **key)
    # The same body, its keys in another order and spaced otherwise: the same request.
    same = api("post", "/herald/api/v1/events", json.dumps(dict(reversed(first.items())), indent=2), **key)

    assert accepted.status_code == 202
    for conflict in (other_verb, other_recipients, other_level):
        # Before: 202 with the earlier event, the new body dropped in silence.
        assert conflict.status_code == 422
        assert "Idempotency-Key" in documented(conflict, "/api/v1/events", "post")["error"]
    assert same.status_code == 202 and same["Idempotent-Replayed"] == "true"
    assert same.json()["event_id"] == accepted.json()["event_id"]
    assert list(Event.objects.values_list("verb", flat=True)) == ["Invoice 1 ready"]


def test_unknown_or_inactive_recipient_ids_are_refused_and_listed(api, users):
    users[2].is_active = False
    users[2].save()

    response = api("post", "/herald/api/v1/events", {"recipients": [users[0].pk, 999_999, users[2].pk], "verb": "x"})

    # Before: 202, and an event done with nobody (or fewer) notified.
    assert response.status_code == 400
    body = documented(response, "/api/v1/events", "post")
    assert body["unknown_recipient_ids"] == [999_999, users[2].pk]
    assert "999999" in body["error"]
    assert not Event.objects.exists()


def test_a_token_reads_only_the_events_it_sent(api, token, users):
    other = service_tokens.create(name="other-service")
    mine = api("post", "/herald/api/v1/events", {"recipients": [users[0].pk], "verb": "x"}).json()
    from_the_form = sending.send_notification(actor=users[1], recipient=users[0], verb="hi", level="info")

    own = api("get", mine["status_url"])
    theirs = api("get", mine["status_url"], auth=other)
    form = api("get", reverse("herald:api_event", args=[from_the_form.pk]))
    missing = api("get", reverse("herald:api_event", args=[from_the_form.pk + 1000]))

    assert own.status_code == 200 and conforms(own, "EventStatus")["id"] == mine["event_id"]
    # Before: 200 for both. Now exactly as an id that does not exist, so ids cannot be probed.
    for refused, event_id in ((theirs, mine["event_id"]), (form, from_the_form.pk)):
        assert refused.status_code == 404
        assert documented(refused, "/api/v1/events/{event_id}", "get") == {"error": f"No event {event_id}."}
    assert missing.status_code == 404


def test_events_sent_with_a_key_before_the_upgrade_go_back_to_their_token(api, token, users):
    token_id = ServiceToken.objects.get(name="billing").pk
    earlier = Event.objects.create(audience="everyone", verb="x", idempotency_key=f"api:{token_id}:abc")
    untouched = Event.objects.create(audience="everyone", verb="y", idempotency_key="job-1")
    migration = importlib.import_module("herald_live.migrations.0004_event_service_token_and_fingerprint")

    migration.attribute_keyed_api_events(apps, None)

    assert api("get", reverse("herald:api_event", args=[earlier.pk])).status_code == 200
    assert Event.objects.get(pk=untouched.pk).service_token is None


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
    assert token_lookup.authenticate(token=shown) == stored


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
        match = resolve(f"/{prefix}" + re.sub(r"\{\w+_id\}", "1", path))
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


def test_authenticate_gives_the_tokens_own_permission_as_a_boolean():
    """The check is one plain statement (herald_live/infra/sql.py): SQLite answers 0/1, the permission stays a bool."""
    allowed, limited = (
        service_tokens.create(name="may", can_send_to_everyone=True),
        service_tokens.create(name="may-not"),
    )

    found = token_lookup.authenticate(token=allowed)
    assert (found.name, found.can_send_to_everyone) == ("may", True)
    assert token_lookup.authenticate(token=limited).can_send_to_everyone is False
    assert found.created_at == ServiceToken.objects.get(name="may").created_at  # the rest loads when read
    assert token_lookup.authenticate(token=allowed + "x") is None
    service_tokens.revoke(name="may")
    assert token_lookup.authenticate(token=allowed) is None
