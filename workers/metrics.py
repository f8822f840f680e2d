"""Prometheus metrics of the workers, from Celery's signals (the tasks stay thin).

With HERALD_WORKER_METRICS_PORT set, the worker's main process serves them over HTTP;
the pool's children write to PROMETHEUS_MULTIPROC_DIR, which the worker then requires.
"""

from __future__ import annotations

import logging
import os
import time

import redis
from celery import signals
from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily

from herald_live.envvars import env_int
from herald_live.infra import redis_clients

logger = logging.getLogger(__name__)

TASKS = Counter("herald_worker_tasks", "Tasks finished, by task and outcome", ["task", "outcome"])
DURATION = Histogram(
    "herald_worker_task_duration_seconds",
    "Task run time (herald.fan_out is the fan-out duration of one event)",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
QUEUES = ("herald.interactive", "herald.bulk", "herald.push")
_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    TASKS.labels(task=name, outcome=(state or "unknown").lower()).inc()
    if started is not None:
        DURATION.labels(task=name).observe(time.perf_counter() - started)


class QueueDepthCollector:
    """Reads the broker's queue lengths at scrape time."""

    def __init__(self, url: str, key_prefix: str) -> None:
        # A scrape must not wait long on a Redis that does not answer: the queue's depth is then NaN.
        self.client = redis_clients.client(url, timeout=1)
        self.key_prefix = key_prefix

    def collect(self):
        family = GaugeMetricFamily("herald_queue_depth", "Tasks waiting in a broker queue", labels=["queue"])
        for queue in QUEUES:
            try:
                family.add_metric([queue], self.client.llen(f"{self.key_prefix}{queue}"))
            except redis.RedisError:
                family.add_metric([queue], float("nan"))
        yield family


def registry() -> CollectorRegistry:
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    collected.register(QueueDepthCollector(settings.CELERY_BROKER_URL, settings.HERALD_BROKER_KEY_PREFIX))
    return collected


@signals.worker_ready.connect
def _serve_metrics(**kwargs) -> None:
    port = env_int("HERALD_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
    if not port:
        return
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        raise RuntimeError("HERALD_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (an empty, writable directory)")
    start_http_server(port, addr=os.environ.get("HERALD_WORKER_METRICS_HOST", "127.0.0.1"), registry=registry())
    logger.info("worker metrics on port %s", port)
