"""Prometheus metrics of the web, served at ``/metrics``.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory
per start) so that every process's counters are added up.
"""

from __future__ import annotations

import os

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess


def metrics(request):
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
