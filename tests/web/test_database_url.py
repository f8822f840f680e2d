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
