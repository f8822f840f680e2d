"""DATABASE_URL -> Django DATABASES entry (sqlite:///path or postgres://user@host:port/name), by dj-database-url.

What is ours on top of it: only SQLite and PostgreSQL are accepted, and neither without a database; a relative
SQLite path is relative to the project (BASE_DIR), not to the working directory; and each engine's defaults below.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import dj_database_url

from herald_live.envvars import ConfigError

POSTGRES_SCHEMES = {"postgres", "postgresql"}

# Web, workers and tests write concurrently: wait for locks, take them up front. WAL lets readers run beside the
# one writer, and synchronous=NORMAL (safe in WAL mode) makes each commit, and so each hold of the write lock, short.
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def parse_database_url(url: str, *, base_dir: Path) -> dict:
    scheme = urlsplit(url).scheme
    if scheme != "sqlite" and scheme not in POSTGRES_SCHEMES:  # dj-database-url knows MySQL, Oracle and more
        raise ConfigError(f"DATABASE_URL scheme must be sqlite or postgres, got {scheme!r}")
    postgres = scheme in POSTGRES_SCHEMES
    try:
        entry = dict(dj_database_url.parse(url, conn_max_age=60 if postgres else 0, conn_health_checks=postgres))
    except ValueError:  # the URL itself is not one (a bad port, say); never echoed, it may hold a password
        raise ConfigError("DATABASE_URL is not a valid URL (are its parts %-quoted?)") from None
    if entry["NAME"] in {"", ":memory:"}:  # dj-database-url reads "sqlite://" as memory, which no worker could share
        raise ConfigError(
            "DATABASE_URL names no PostgreSQL database" if postgres else f"DATABASE_URL names no SQLite file: {url!r}"
        )
    if postgres:
        entry["PORT"] = str(entry["PORT"])  # an int from dj-database-url; Django's own settings use a string
    else:
        path = Path(entry["NAME"])
        entry["NAME"] = str(path if path.is_absolute() else base_dir / path)
        # Query-string options (sqlite:///x.sqlite3?timeout=60) win over the defaults.
        entry["OPTIONS"] = {**SQLITE_OPTIONS, **entry.get("OPTIONS", {})}
    entry.setdefault("OPTIONS", {})
    return entry


def database_url_of(entry: dict) -> str:
    """The inverse (dj-database-url has none), used to point worker processes at the database a test created.

    Without OPTIONS: libpq (psycopg.connect(url)) refuses Django-only ones such as ``pool`` in a URL.
    """
    if entry["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(entry['NAME']).resolve()}"
    auth = quote(entry.get("USER") or "", safe="")
    if entry.get("PASSWORD"):
        auth += f":{quote(entry['PASSWORD'], safe='')}"
    host = quote(entry.get("HOST") or "", safe="")  # a socket directory (/run/postgresql) is one %-quoted part
    port = f":{entry['PORT']}" if entry.get("PORT") else ""
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{quote(entry['NAME'], safe='')}"
