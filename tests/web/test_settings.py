"""Settings that depend on others, read in a fresh interpreter as a process would at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def chunk_size(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "DATABASE_URL"))}
    clean.update(DJANGO_SECRET_KEY="k" * 50, HERALD_TOKEN_SECRET="t" * 50, **env)
    code = "from web import settings; print(settings.HERALD_FANOUT_CHUNK_SIZE)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


@pytest.mark.parametrize(
    ("url", "expected"),
    [("sqlite:///var/any.sqlite3", 250), ("postgresql://u@127.0.0.1:5432/herald", 1000)],
)
def test_chunks_are_smaller_on_sqlite_where_a_chunk_holds_the_one_write_lock(url, expected):
    assert chunk_size(DATABASE_URL=url) == expected


def test_an_explicit_chunk_size_wins_on_any_database():
    assert chunk_size(DATABASE_URL="sqlite:///var/any.sqlite3", HERALD_FANOUT_CHUNK_SIZE="1000") == 1000
    assert chunk_size(DATABASE_URL="postgresql://u@127.0.0.1:5432/herald", HERALD_FANOUT_CHUNK_SIZE="50") == 50


def email_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "DATABASE_URL", "EMAIL_"))}
    clean.update(DJANGO_SECRET_KEY="k" * 50, HERALD_TOKEN_SECRET="t" * 50, **env)
    names = "EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS, EMAIL_TIMEOUT"
    code = f"from web.settings import {names}; print({names})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_email_goes_to_the_smtp_server_named_in_the_environment_and_to_the_console_without_one():
    assert email_settings().stdout.split()[0] == "django.core.mail.backends.console.EmailBackend"
    done = email_settings(EMAIL_HOST="smtp.example.com", EMAIL_PORT="587", EMAIL_USE_TLS="1")
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    assert done.stdout.split() == [smtp, "smtp.example.com", "587", "True", "10"]


def test_tls_and_ssl_together_are_refused_at_start():
    done = email_settings(EMAIL_HOST="smtp.example.com", EMAIL_USE_TLS="1", EMAIL_USE_SSL="1")
    assert done.returncode != 0
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on" in done.stderr
