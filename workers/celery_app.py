"""The Celery application. Its settings are the CELERY_* names of the Django settings.

Celery's Django fix-up runs django.setup() when a worker starts. The web process enqueues Herald's tasks by name
(herald_live/infra/jobs.py) through this app, which autodiscovery gave the tasks to.
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
