"""Sections 1 to 3 on one database: bulk fan-out, send-request latency, interactive end-to-end latency.

``python -m bench.dbsuite --db sqlite|postgres --out FILE [--quick] [--sections 1,2,3] [--profile]``,
started by ``bench.run`` with the run's environment. It owns its database (a fresh SQLite file under
var/bench/<run>/, or the PostgreSQL database herald_bench, created here and dropped at the end), starts
the real processes (gunicorn, Celery workers, the pusher) and stops every one of them, whatever happens.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import threading
import time
from datetime import timedelta

from bench import common, profiling

PASSWORD = secrets.token_urlsafe(16)
ALL_SECTIONS = (1, 2, 3)


# --- database ---------------------------------------------------------------------------------------


def prepare_database(kind: str, run_id: str) -> str:
    if kind == "sqlite":
        path = common.run_dir(run_id) / "herald-bench.sqlite3"
        for suffix in ("", "-journal", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(common.PG_ADMIN_URL, autocommit=True) as admin:
        # A killed run's database has no connection left; one in use is another run's, which FORCE would end.
        (users,) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [common.BENCH_PG_DB]
        ).fetchone()
        if users:
            raise SystemExit(f"another bench run is using the database {common.BENCH_PG_DB} ({users} connections)")
        admin.execute(f"DROP DATABASE IF EXISTS {common.BENCH_PG_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {common.BENCH_PG_DB}")
    return f"postgresql://postgres@127.0.0.1:5432/{common.BENCH_PG_DB}"


def drop_database(kind: str, url: str) -> None:
    if kind == "sqlite":
        path = common.Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-journal", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(common.PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {common.BENCH_PG_DB} WITH (FORCE)")


# --- the system's processes -------------------------------------------------------------------------------


class System:
    """gunicorn, the Celery workers and the pusher, on ports and names of this run."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log_dir = common.run_dir(env["HERALD_BENCH_RUN"]) / "logs"
        self.tag = env["HERALD_BENCH_RUN"]
        self.web = self.pusher = None
        self.workers: list[common.Service] = []
        self.starts = 0
        self.web_url = env["BENCH_WEB_URL"]
        self.pusher_url = env["BENCH_PUSHER_URL"]

    def start_pusher(self) -> None:
        env = {**self.env, "HERALD_PUSHER_ASYNC_MODE": "eventlet"}
        self.pusher = common.Service(
            f"{self.env['BENCH_DB']}-pusher", [common.PY, "-m", "herald_live.pusher"], env, self.log_dir
        )
        self.pusher.start().wait_for_http(f"{self.pusher_url}/healthz")

    def start_web(self) -> None:
        port = self.web_url.rsplit(":", 1)[1]
        args = [common.PY, "-m", "gunicorn", "web.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        args += ["--workers", "2", "--timeout", "120", "--graceful-timeout", "5", "--error-logfile", "-"]
        self.web = common.Service(f"{self.env['BENCH_DB']}-web", args, self.env, self.log_dir)
        self.web.start().wait_for_http(f"{self.web_url}/accounts/login/")

    def start_workers(self) -> None:
        """As compose.yaml lays them out (an interactive and a bulk worker), sized by BENCH_WORKERS for 2 cores."""
        interactive, bulk = (int(x) for x in self.env.get("BENCH_WORKERS", "1,1").split(","))
        for name, queues, concurrency in (
            ("interactive", "herald.interactive", interactive),
            ("bulk", "herald.bulk", bulk),
        ):
            args = [common.PY, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork"]
            nice = int(self.env.get("BENCH_BULK_NICE", "0")) if name == "bulk" else 0
            args = ["nice", "-n", str(nice), *args] if nice else args
            args += ["--concurrency", str(concurrency), "-Q", queues, "--loglevel", "INFO"]
            args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            args += ["--hostname", f"bench-{name}-{self.tag}@%h"]
            label = f"{self.env['BENCH_DB']}-worker-{name}-{self.starts}"
            self.workers.append(common.Service(label, args, self.env, self.log_dir).start())
        self.starts += 1
        for worker in self.workers:
            worker.wait_for_log("ready.", timeout=90)

    def kill_workers(self) -> None:
        """Stops the workers at once (a fan-out of 100k rows would make a warm shutdown wait)."""
        for worker in self.workers:
            worker.kill()
        self.workers = []

    def processes(self) -> dict[str, list[int]]:
        """The processes whose CPU a measurement reports, by part."""
        return {
            "workers": [pid for w in self.workers for pid in common.live_group_members(w.pid)],
            "pusher": [self.pusher.pid] if self.pusher else [],
            "web": common.live_group_members(self.web.pid) if self.web else [],
            "bench": [os.getpid()],
            "postgres_server": common.pids_named("postgres"),
            "redis_server": common.pids_named("redis-server"),
        }


class CpuTracker:
    """CPU seconds per part over a measurement, sampled now and then.

    Processes come and go (a database connection's backend ends when the connection does), so each process
    counts from its first sample (from zero if it appeared after the start) to its last one.
    """

    def __init__(self, system: System) -> None:
        self.system = system
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.started = time.perf_counter()
        self.machine = _machine_busy_seconds()
        self.steal = _steal_seconds()
        self._sample(initial=True)

    def _sample(self, *, initial: bool) -> None:
        for part, pids in self.system.processes().items():
            for pid in pids:
                used = common.cpu_seconds(pid)
                key = (part, pid)
                if key not in self.first:
                    self.first[key] = used if initial else 0.0
                if used:
                    self.last[key] = used

    def sample(self) -> None:
        self._sample(initial=False)

    def result(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = {}
        for (part, pid), used in self.last.items():
            out[part] = out.get(part, 0.0) + max(0.0, used - self.first[(part, pid)])
        out = {part: round(seconds, 2) for part, seconds in out.items()}
        out["machine"] = round(_machine_busy_seconds() - self.machine, 2)
        out["other"] = round(out["machine"] - sum(v for k, v in out.items() if k != "machine"), 2)
        out["steal"] = round(_steal_seconds() - self.steal, 2)
        out["wall"] = round(time.perf_counter() - self.started, 2)
        return out


def _machine_busy_seconds() -> float:
    """CPU time this machine spent working (user, nice, system, irq, softirq), all cores; not idle, iowait, steal."""
    fields = [int(x) for x in common.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[0:3]) + fields[5] + fields[6]) / common.CLK_TCK


def _steal_seconds() -> float:
    """CPU time the hypervisor gave to others while this machine wanted it (noisy neighbours)."""
    fields = [int(x) for x in common.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7] / common.CLK_TCK


# --- data ---------------------------------------------------------------------------------------------


def ensure_users(total: int, password_hash: str) -> dict:
    """Users bench-000000.. up to ``total`` (bulk_create, one precomputed hash), each with 1 or 2 live sessions."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from user_sessions.backends.db import SessionStore
    from user_sessions.models import Session

    user_model = get_user_model()
    have = user_model.objects.filter(username__startswith="bench-").count()
    started = time.perf_counter()
    store = SessionStore()
    expire = timezone.now() + timedelta(days=14)
    backend = "django.contrib.auth.backends.ModelBackend"
    sessions_made = 0
    for first in range(have, total, 5000):
        indexes = range(first, min(total, first + 5000))
        users = user_model.objects.bulk_create(
            [user_model(username=f"bench-{i:06d}", password=password_hash, is_active=True) for i in indexes]
        )
        auth_hash = users[0].get_session_auth_hash()  # one password hash for all: one session hash
        sessions = []
        for index, user in zip(indexes, users, strict=True):
            data = store.encode(
                {"_auth_user_id": str(user.pk), "_auth_user_backend": backend, "_auth_user_hash": auth_hash}
            )
            for _ in range(1 + index % 2):
                sessions.append(
                    Session(
                        session_key=secrets.token_hex(16),
                        session_data=data,
                        expire_date=expire,
                        user_id=user.pk,
                        user_agent="herald-bench",
                        ip="127.0.0.1",
                    )
                )
        Session.objects.bulk_create(sessions, batch_size=2000)
        sessions_made += len(sessions)
    return {
        "users_total": user_model.objects.filter(is_active=True).count(),
        "users_created": max(0, total - have),
        "sessions_created": sessions_made,
        "seconds": round(time.perf_counter() - started, 2),
    }


def live_sessions_of_active_users() -> int:
    from django.utils import timezone
    from user_sessions.models import Session

    return Session.objects.filter(user__is_active=True, expire_date__gt=timezone.now()).count()


def clean_rows(kind: str) -> None:
    """Removes every notification and event (the bench's database only), so measurements start equal.

    Events go through the ORM, so that whatever hangs off them (their chunks) goes too.
    """
    from django.db import connection
    from notifications.models import Notification

    from herald_live.models import Event

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Notification._meta.db_table}")  # noqa: S608 - a model's own table name
    Event.objects.all().delete()
    if kind == "postgres":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Notification._meta.db_table}")
            cursor.execute(f"VACUUM ANALYZE {Event._meta.db_table}")
            # Flush now, so that no checkpoint of these deletes lands in the next measurement (writes nothing).
            cursor.execute("CHECKPOINT")
    settle()


def settle(*, busy_below: float = 0.35, max_wait: float = 20.0) -> float:
    """Waits (bounded) until the machine is mostly idle, so one measurement does not pay for the last one."""
    started = time.monotonic()
    while time.monotonic() - started < max_wait:
        before = _machine_busy_seconds()
        time.sleep(0.5)
        if (_machine_busy_seconds() - before) / 0.5 / (os.cpu_count() or 1) < busy_below:
            break
    return round(time.monotonic() - started, 1)


def notification_count() -> int:
    from notifications.models import Notification

    return Notification.objects.count()


# --- section 1 ----------------------------------------------------------------------------------------


def bare_bulk_create(actor, label: str) -> dict:
    """The floor: rows shaped as the fan-out writes them (the event as action object), 1,000-row batches."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone
    from notifications.models import Notification

    from herald_live.models import Event

    actor_ct = ContentType.objects.get_for_model(get_user_model())
    event_ct = ContentType.objects.get_for_model(Event)
    started = time.perf_counter()
    with transaction.atomic():
        ids = list(get_user_model().objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
        now = timezone.now()
        rows = [
            Notification(
                recipient_id=user_id,
                actor_content_type=actor_ct,
                actor_object_id=str(actor.pk),
                verb=label,
                level="info",
                action_object_content_type=event_ct,
                action_object_object_id=label,
                timestamp=now,
            )
            for user_id in ids
        ]
        Notification.objects.bulk_create(rows, batch_size=1000)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "rows": notification_count()}


def notify_send(actor, label: str) -> dict:
    from django.contrib.auth import get_user_model
    from notifications.signals import notify

    started = time.perf_counter()
    notify.send(actor, recipient=get_user_model().objects.filter(is_active=True), verb=label, level="info")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "rows": notification_count()}


def pipeline(system: System, actor, label: str, *, timeout: float, profile_dir=None) -> dict:
    """From send_notification(everyone=True) until the event is done: every row stored, every publish made."""
    from herald_live.actions import sending
    from herald_live.models import Event

    expected_sessions = live_sessions_of_active_users()
    spy = spy_out = None
    if profile_dir is not None and system.workers:
        spy_out = profile_dir / f"{system.env['BENCH_DB']}-section1-workers-{label}.txt"
        bulk = [w for w in system.workers if "-bulk-" in w.name] or system.workers
        spy = profiling.start(bulk[0].pid, seconds=600, out=spy_out, subprocesses=True)
        time.sleep(1.0)
    redis = common.redis_client(system.env)
    cpu = CpuTracker(system)
    started = time.perf_counter()
    event = sending.send_notification(actor=actor, everyone=True, verb=label, level="info")
    enqueued = time.perf_counter() - started
    first_rows = None
    backlog_kb = 0
    last_sample = 0.0
    state: dict = {}
    deadline = started + timeout
    while time.perf_counter() < deadline:
        state = Event.objects.filter(pk=event.pk).values("status", "rows_persisted", "sessions_published").get()
        now = time.perf_counter()
        if first_rows is None and state["rows_persisted"]:
            first_rows = now - started
        if state["status"] in (Event.Status.DONE, Event.Status.FAILED):
            break
        if now - last_sample > 0.5:
            backlog_kb, last_sample = max(backlog_kb, common.pubsub_backlog_kb(redis)), now
            cpu.sample()
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu_seconds = cpu.result()
    redis.close()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
    out = {
        "seconds": round(seconds, 3),
        "status": state.get("status"),
        "enqueue_ms": round(enqueued * 1000, 2),
        "first_chunk_seconds": round(first_rows, 3) if first_rows else None,
        "rows_persisted": state.get("rows_persisted"),
        "rows_in_table": notification_count(),
        "sessions_published": state.get("sessions_published"),
        "sessions_expected": expected_sessions,
        "pusher_backlog_peak_kb": backlog_kb,
        "cpu_seconds": cpu_seconds,
    }
    if spy is not None:
        out["profile"] = profiling.finish(spy, spy_out)
    if state.get("status") != Event.Status.DONE:
        out["error"] = f"event not done after {timeout}s"
    return out


def section1(system: System, kind: str, sizes: list[int], password_hash: str, profile_dir) -> list[dict]:
    from django.contrib.auth import get_user_model

    results = []
    for size in sizes:
        setup = ensure_users(size, password_hash)
        actor = get_user_model().objects.get(username="bench-000000")
        print(f"  section 1 [{kind}] N={setup['users_total']}: users ready in {setup['seconds']}s", flush=True)
        clean_rows(kind)
        entry: dict = {"recipients": setup["users_total"], "setup": setup}
        entry["sessions_live"] = live_sessions_of_active_users()
        entry["bare_bulk_create"] = bare_bulk_create(actor, f"bare-{size}")
        clean_rows(kind)
        entry["notify_send"] = notify_send(actor, f"notify-{size}")
        clean_rows(kind)
        profile_here = profile_dir if size == max(sizes) else None
        entry["pipeline"] = pipeline(
            system, actor, f"pipeline-{size}", timeout=max(120.0, size / 200), profile_dir=profile_here
        )
        clean_rows(kind)
        entry["bare_bulk_create_again"] = bare_bulk_create(actor, f"bare2-{size}")
        clean_rows(kind)
        floor = min(entry["bare_bulk_create"]["seconds"], entry["bare_bulk_create_again"]["seconds"])
        entry["ratio_pipeline_to_bare"] = round(entry["pipeline"]["seconds"] / floor, 2)
        entry["ratio_notify_to_bare"] = round(entry["notify_send"]["seconds"] / floor, 2)
        print(
            f"  section 1 [{kind}] N={size}: bare {floor:.2f}s, notify.send {entry['notify_send']['seconds']:.2f}s,"
            f" pipeline {entry['pipeline']['seconds']:.2f}s (x{entry['ratio_pipeline_to_bare']})",
            flush=True,
        )
        results.append(entry)
    return results


# --- section 2 ----------------------------------------------------------------------------------------


def _send_latencies(session, *, to: str = "", everyone: bool = False, count: int, label: str, every_25=None) -> dict:
    for i in range(5):
        session.send(to="bench-000001", message=f"warm-{label}-{i}")
    settle()
    seconds, statuses = [], {}
    for i in range(count):
        started = time.perf_counter()
        response = session.send(to=to, everyone=everyone, message=f"{label}-{i}")
        seconds.append(time.perf_counter() - started)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if every_25 is not None and i % 25 == 0:
            every_25()
    return {**common.summary_ms(seconds), "statuses": statuses}


def _drop_pending(system: System, kind: str) -> dict:
    """With no worker running: forget queued tasks (this run's keys only) and every row they made."""
    deleted = common.purge_broker_keys(system.env)
    clean_rows(kind)
    return {"broker_keys_deleted": deleted}


def section2(system: System, kind: str, requests_count: int) -> dict:
    from django.contrib.auth import get_user_model

    from tests.support.clients import WebSession

    # Sending to everyone takes a permission (staff, or herald_live.send_to_everyone).
    get_user_model().objects.filter(username="bench-000000").update(is_staff=True)
    sender = WebSession(system.web_url, "bench-000000", PASSWORD)
    out: dict = {"users_present": get_users_total(), "requests": requests_count}
    system.kill_workers()
    _drop_pending(system, kind)
    print(f"  section 2 [{kind}]: no worker", flush=True)
    out["no_worker_one"] = _send_latencies(sender, to="bench-000001", count=requests_count, label="s2-one")
    out["no_worker_everyone"] = _send_latencies(sender, everyone=True, count=requests_count, label="s2-all")
    out["no_worker_cleanup"] = _drop_pending(system, kind)
    system.start_workers()
    print(f"  section 2 [{kind}]: with workers", flush=True)
    out["worker_one"] = _send_latencies(sender, to="bench-000001", count=requests_count, label="s2w-one")
    cpu = CpuTracker(system)
    out["worker_everyone"] = _send_latencies(
        sender, everyone=True, count=requests_count, label="s2w-all", every_25=cpu.sample
    )
    out["worker_everyone"]["cpu_seconds"] = cpu.result()
    system.kill_workers()
    out["worker_cleanup"] = _drop_pending(system, kind)
    system.start_workers()
    return out


def get_users_total() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).count()


# --- section 3 ----------------------------------------------------------------------------------------


class ProbeSocket:
    """The probe user's session (bench-000001) and a python-socketio client on it; records when each verb arrives.

    Connected from the start, as a live site always has sockets: python-socketio subscribes a pusher to the
    Redis channel only when its first socket connects, and section 1 should pay for the pusher's share.
    """

    def __init__(self, system: System) -> None:
        from tests.support.clients import WebSession

        self.system = system
        self.tab = WebSession(system.web_url, "bench-000001", PASSWORD)
        self.arrivals: dict[str, float] = {}
        self.changed = threading.Condition()
        self.client = None
        self.connects = 0
        self.ensure_connected()

    def ensure_connected(self) -> None:
        import socketio

        if self.client is not None and self.client.connected:
            return
        self.client = socketio.Client(reconnection=False, websocket_extra_options={"origin": self.system.web_url})
        self.client.on("herald", self._receive)
        token = self.tab.token()
        self.client.connect(self.system.pusher_url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        self.connects += 1

    def _receive(self, envelope: dict) -> None:
        now = time.perf_counter()
        verb = envelope.get("data", {}).get("verb")
        with self.changed:
            self.arrivals.setdefault(verb, now)
            self.changed.notify_all()

    def wait_for(self, verb: str, timeout: float) -> float | None:
        with self.changed:
            if self.changed.wait_for(lambda: verb in self.arrivals, timeout=timeout):
                return self.arrivals[verb]
        return None

    def close(self) -> None:
        if self.client is not None and self.client.connected:
            self.client.disconnect()


def _interactive(sender, probe: ProbeSocket, *, count: int, label: str, busy=None) -> dict:
    """``count`` sends to the probe; e2e = request start -> the socket has it. ``busy()`` says if a bulk job runs."""
    e2e, requests_, overlapped, lost = [], [], 0, 0
    for i in range(count):
        running = busy() if busy else False
        verb = f"{label}-{i}"
        started = time.perf_counter()
        response = sender.send(to="bench-000001", message=verb)
        requests_.append(time.perf_counter() - started)
        if response.status_code != 202:
            lost += 1
            continue
        arrived = probe.wait_for(verb, timeout=15)
        if arrived is None:
            lost += 1
        else:
            e2e.append(arrived - started)
        if running and busy():
            overlapped += 1
        time.sleep(0.05)
    return {**common.summary_ms(e2e), "request": common.summary_ms(requests_), "lost": lost, "during_bulk": overlapped}


def section3(system: System, kind: str, count: int, probe: ProbeSocket) -> dict:
    from django.contrib.auth import get_user_model

    from herald_live.actions import sending
    from herald_live.models import Event
    from tests.support.clients import WebSession

    sender = WebSession(system.web_url, "bench-000000", PASSWORD)
    probe.ensure_connected()
    out: dict = {"users_present": get_users_total(), "sends": count}
    _interactive(sender, probe, count=5, label="s3-warm")
    settle()
    print(f"  section 3 [{kind}]: idle", flush=True)
    out["idle"] = _interactive(sender, probe, count=count, label="s3-idle")
    actor = get_user_model().objects.get(username="bench-000000")
    jobs: list[int] = []

    def busy() -> bool:
        """True while a bulk job runs; starts the next one (at most 3) when the last has finished."""
        status = Event.objects.filter(pk=jobs[-1]).values_list("status", flat=True).get()
        if status in (Event.Status.DONE, Event.Status.FAILED) and len(jobs) < 3:
            jobs.append(sending.send_notification(actor=actor, everyone=True, verb="s3-bulk", level="info").pk)
            return True
        return status not in (Event.Status.DONE, Event.Status.FAILED)

    jobs.append(sending.send_notification(actor=actor, everyone=True, verb="s3-bulk", level="info").pk)
    common.wait_until(
        lambda: Event.objects.get(pk=jobs[-1]).rows_persisted > 0, timeout=60, what="the bulk job to start"
    )
    print(f"  section 3 [{kind}]: during an everyone-job of {out['users_present']} recipients", flush=True)
    out["during_bulk"] = _interactive(sender, probe, count=count, label="s3-bulk", busy=busy)
    out["bulk_jobs_started"] = len(jobs)
    out["probe_connects"] = probe.connects
    # Whatever is left of the bulk jobs is dropped: the next section starts from a clean queue.
    finished = (Event.Status.DONE, Event.Status.FAILED)
    out["bulk_job_running_at_end"] = Event.objects.filter(pk=jobs[-1]).exclude(status__in=finished).exists()
    system.kill_workers()
    common.purge_broker_keys(system.env)
    clean_rows(kind)
    system.start_workers()
    return out


# --- main ---------------------------------------------------------------------------------------------------


def migrate(env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(
        [common.PY, str(common.ROOT / "manage.py"), "migrate", "--no-input", "-v", "0"],
        cwd=common.ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sections", default="1,2,3")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    common.install_signal_handlers()
    sections = {int(s) for s in args.sections.split(",") if s}
    sizes = (
        [int(s) for s in args.sizes.split(",")] if args.sizes else ([2000, 10000] if args.quick else [10000, 100000])
    )
    run_id = os.environ["HERALD_BENCH_RUN"]
    web_port, pusher_port = common.free_port(), common.free_port()
    env = dict(os.environ)
    env.update(
        BENCH_DB=args.db,
        BENCH_WEB_URL=f"http://127.0.0.1:{web_port}",
        BENCH_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_PUSHER_PORT=str(pusher_port),
        HERALD_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}",
        # Section 2 sends hundreds of requests from one user: the limit stays on (its Redis call is
        # part of the request) but high enough never to refuse.
        HERALD_SEND_RATE_LIMIT="1000000",
    )
    db_url = prepare_database(args.db, run_id)
    env["DATABASE_URL"] = db_url
    os.environ.update(env)
    common.check_env_is_safe(env)
    results: dict = {"db": args.db, "sizes": sizes, "workers_interactive_bulk": env.get("BENCH_WORKERS", "1,1")}
    results["bulk_worker_nice"] = int(env.get("BENCH_BULK_NICE", "0"))
    profile_dir = None
    if args.profile and profiling.py_spy():
        profile_dir = common.run_dir(run_id) / "profiles"
        profile_dir.mkdir(exist_ok=True)
    system = System(env)
    try:
        results["migrate_seconds"] = migrate(env)
        import django

        django.setup()
        # The services log every send at INFO; the bench's own table is what this process prints.
        logging.getLogger("web").setLevel(logging.WARNING)
        from django.contrib.auth.hashers import make_password

        password_hash = make_password(PASSWORD)
        system.start_pusher()
        system.start_workers()
        system.start_web()
        ensure_users(min(sizes), password_hash)
        probe = ProbeSocket(system)
        if 1 in sections:
            results["section1"] = section1(system, args.db, sizes, password_hash, profile_dir)
            common.write_json(common.Path(args.out), results)
        results["setup_for_2_3"] = ensure_users(max(sizes), password_hash)
        results["sessions_live"] = live_sessions_of_active_users()
        if 2 in sections:
            results["section2"] = section2(system, args.db, 200 if args.quick else 500)
            common.write_json(common.Path(args.out), results)
        if 3 in sections:
            results["section3"] = section3(system, args.db, 100 if args.quick else 200, probe)
        probe.close()
    finally:
        common.write_json(common.Path(args.out), results)
        common.stop_all()
        from django.db import connections

        connections.close_all()
        common.purge_broker_keys(env)
        drop_database(args.db, db_url)


if __name__ == "__main__":
    main()
