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
