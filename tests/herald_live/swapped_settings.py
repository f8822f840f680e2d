"""The test settings with a swapped notification model (tests.herald_live.swapped_app.Notice)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.herald_live.swapped_app"]
NOTIFICATIONS_NOTIFICATION_MODEL = "swapped_app.Notice"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["HERALD_SWAPPED_DB"]}}
