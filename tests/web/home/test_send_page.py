"""The reference site's send page: a typed recipient with suggestions, never a list of every user."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext

from herald_live.models import Event
from web.home.users import suggest_usernames

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


def send_form_of(page: str) -> str:
    return page[page.index('<form id="send-form"') : page.index("</form>", page.index('<form id="send-form"'))]


def test_a_site_with_10000_users_renders_a_small_page_that_lists_none_of_them(as_bob, django_user_model):
    django_user_model.objects.bulk_create([django_user_model(username=f"member{i:05d}") for i in range(10_000)])

    response = as_bob.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) < 60_000, f"the home page is {len(response.content)} bytes"
    assert "member0" not in page
    assert send_form_of(page).count("<option") == 4, "only the four levels"
    suggested = as_bob.get("/users/suggest/", {"q": "MEMBER0999"}, **JSON).json()["usernames"]
    assert suggested == [f"member0999{i}" for i in range(10)]


def test_the_recipient_is_a_text_field_with_suggestions_and_no_default(as_bob):
    page = as_bob.get("/").content.decode()

    field = re.search(r"<input[^>]*id=\"id_recipient\"[^>]*>", page).group(0)
    assert 'type="text"' in field and 'name="recipient"' in field and 'value=""' in field
    listed = re.search(r'list="([^"]+)"', field).group(1)
    assert f'<datalist id="{listed}">' in page
    assert re.search(r'<script src="[^"]*home/send\.js"', page)
    assert finders.find("home/send.js"), "the suggestions script ships with the site's static files"
    assert "everyone" not in send_form_of(page).lower(), "bob may not send to everyone: no such choice"


def test_a_refused_form_comes_back_with_the_typed_recipient_escaped(as_bob, bob):
    bob.user_permissions.add(Permission.objects.get(codename="send_to_everyone"))

    response = as_bob.post("/notifications/send/", {"recipient": '"><b>x', "message": "hi", "everyone": "1"})

    page = response.content.decode()
    assert response.status_code == 400
    assert 'value="&quot;&gt;&lt;b&gt;x"' in page and "<b>x" not in page
    assert re.search(r'id="id_everyone"[^>]* checked', page), "the choice is kept for correction"
    assert not Event.objects.exists()


@pytest.fixture
def people(django_user_model):
    names = ["alice", "Alina", "ALBERT", "alfred", "a_b", "axb", "Élodie", "al%x"]
    django_user_model.objects.bulk_create([django_user_model(username=name) for name in names])
    django_user_model.objects.create_user("alan", is_active=False)


def expected_order(django_user_model, names: set[str]) -> list[str]:
    """The database's own username order (collations differ between SQLite and PostgreSQL)."""
    return list(
        django_user_model.objects.filter(username__in=names).order_by("username").values_list("username", flat=True)
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("al", {"alice", "Alina", "ALBERT", "alfred", "al%x"}),
        ("AL", {"alice", "Alina", "ALBERT", "alfred", "al%x"}),
        ("aLi", {"alice", "Alina"}),
        ("alice", {"alice"}),
        ("a_", {"a_b"}),
        ("al%", {"al%x"}),
        ("Él", {"Élodie"}),
        ("alan", set()),
        ("zz", set()),
    ],
)
def test_suggestions_are_active_usernames_by_prefix_in_any_case(as_bob, people, django_user_model, q, expected):
    response = as_bob.get("/users/suggest/", {"q": q}, **JSON)

    assert response.status_code == 200
    assert response.json() == {"usernames": expected_order(django_user_model, expected)}


def test_suggestions_stop_at_ten_in_username_order(as_bob, django_user_model):
    django_user_model.objects.bulk_create([django_user_model(username=f"user{i:02d}") for i in range(25)])

    usernames = as_bob.get("/users/suggest/", {"q": "user"}, **JSON).json()["usernames"]

    assert usernames == [f"user{i:02d}" for i in range(10)]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 151}, {"q": "a\x00"}])
def test_a_missing_empty_too_long_or_nul_q_is_a_400(as_bob, params):
    response = as_bob.get("/users/suggest/", params, **JSON)

    assert response.status_code == 400
    assert response.json()["error"].startswith("q must")


def test_the_longest_q_is_answered(as_bob):
    assert as_bob.get("/users/suggest/", {"q": "x" * 150}, **JSON).json() == {"usernames": []}


def test_suggestions_need_a_logged_in_user_and_a_get(client, as_bob, alice):
    anonymous = client.__class__().get("/users/suggest/", {"q": "al"}, **JSON)
    posted = as_bob.post("/users/suggest/", {"q": "al"}, **JSON)

    assert anonymous.status_code == 401 and "alice" not in anonymous.content.decode()
    assert posted.status_code == 405


def test_suggestions_are_one_query_that_an_index_can_answer(django_user_model):
    django_user_model.objects.bulk_create([django_user_model(username=f"member{i:05d}") for i in range(2_000)])

    with CaptureQueriesContext(connection) as queries:
        assert suggest_usernames(prefix="Member01") == [f"member0{i}" for i in range(1000, 1010)]

    assert len(queries) == 1
    sql = queries[0]["sql"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Whether an index CAN answer it (the planner picks a seq scan on small tables anyway).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "SEARCH" in plan and "SCAN auth_user" not in plan, plan
