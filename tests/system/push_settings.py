"""The test settings plus a host app that registers a notification type of its own (tests/system/test_push.py)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.system.push_app"]
