"""System checks: a host that misses a step of docs/integrate.md is told at start, by name."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from herald_live import retention
from herald_live.conf import app_settings
from herald_live.email import site as email_site
from herald_live.push import vapid

DOC = "See docs/integrate.md."
# What Herald's fan-out writes and reads on every notification row.
REQUIRED_FIELDS = (
    "recipient",
    "actor_content_type",
    "actor_object_id",
    "verb",
    "level",
    "unread",
    "deleted",
    "action_object_content_type",
    "action_object_object_id",
    "target_content_type",
    "target_object_id",
    "data",
    "timestamp",
)


@register()
def herald_setup(app_configs=None, **kwargs) -> list[Error | Warning]:
    errors: list[Error | Warning] = []
    for app, hint in (
        ("notifications", "Add 'notifications' (django-notifications-community) to INSTALLED_APPS."),
        ("user_sessions", "Replace 'django.contrib.sessions' with 'user_sessions' in INSTALLED_APPS."),
    ):
        if not apps.is_installed(app):
            errors.append(Error(f"Herald needs the {app!r} app.", hint=f"{hint} {DOC}", id="herald_live.E001"))
    if settings.SESSION_ENGINE != "user_sessions.backends.db":
        errors.append(
            Error(
                "Herald finds a user's live sessions through django-user-sessions.",
                hint=f"Set SESSION_ENGINE = 'user_sessions.backends.db'. {DOC}",
                id="herald_live.E002",
            )
        )
    secret = app_settings.TOKEN_SECRET
    if not isinstance(secret, str) or len(secret) < 32:
        errors.append(
            Error(
                "HERALD_TOKEN_SECRET must be a string of at least 32 characters (the pushers verify tokens with it).",
                hint=f"Read it from the environment in your settings, and give the pushers the same value. {DOC}",
                id="herald_live.E003",
            )
        )
    errors += _notification_model_errors()
    errors += _celery_errors()
    vendor = connections["default"].vendor
    if vendor not in ("postgresql", "sqlite"):
        errors.append(
            Error(
                f"Herald's bulk insert supports PostgreSQL and SQLite, not {vendor}.",
                hint=DOC,
                id="herald_live.E005",
            )
        )
    return errors


def _notification_model_errors() -> list[Error]:
    from notifications.base.models import AbstractNotification
    from notifications.swappable import load_notification_model

    try:
        model = load_notification_model()
    except (LookupError, ValueError) as exc:
        return [Error(f"NOTIFICATIONS_NOTIFICATION_MODEL names no installed model: {exc}", id="herald_live.E004")]
    names = {field.name for field in model._meta.get_fields()}
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if not issubclass(model, AbstractNotification) or missing:
        return [
            Error(
                f"Herald cannot write to the notification model {model._meta.label}: it must subclass "
                f"notifications.base.models.AbstractNotification"
                + (f" (missing fields: {', '.join(missing)})" if missing else "")
                + ".",
                hint="Subclass AbstractNotification, or leave NOTIFICATIONS_NOTIFICATION_MODEL unset.",
                id="herald_live.E004",
            )
        ]
    return []


def _celery_errors() -> list[Warning]:
    """Sends enqueue through the process's current Celery app: without the site's own, Celery's
    fallback app points at a broker nobody runs, and every fan-out would wait for the re-drive."""
    from celery import current_app

    # Celery's Django fix-up makes the site's own app the default app too: only the fallback's name tells them apart.
    if current_app.main == "default":
        return [
            Warning(
                "No Celery app is loaded in this process: Herald's tasks would be sent to Celery's default broker.",
                hint="Import your Celery app in your project's __init__.py (Celery's Django layout). " + DOC,
                id="herald_live.W001",
            )
        ]
    return []


@register()
def herald_retention(app_configs=None, **kwargs) -> list[Error]:
    """The retention settings, checked where the purge reads them (herald_live/retention.py)."""
    hint = "See docs/operations.md, 'Retention'."
    return [Error(problem, hint=hint, id="herald_live.E010") for problem in retention.settings_problems()]


@register()
def herald_email(app_configs=None, **kwargs) -> list[Error | Warning]:
    """The email digests' settings (herald_live/email/site.py): their link to the site above all."""
    hint = "See docs/channels.md, 'Email', and docs/integrate.md."
    if not app_settings.SITE_URL:
        return [
            Warning(
                "HERALD_SITE_URL is not set: users who chose email digests get none (the emails link to the site).",
                hint=f"Set it to your site's public URL, e.g. 'https://www.example.com'. {hint}",
                id="herald_live.W020",
            )
        ]
    return [Error(problem, hint=hint, id="herald_live.E020") for problem in email_site.settings_problems()]


@register(Tags.database)
def herald_email_addresses(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """Users who chose a digest that cannot reach them (no email address): asked of the database, so only by
    `check --database default` and `migrate`."""
    if not databases:
        return []
    from django.db import DatabaseError

    from herald_live.email.due import without_address

    try:
        users = without_address()
    except DatabaseError:  # `migrate` checks before it migrates: on a new database there is no table to ask yet
        return []
    if not users:
        return []
    shown = ", ".join(map(str, users[:10])) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
    return [
        Warning(
            f"{len(users)} active user(s) chose email digests and have no email address: they get none (ids {shown}).",
            hint="Their preferences page says so; add addresses or turn their digests off (docs/channels.md, 'Email').",
            id="herald_live.W021",
        )
    ]


@register()
def herald_push(app_configs=None, **kwargs) -> list[Warning]:
    """Web push's VAPID settings: all three or none (herald_live/push/vapid.py). Half of them leaves push off."""
    hint = "Run `manage.py herald_vapid_keys` and set all three. See docs/channels.md, 'Web push'."
    return [Warning(f"Web push is off: {problem}.", hint=hint, id="herald_live.W030") for problem in vapid.problems()]
