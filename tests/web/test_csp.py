"""The site's Content-Security-Policy (web/csp.py, sent by django-csp), and pages with nothing inline that a strict
policy would block.

The same policy in a real Chromium, with the live widget: tests/system/test_browser.py
(``test_under_the_sites_strict_csp_the_live_widget_causes_no_violation``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from csp.middleware import CSPMiddleware
from django.http import HttpResponse, HttpResponseServerError
from django.template import Context, Template
from django.test import RequestFactory

from web.csp import build_policy, content_security_policy, pusher_sources

pytestmark = pytest.mark.django_db

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)


def inline_parts(html: str) -> list[str]:
    """Whatever a policy without 'unsafe-inline' blocks: script bodies, on…= handlers, style attributes."""
    found = [
        f"<script{attrs}>{body[:60]}" for attrs, body in SCRIPT.findall(html) if body.strip() or "src=" not in attrs
    ]
    found += HANDLER.findall(html) + STYLE_ATTRIBUTE.findall(html)
    return found


def test_the_finder_sees_each_kind_of_inline_part():
    assert inline_parts('<script src="/a.js"></script><p class="x">ok</p>') == []
    assert len(inline_parts("<script>alert(1)</script>")) == 1
    assert len(inline_parts('<button type="button" onclick="go()">')) == 1
    assert len(inline_parts('<div style="color: red">')) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", []),
        ("http://127.0.0.1:8001", ["http://127.0.0.1:8001", "ws://127.0.0.1:8001"]),
        ("https://push.example.com/", ["https://push.example.com", "wss://push.example.com"]),
        ("https://user:pw@push.example.com:8443/x", ["https://push.example.com:8443", "wss://push.example.com:8443"]),
    ],
)
def test_the_pusher_url_becomes_its_http_and_ws_origins(url, expected):
    assert pusher_sources(url) == expected


@pytest.mark.parametrize("url", ["ftp://push.example.com", "push.example.com", "http://"])
def test_a_pusher_url_that_is_not_http_fails_loudly(url):
    with pytest.raises(ValueError, match="HERALD_PUSHER_URL"):
        pusher_sources(url)


def test_the_policy_allows_nothing_inline_and_only_the_pusher_beyond_the_site():
    policy = dict(part.split(" ", 1) for part in build_policy(pusher_url="https://push.example.com").split("; "))

    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' https://push.example.com wss://push.example.com"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in " ".join(policy.values())


def test_every_response_carries_the_policy(client, alice, settings):
    # As web/settings.py makes it from HERALD_PUSHER_URL (test_the_pusher_url_in_the_environment_reaches_the_policy).
    settings.CONTENT_SECURITY_POLICY = content_security_policy(pusher_url="https://push.example.com")
    client.force_login(alice)

    for path in ("/", "/sessions/", "/herald/", "/no-such-page/"):
        assert "wss://push.example.com" in client.get(path)["Content-Security-Policy"], path
    client.logout()
    assert "script-src 'self'" in client.get("/accounts/login/")["Content-Security-Policy"]


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "DATABASE_URL"))}
    clean.update(DJANGO_SECRET_KEY="k" * 50, HERALD_TOKEN_SECRET="t" * 50, **env)
    code = "from web import settings; print(*settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])"
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=clean, capture_output=True, text=True, timeout=60)


def test_the_pusher_url_in_the_environment_reaches_the_policy():
    done = settings_in_a_fresh_process(HERALD_PUSHER_URL="https://push.example.com:8443/")
    assert done.stdout.split() == ["'self'", "https://push.example.com:8443", "wss://push.example.com:8443"]
    assert settings_in_a_fresh_process().stdout.split() == ["'self'"]


def test_a_pusher_url_that_is_not_http_stops_the_settings_loading():
    done = settings_in_a_fresh_process(HERALD_PUSHER_URL="push.example.com")
    assert done.returncode != 0
    assert "HERALD_PUSHER_URL must be an http(s) URL or empty" in done.stderr


def test_a_response_with_a_policy_of_its_own_keeps_it(rf):
    own = HttpResponse(headers={"Content-Security-Policy": "default-src 'none'"})
    response = CSPMiddleware(lambda request: own)(rf.get("/"))
    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_debugs_technical_error_page_gets_no_policy_for_its_inline_script(rf, settings):
    middleware = CSPMiddleware(lambda request: HttpResponseServerError("<script>…</script>"))
    settings.DEBUG = True
    assert "Content-Security-Policy" not in middleware(rf.get("/"))
    settings.DEBUG = False
    assert "script-src 'self'" in middleware(rf.get("/"))["Content-Security-Policy"]


def test_herald_template_tags_emit_nothing_inline(alice):
    request = RequestFactory().get("/")
    request.user = alice
    html = Template("{% load herald %}{% herald_bell %}{% herald_scripts %}").render(Context({"request": request}))

    assert "herald-bell" in html and "herald.js" in html  # it rendered the widget
    assert inline_parts(html) == []


def test_the_sites_pages_have_nothing_inline(client, alice):
    client.force_login(alice)
    for path in ("/", "/sessions/", "/herald/", "/accounts/password/", "/no-such-page/"):
        assert inline_parts(client.get(path).content.decode()) == [], path
    client.logout()
    assert inline_parts(client.get("/accounts/login/").content.decode()) == []
