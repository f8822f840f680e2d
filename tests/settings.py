"""Settings for the test run: the production settings, pointed at test-only resources.

The first process (pytest) picks the resources and exports them; the worker, pusher and
web processes the tests start inherit that environment and reuse it as it is.
"""

import os
import secrets

if "HERALD_TEST_RUN" not in os.environ:
    os.environ["HERALD_TEST_RUN"] = str(os.getpid())
    # Never a developer's or production Redis: a database number of the tests' own.
    os.environ["REDIS_URL"] = os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.pop("CELERY_BROKER_URL", None)
    # Pub/sub channels span every Redis database: a prefix per run keeps runs apart.
    os.environ["HERALD_CHANNEL_PREFIX"] = f"herald-test-{os.getpid()}"
    os.environ["HERALD_BROKER_KEY_PREFIX"] = f"herald-test-{os.getpid()}:"
    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["HERALD_TOKEN_SECRET"] = secrets.token_urlsafe(48)
    os.environ.pop("HERALD_TOKEN_SECRETS_OLD", None)

from web.settings import *  # noqa: E402,F403
from web.settings import BASE_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # A file, not memory: worker and web processes must open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.environ['HERALD_TEST_RUN']}.sqlite3")}
else:
    # A database per run, so that two runs on one server (a developer's and CI's) never share one.
    DATABASES["default"]["TEST"] = {"NAME": f"test_herald_{os.environ['HERALD_TEST_RUN']}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A target with a page of its own, as hosts' models have (get_absolute_url): the widget's target-link test
# (tests/system/test_widget.py) points notifications at a Group, which Django's documented override gives a URL.
ABSOLUTE_URL_OVERRIDES = {"auth.group": lambda group: f"/sessions/?group={group.pk}"}
