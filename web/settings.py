"""Django settings. Every value that differs between deployments comes from the environment."""

from __future__ import annotations

from pathlib import Path

from herald_live import wire
from herald_live.envvars import ConfigError, env_bool, env_int, env_list, env_secret, env_str
from web.csp import content_security_policy
from web.database_url import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("HERALD_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("HERALD_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("HERALD_CSRF_TRUSTED_ORIGINS", [])
# Addresses or networks of reverse proxies whose X-Forwarded-For is believed (e.g. nginx).
HERALD_TRUSTED_PROXIES = env_list("HERALD_TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "user_sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "notifications",
    "herald_live",
    "web.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Scripts, styles and connections from the site (and the pusher) only: django-csp, CONTENT_SECURITY_POLICY below.
    "csp.middleware.CSPMiddleware",
    "web.proxies.TrustedProxyMiddleware",
    "user_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": parse_database_url(env_str("DATABASE_URL", "sqlite:///var/herald.sqlite3"), base_dir=BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_ENGINE = "user_sessions.backends.db"
SESSION_COOKIE_AGE = env_int("HERALD_SESSION_AGE_SECONDS", 14 * 24 * 3600, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("HERALD_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_FAILURE_VIEW = "web.home.views.csrf_failure"
# user_sessions replaces django.contrib.sessions, which the admin check insists on.
SILENCED_SYSTEM_CHECKS = ["admin.E410"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# The browser's socket.io client comes from the npm package, never a CDN.
STATICFILES_DIRS = [("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist")]

# --- Herald (docs/integrate.md lists every HERALD_* setting and its default) -----------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
HERALD_REDIS_URL = REDIS_URL
HERALD_CHANNEL_PREFIX = env_str("HERALD_CHANNEL_PREFIX", "herald")
# Signs the pusher's connection tokens; the pushers also accept HERALD_TOKEN_SECRETS_OLD while rotating.
HERALD_TOKEN_SECRET = env_secret("HERALD_TOKEN_SECRET")
HERALD_TOKEN_TTL_SECONDS = env_int(
    "HERALD_TOKEN_TTL_SECONDS",
    wire.DEFAULT_TOKEN_TTL_SECONDS,
    minimum=wire.TOKEN_TTL_BOUNDS[0],
    maximum=wire.TOKEN_TTL_BOUNDS[1],
)
HERALD_PUSHER_URL = env_str("HERALD_PUSHER_URL", "")
# django-csp's policy (web/csp.py): the pusher's http(s) and ws(s) origins join 'self' in connect-src. A
# HERALD_PUSHER_URL that is not http(s) stops the settings here.
CONTENT_SECURITY_POLICY = content_security_policy(pusher_url=HERALD_PUSHER_URL)
# SQLite has one writer: a chunk holds the write lock for its whole transaction, and every send and interactive
# fan-out waits behind it. Smaller chunks there keep that wait short; PostgreSQL writes chunks side by side
# (docs/benchmark.md, "Chunk size on SQLite").
HERALD_FANOUT_CHUNK_SIZE = env_int(
    "HERALD_FANOUT_CHUNK_SIZE",
    250 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 1000,
    minimum=1,
    maximum=100_000,
)
HERALD_INTERACTIVE_MAX_RECIPIENTS = env_int("HERALD_INTERACTIVE_MAX_RECIPIENTS", 100, minimum=1)
HERALD_DRAIN_PACE_MS = env_int("HERALD_DRAIN_PACE_MS", 50, minimum=0, maximum=1000)
HERALD_SYSTEM_NAME = env_str("HERALD_SYSTEM_NAME", "Herald")
HERALD_SEND_RATE_LIMIT = env_int("HERALD_SEND_RATE_LIMIT", 30, minimum=0)
HERALD_API_RATE_LIMIT = env_int("HERALD_API_RATE_LIMIT", 600, minimum=0)
HERALD_SEND_RATE_WINDOW_SECONDS = env_int("HERALD_SEND_RATE_WINDOW_SECONDS", 60, minimum=1)
HERALD_REDRIVE_AFTER_SECONDS = env_int("HERALD_REDRIVE_AFTER_SECONDS", 300, minimum=5)
# Retention (docs/operations.md, "Retention"): read notifications older than READ days, and all older than ALL
# days (0: unread ones are kept for ever), deleted by herald.purge in batches of BATCH_SIZE rows, MAX_SECONDS a run.
HERALD_RETENTION_READ_DAYS = env_int("HERALD_RETENTION_READ_DAYS", 90, minimum=1)
HERALD_RETENTION_ALL_DAYS = env_int("HERALD_RETENTION_ALL_DAYS", 365, minimum=0) or None
HERALD_RETENTION_BATCH_SIZE = env_int("HERALD_RETENTION_BATCH_SIZE", 1000, minimum=1, maximum=100_000)
HERALD_RETENTION_MAX_SECONDS = env_int("HERALD_RETENTION_MAX_SECONDS", 60, minimum=1)
# Email digests of unread notifications (docs/channels.md, "Email"): the site's public URL the emails link to, and
# the hour (UTC) of the daily ones.
# In production it must be named: empty, digests are off and `check` warns (herald_live.W020).
HERALD_SITE_URL = env_str("HERALD_SITE_URL", "http://127.0.0.1:8000" if DEBUG else "")
HERALD_EMAIL_DIGEST_HOUR = env_int("HERALD_EMAIL_DIGEST_HOUR", 8, minimum=0, maximum=23)
# How long a digest waits after the oldest notification it lists: what is read by then is never mailed.
HERALD_EMAIL_DIGEST_DELAY_MINUTES = env_int("HERALD_EMAIL_DIGEST_DELAY_MINUTES", 10, minimum=1, maximum=1440)
# Web push (docs/channels.md, "Web push"): the VAPID pair `manage.py herald_vapid_keys` prints and a contact for the
# push services (mailto: or https:). All three empty: push is off; a half-set one is a system check warning.
HERALD_VAPID_PUBLIC_KEY = env_str("HERALD_VAPID_PUBLIC_KEY", "")
HERALD_VAPID_PRIVATE_KEY = env_str("HERALD_VAPID_PRIVATE_KEY", "")
HERALD_VAPID_SUBJECT = env_str("HERALD_VAPID_SUBJECT", "")
# How long a push service keeps a push for a browser that is offline (at most 28 days, as FCM does).
HERALD_PUSH_TTL_SECONDS = env_int("HERALD_PUSH_TTL_SECONDS", 24 * 3600, minimum=0, maximum=28 * 24 * 3600)
# The site's login (web/login.py): failed attempts per account and per client address (an IPv6 /64) in a fixed
# window; past either, every attempt gets 429 until the window ends, the right password too. 0 turns one off.
HERALD_LOGIN_FAILURES_PER_ACCOUNT = env_int("HERALD_LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=0)
HERALD_LOGIN_FAILURES_PER_IP = env_int("HERALD_LOGIN_FAILURES_PER_IP", 30, minimum=0)
HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL = env_int("HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL", 50, minimum=0)
HERALD_LOGIN_KNOWN_NETWORK_DAYS = env_int("HERALD_LOGIN_KNOWN_NETWORK_DAYS", 30, minimum=1, maximum=3650)
HERALD_LOGIN_WINDOW_SECONDS = env_int("HERALD_LOGIN_WINDOW_SECONDS", 300, minimum=1, maximum=24 * 3600)

# --- Celery (workers/) ------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker outlives a Redis restart
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless
# this is set: a new PostgreSQL backend per task (a fork, cold catalog caches) was half of an
# interactive fan-out's time. Workers recycle connections as Django's requests do instead
# (CONN_MAX_AGE, health checks, errors; workers/celery_app.py), so this only needs to be large.
CELERY_DB_REUSE_MAX = 1_000_000_000
# A request must not hang on a dead broker: try briefly, then the web answers 503.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# A prefix on every broker key lets several deployments (or test runs) share one Redis database.
HERALD_BROKER_KEY_PREFIX = env_str("HERALD_BROKER_KEY_PREFIX", "")
# Unacknowledged tasks (their worker died) return to the queue after this long: longer than any task runs.
HERALD_BROKER_VISIBILITY_TIMEOUT = env_int("HERALD_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": HERALD_BROKER_VISIBILITY_TIMEOUT,
    # How often a worker looks for such tasks (kombu's default waits about 100 s).
    "unacked_restore_interval": env_int("HERALD_BROKER_RESTORE_INTERVAL", 30, minimum=1),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
    **({"global_keyprefix": HERALD_BROKER_KEY_PREFIX} if HERALD_BROKER_KEY_PREFIX else {}),
}
# Herald's re-drive of events recorded but not done (docs/integrate.md, "Celery").
CELERY_BEAT_SCHEDULE = {
    "herald.redrive": {
        "task": "herald.redrive",
        "schedule": env_int("HERALD_REDRIVE_EVERY_SECONDS", 60, minimum=1),
        "options": {"queue": "herald.interactive"},
    }
}
# Retention runs on the bulk queue, hourly by default; 0 leaves it out (run `manage.py herald_purge` yourself).
_retention_every = env_int("HERALD_RETENTION_EVERY_SECONDS", 3600, minimum=0)
if _retention_every:
    CELERY_BEAT_SCHEDULE["herald.purge"] = {
        "task": "herald.purge",
        "schedule": _retention_every,
        "options": {"queue": "herald.bulk"},
    }
# Email digests: every minute, on the bulk queue; a run that waited longer than a minute is dropped (the next one
# does its work).
CELERY_BEAT_SCHEDULE["herald.send_email_digests"] = {
    "task": "herald.send_email_digests",
    "schedule": 60,
    "options": {"queue": "herald.bulk", "expires": 55},
}
# No form of this site needs more; larger bodies get 400 before any view runs. Herald's HTTP API
# (POST /herald/api/v1/events) reads its body with a limit of its own, 256 KiB (herald_live/views/api.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Email (docs/operations.md, "Email") ------------------------------------------------------
# With EMAIL_HOST set, mail goes to that SMTP server; without, it is printed on the console (development).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
# A local relay on port 25 needs neither; a provider: STARTTLS on 587 (EMAIL_USE_TLS) or TLS on 465 (EMAIL_USE_SSL).
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on: STARTTLS (587) or TLS (465), not both")
# Seconds: a server that stops answering must not hold a worker (Django's default waits for ever).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Herald <herald@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 503 because the database or Redis is down is one line, not a traceback per request (web/errors.py).
    "filters": {"one_line_per_outage": {"()": "web.errors.OneLinePerOutage"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("HERALD_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"filters": ["one_line_per_outage"]},
    },
}
