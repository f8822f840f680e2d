"""The Celery application. Its settings are the CELERY_* names of the Django settings.

Celery's Django fix-up runs django.setup() when a worker starts; the web process has
already done so when it imports the tasks to enqueue them.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds herald_live.tasks (and any other installed app's tasks), as in any Django project.
app.autodiscover_tasks()
# Imported by worker processes only (not by the web, which just enqueues).
app.conf.imports = ("workers.metrics",)
