from pathlib import Path

import pytest

from herald_live.envvars import ConfigError
from web.database_url import database_url_of, parse_database_url


def test_sqlite_urls_resolve_relative_to_the_project():
    entry = parse_database_url("sqlite:///var/x.sqlite3", base_dir=Path("/srv/herald"))
    assert entry["NAME"] == "/srv/herald/var/x.sqlite3"
    assert parse_database_url("sqlite:////data/y.sqlite3", base_dir=Path("/srv"))["NAME"] == "/data/y.sqlite3"


def test_postgres_urls_round_trip():
    entry = parse_database_url("postgresql://herald:p%40ss@db:5433/herald?sslmode=require", base_dir=Path("/"))
    assert (entry["USER"], entry["PASSWORD"], entry["HOST"], entry["PORT"], entry["NAME"]) == (
        "herald",
        "p@ss",
        "db",
        "5433",
        "herald",
    )
    assert entry["OPTIONS"] == {"sslmode": "require"}
    assert parse_database_url(database_url_of(entry), base_dir=Path("/"))["NAME"] == "herald"


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "postgresql://host/"])
def test_unsupported_or_incomplete_urls_fail_loudly(url):
    with pytest.raises(ConfigError):
        parse_database_url(url, base_dir=Path("/"))


def test_sqlite_waits_for_locks_takes_them_up_front_and_writes_ahead():
    entry = parse_database_url("sqlite:///var/x.sqlite3", base_dir=Path("/srv"))
    assert entry["ENGINE"] == "django.db.backends.sqlite3"
    assert entry["OPTIONS"] == {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    assert entry["CONN_MAX_AGE"] == 0
    assert parse_database_url("sqlite:///x.sqlite3?timeout=60", base_dir=Path("/"))["OPTIONS"]["timeout"] == 60


def test_postgres_connections_are_kept_a_minute_and_checked():
    entry = parse_database_url("postgres://127.0.0.1/herald", base_dir=Path("/"))
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["CONN_MAX_AGE"], entry["CONN_HEALTH_CHECKS"], entry["OPTIONS"], entry["PORT"]) == (60, True, {}, "")


def test_the_inverse_quotes_what_a_url_cannot_hold_as_it_is():
    entry = {"ENGINE": "django.db.backends.postgresql", "NAME": "h", "USER": "a/b", "PASSWORD": "p@:/?#s"}
    entry["HOST"] = "/run/postgresql"
    back = parse_database_url(database_url_of(entry), base_dir=Path("/"))
    assert (back["USER"], back["PASSWORD"], back["HOST"], back["NAME"]) == ("a/b", "p@:/?#s", "/run/postgresql", "h")
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/data/y.sqlite3"}
    assert parse_database_url(database_url_of(sqlite), base_dir=Path("/srv"))["NAME"] == "/data/y.sqlite3"


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///", "pgsql://host/db", "postgresql://host:port/db"])
def test_memory_other_schemes_and_broken_urls_fail_loudly_too(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        parse_database_url(url, base_dir=Path("/"))


def test_a_broken_url_is_not_echoed_it_may_hold_a_password():
    with pytest.raises(ConfigError) as failed:
        parse_database_url("postgresql://u:secret@host:port/db", base_dir=Path("/"))
    assert "secret" not in str(failed.value)
