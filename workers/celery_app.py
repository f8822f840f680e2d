"""The Celery application. Its settings are the CELERY_* names of the Django settings.

Celery's Django fix-up runs django.setup() when a worker starts; the web process has
already done so when it imports the tasks to enqueue them.
"""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
# Imported by worker processes only (not by the web, which just enqueues).
app.conf.imports = ("workers.metrics",)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(**kwargs) -> None:
    """What Django does at each request's start and end: close connections that are too old
    (CONN_MAX_AGE) or broken, so that a database restart costs at most one failed task."""
    from django.db import close_old_connections

    close_old_connections()
