"""Retention (issue 14, item 4): herald.purge on a large notifications table, and what it does to others.

``python -m bench.retention [--rows 1000000] [--batch-size N] [--probe-seconds 10] [--out FILE]``, alone or
as the optional last section of ``bench.run`` (``--retention ROWS``). PostgreSQL only: its own database
``herald_bench``, created, migrated and dropped here.

It fills the table in one ``INSERT ... SELECT generate_series`` (Herald's rows: one event per 100 recipients,
with its chunk row; ids in time order): 10% older than HERALD_RETENTION_ALL_DAYS, 50% between the two cutoffs
(a fifth of them unread), 40% recent. Then, from another connection, a probe makes what a live site makes:
a one-row insert (a send) and a user's unread state (a tab's catch-up), one after the other, 10 ms apart,
with a 10 ms ``lock_timeout`` (a longer wait for any lock fails and is counted);
first for ``--probe-seconds`` alone, then while ``retention.purge`` runs with the default settings. It reports
the purge's time and rows/s, each batch's read and delete (the delete's transaction is the longest any lock
is held), the probe's p50/p99/max before and during, and the plans of the batch reads (they must use the
timestamp and updated_at indexes). Results go to bench/results/<timestamp>-retention.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from bench import common

RESULTS = common.ROOT / "bench" / "results"
PER_EVENT = 100
USERS = 1000
LOCK_TIMEOUT_MS = 10
# Bands of the table, oldest first: (share of the rows, oldest age in days, youngest age in days).
BANDS = [(0.10, 730, 366), (0.50, 364, 91), (0.40, 89, 0)]


def fill(*, rows: int, now: datetime) -> dict:
    """Users, events (done, with a chunk row each) and ``rows`` notifications, ids in time order."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from notifications.models import Notification

    from herald_live.models import Event, EventChunk

    started = time.perf_counter()
    user_model = get_user_model()
    user_model.objects.bulk_create(
        # "!": an unusable password, as set_unusable_password() stores it.
        [user_model(username=f"retention-{i:05d}", password="!", is_active=True) for i in range(USERS)]  # noqa: S106
    )
    events_total = -(-rows // PER_EVENT)
    ages = []
    for share, oldest, youngest in BANDS:
        count = round(events_total * share)
        ages += [oldest - (oldest - youngest) * i / max(1, count - 1) for i in range(count)]
    ages = (ages + [0.0] * events_total)[:events_total]
    events = Event.objects.bulk_create(
        [Event(audience=Event.Audience.USERS, recipient_ids=[], verb="retention bench", status="done") for _ in ages],
        batch_size=5000,
    )
    EventChunk.objects.bulk_create(
        [EventChunk(event=e, index=0, recipients=PER_EVENT, rows=PER_EVENT, sessions=0) for e in events],
        batch_size=5000,
    )
    event_table, notification_table = Event._meta.db_table, Notification._meta.db_table
    event_ct = ContentType.objects.get_for_model(Event).pk
    with connection.cursor() as cursor:
        # The events' ages, from the list above, in one statement.
        cursor.execute(
            f"UPDATE {event_table} AS e SET created_at = a.at, updated_at = a.at, completed_at = a.at"  # noqa: S608 - model names
            " FROM unnest(%s::bigint[], %s::timestamptz[]) AS a(id, at) WHERE e.id = a.id",
            [[e.pk for e in events], [now - timedelta(days=age) for age in ages]],
        )
        # Herald's rows for system sends: the event is actor and action object; a fifth unread.
        cursor.execute(
            f"""
            WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM {user_model._meta.db_table}
                       WHERE username LIKE 'retention-%%'),
                 e AS (SELECT id, updated_at, row_number() OVER (ORDER BY id) - 1 AS k FROM {event_table})
            INSERT INTO {notification_table} (level, recipient_id, unread, actor_content_type_id, actor_object_id,
                verb, action_object_content_type_id, action_object_object_id, timestamp, public, deleted, emailed)
            SELECT 'info', u.ids[1 + g %% {USERS}], g %% 5 = 0, {event_ct}, e.id::text, 'retention bench',
                   {event_ct}, e.id::text, e.updated_at + (g %% {PER_EVENT}) * interval '1 ms', TRUE, FALSE, FALSE
            FROM generate_series(0, %s - 1) AS g CROSS JOIN u JOIN e ON e.k = g / {PER_EVENT}
            ORDER BY g
            """,  # noqa: S608 - model names and constants
            [rows],
        )
        inserted = cursor.rowcount
    filled = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in (notification_table, event_table, EventChunk._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    return {
        "rows": inserted,
        "events": len(events),
        "users": USERS,
        "fill_seconds": round(filled, 1),
        "vacuum_analyze_seconds": round(time.perf_counter() - started - filled, 1),
    }


class Probe:
    """Another connection doing what a live site does meanwhile: a send's one-row insert, a tab's unread state."""

    def __init__(self, url: str, *, interval: float = 0.01) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.contenttypes.models import ContentType
        from notifications.models import Notification

        user_model = get_user_model()
        self.url = url
        self.interval = interval
        self.table = Notification._meta.db_table
        self.actor_ct = ContentType.objects.get_for_model(user_model).pk
        self.users = list(user_model.objects.filter(username__startswith="retention-").values_list("pk", flat=True))
        self.phase = "before"
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.errors: list[str] = []
        self.lock_waits: dict[str, int] = {}
        self.inserted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _timed(self, kind: str, call, *args) -> None:
        started = time.perf_counter()
        call(*args)
        self.samples.setdefault(self.phase, {}).setdefault(kind, []).append(time.perf_counter() - started)

    def _run(self) -> None:
        import psycopg

        chooser = random.Random(14)  # noqa: S311 - which user, not a secret
        insert = (
            f"INSERT INTO {self.table} (level, recipient_id, unread, actor_content_type_id, actor_object_id, verb,"  # noqa: S608
            " timestamp, public, deleted, emailed)"
            " VALUES ('info', %s, TRUE, %s, %s, 'probe', now(), TRUE, FALSE, FALSE)"
        )
        count = f"SELECT count(*) FROM {self.table} WHERE recipient_id = %s AND deleted = FALSE AND unread = TRUE"  # noqa: S608
        page = (
            f"SELECT id, verb, level, timestamp FROM {self.table} WHERE recipient_id = %s AND deleted = FALSE"  # noqa: S608
            " AND unread = TRUE ORDER BY id DESC LIMIT 50"
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            # A wait for any lock longer than this fails the statement and is counted: "never blocked", measured.
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
            while not self._stop.is_set():
                user = chooser.choice(self.users)
                try:
                    self._timed("insert", conn.execute, insert, [user, self.actor_ct, str(user)])
                    self.inserted += 1
                    self._timed("read", self._read, conn, count, page, user)
                except psycopg.errors.LockNotAvailable:
                    self.lock_waits[self.phase] = self.lock_waits.get(self.phase, 0) + 1
                except psycopg.Error as exc:
                    self.errors.append(repr(exc))
                self._stop.wait(self.interval)

    @staticmethod
    def _read(conn, count: str, page: str, user: int) -> None:
        conn.execute(count, [user]).fetchone()
        conn.execute(page, [user]).fetchall()

    def summary(self, phase: str) -> dict:
        return {kind: common.summary_ms(values) for kind, values in self.samples.get(phase, {}).items()}


def plans(batch_size: int, now: datetime) -> dict[str, str]:
    """EXPLAIN of each pass's batch read, as the purge issues it."""
    from herald_live import retention

    limits = retention.cutoffs(now=now)
    from notifications.models import Notification

    reads = {
        "notifications_old": retention.notifications_going(limits, kind=retention.OLD),
        "notifications_read": retention.notifications_going(limits, kind=retention.READ),
        "events": retention.finished_events(limits, still_there=Notification.objects.all()),
    }
    order = {"events": "updated_at"}
    return {
        kind: rows.order_by(order.get(kind, "timestamp"))
        .values_list("pk", order.get(kind, "timestamp"))[:batch_size]
        .explain()
        for kind, rows in reads.items()
    }


def table_mb() -> float:
    from django.db import connection
    from notifications.models import Notification

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [Notification._meta.db_table])
        return round(cursor.fetchone()[0] / 1024 / 1024, 1)


def batch_summary(batches: list) -> dict:
    by_kind: dict[str, dict] = {}
    for kind in dict.fromkeys(b.kind for b in batches):
        mine = [b for b in batches if b.kind == kind]
        by_kind[kind] = {
            "batches": len(mine),
            "deleted": sum(b.deleted for b in mine),
            "delete_transaction": common.summary_ms([b.seconds for b in mine]),
            "select": common.summary_ms([b.select_seconds for b in mine]),
        }
    by_kind["all"] = {
        "batches": len(batches),
        "delete_transaction": common.summary_ms([b.seconds for b in batches]),
        "select": common.summary_ms([b.select_seconds for b in batches]),
    }
    return by_kind


def measure(*, rows: int, batch_size: int, probe_seconds: float, url: str) -> dict:
    from django.conf import settings
    from django.utils import timezone
    from notifications.models import Notification

    from herald_live import retention
    from herald_live.models import Event, EventChunk

    now = timezone.now()
    results: dict = {
        "settings": {
            "read_days": settings.HERALD_RETENTION_READ_DAYS,
            "all_days": settings.HERALD_RETENTION_ALL_DAYS,
            "batch_size": batch_size,
        }
    }
    print(f"  retention: filling {rows} notifications", flush=True)
    results["fill"] = fill(rows=rows, now=now)
    results["table_mb_before"] = table_mb()
    results["plans"] = plans(batch_size, now)
    started = time.perf_counter()
    dry = retention.purge(now=now, dry_run=True, batch_size=batch_size)
    results["dry_run"] = {"seconds": round(time.perf_counter() - started, 2), "counts": dry["counts"]}
    print(f"  retention: dry run {results['dry_run']}", flush=True)

    probe = Probe(url).start()
    time.sleep(probe_seconds)
    probe.phase = "during"
    batches: list = []
    started = time.perf_counter()
    try:
        report = retention.purge(now=now, batch_size=batch_size, progress=batches.append)
    finally:
        seconds = time.perf_counter() - started
        probe.stop()
    deleted = sum(report["counts"][k] for k in (retention.OLD, retention.READ))
    results["purge"] = {
        "seconds": round(seconds, 2),
        "counts": report["counts"],
        "complete": report["complete"],
        "notifications_deleted_per_s": round(deleted / seconds),
        "batches": batch_summary(batches),
    }
    results["probe"] = {
        "interval_ms": probe.interval * 1000,
        "before": probe.summary("before"),
        "during": probe.summary("during"),
        "inserted": probe.inserted,
        f"lock_waits_over_{LOCK_TIMEOUT_MS}ms": probe.lock_waits,
        "errors": probe.errors[:5],
    }
    left = Notification.objects.count()
    results["check"] = {
        "notifications_left": left,
        "expected_left": results["fill"]["rows"] - deleted + probe.inserted,
        "dry_run_matched": dry["counts"] == report["counts"],
        "events_left": Event.objects.count(),
        "chunks_left": EventChunk.objects.count(),
    }
    results["table_mb_after"] = table_mb()
    # The machine is shared: how busy it was around the purge says how far these figures carry.
    results["loadavg_after"] = common.loadavg()
    return results


def render(results: dict) -> str:
    purge = results.get("purge")
    if not purge:
        return "\nRetention: no result"
    probe, batches = results["probe"], purge["batches"]["all"]
    fill, delete, read = results["fill"], batches["delete_transaction"], batches["select"]
    lines = [
        f"\nRetention [postgres]: {fill['rows']} notifications (filled in {fill['fill_seconds']} s),"
        f" batches of {results['settings']['batch_size']}",
        f"  purge {purge['seconds']} s, {purge['notifications_deleted_per_s']} notifications/s,"
        f" counts {purge['counts']}; dry run {results['dry_run']['seconds']} s"
        f" (matched: {results['check']['dry_run_matched']})",
        f"  {batches['batches']} batches: delete transaction p50 {delete['p50_ms']} p99 {delete['p99_ms']}"
        f" max {delete['max_ms']} ms; read p50 {read['p50_ms']} p99 {read['p99_ms']} max {read['max_ms']} ms",
    ]
    for kind in ("insert", "read"):
        before, during = probe["before"].get(kind, {}), probe["during"].get(kind, {})
        lines.append(
            f"  other connection, {kind}: before p50 {before.get('p50_ms')} p99 {before.get('p99_ms')} max"
            f" {before.get('max_ms')} ms (n {before.get('n')}); during p50 {during.get('p50_ms')} p99"
            f" {during.get('p99_ms')} max {during.get('max_ms')} ms (n {during.get('n')})"
        )
    lines.append(
        f"  left {results['check']['notifications_left']} (expected {results['check']['expected_left']});"
        f" table {results['table_mb_before']} -> {results['table_mb_after']} MB; probe errors {len(probe['errors'])},"
        f" lock waits over {LOCK_TIMEOUT_MS} ms {probe.get(f'lock_waits_over_{LOCK_TIMEOUT_MS}ms')}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=None, help="default: HERALD_RETENTION_BATCH_SIZE")
    parser.add_argument("--probe-seconds", type=float, default=10, help="the other connection alone, before")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    common.install_signal_handlers()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id, env = common.run_env(stamp)
    env["HERALD_LOG_LEVEL"] = "WARNING"
    from bench import dbsuite

    db_url = dbsuite.prepare_database("postgres", run_id)
    env["DATABASE_URL"] = db_url
    os.environ.update(env)
    common.check_env_is_safe(env)
    out_path = common.Path(args.out) if args.out else RESULTS / f"{stamp}-retention.json"
    results: dict = {"section": "retention", "run": run_id, "started": stamp, "machine": common.machine_info()}
    code = 1
    try:
        results["migrate_seconds"] = dbsuite.migrate(env)
        import django

        django.setup()
        from django.conf import settings

        batch_size = args.batch_size or settings.HERALD_RETENTION_BATCH_SIZE
        results |= measure(rows=args.rows, batch_size=batch_size, probe_seconds=args.probe_seconds, url=db_url)
        check = results["check"]
        code = 0 if check["notifications_left"] == check["expected_left"] and results["purge"]["complete"] else 1
    finally:
        common.write_json(out_path, results)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django may not be set up
            pass
        dbsuite.drop_database("postgres", db_url)
    print(render(results))
    print(f"results: {out_path.relative_to(common.ROOT) if out_path.is_relative_to(common.ROOT) else out_path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
