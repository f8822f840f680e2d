"""A host that misses a step of docs/integrate.md is told at start, by name."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from herald_live import checks


def ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_reference_settings_pass():
    assert checks.herald_setup() == []


@pytest.mark.parametrize("secret", [None, "", "too short", 12345])
def test_a_missing_or_weak_token_secret_is_refused(secret):
    with override_settings(HERALD_TOKEN_SECRET=secret):
        assert ids(checks.herald_setup()) == ["herald_live.E003"]


def test_sessions_without_django_user_sessions_are_refused():
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        (error,) = checks.herald_setup()
    assert error.id == "herald_live.E002"
    assert "user_sessions.backends.db" in error.hint


def test_a_swapped_notification_model_that_herald_cannot_write_is_refused_at_start():
    with override_settings(NOTIFICATIONS_NOTIFICATION_MODEL="auth.Group"):
        (error,) = checks.herald_setup()
        assert error.id == "herald_live.E004"
        assert "auth.Group" in error.msg and "AbstractNotification" in error.msg
        # `manage.py check` (run by runserver, migrate and the like) stops on it.
        with pytest.raises(SystemCheckError, match="herald_live.E004"):
            call_command("check")


def test_a_swapped_notification_model_that_does_not_exist_is_refused():
    with override_settings(NOTIFICATIONS_NOTIFICATION_MODEL="nowhere.Nothing"):
        assert ids(checks.herald_setup()) == ["herald_live.E004"]
