"""DATABASE_URL -> Django DATABASES entry (sqlite:///path or postgres://user@host:port/name)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from herald_live.envvars import ConfigError


def parse_database_url(url: str, *, base_dir: Path) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        raw = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not raw:
            raise ConfigError(f"DATABASE_URL names no SQLite file: {url!r}")
        path = Path(raw) if Path(raw).is_absolute() else base_dir / raw
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            # Web, workers and tests write concurrently: wait for locks, take them up front. WAL
            # lets readers run beside the one writer, and synchronous=NORMAL (safe in WAL mode)
            # makes each commit, and so each hold of the write lock, short.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parts.scheme in {"postgres", "postgresql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError("DATABASE_URL names no PostgreSQL database")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ConfigError(f"DATABASE_URL scheme must be sqlite or postgres, got {parts.scheme!r}")


def database_url_of(entry: dict) -> str:
    """The inverse, used to point worker processes at the database a test created."""
    if entry["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(entry['NAME']).resolve()}"
    auth = entry.get("USER") or ""
    if entry.get("PASSWORD"):
        auth += f":{entry['PASSWORD']}"
    host = entry.get("HOST") or ""
    port = f":{entry['PORT']}" if entry.get("PORT") else ""
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{entry['NAME']}"
