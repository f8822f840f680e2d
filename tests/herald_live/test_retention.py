"""Retention (herald_live/retention.py): what goes, what stays, in batches, and how operators run it."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from notifications.models import Notification

from herald_live import retention
from herald_live.models import EmailDigest, Event, EventChunk
from herald_live.selectors import notifications as notification_selectors
from tests.support import processes
from web.database_url import database_url_of

NOW = timezone.now()
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
JSON = {"HTTP_ACCEPT": "application/json"}


def note(user, *, age: timedelta, unread: bool = False, deleted: bool = False, event: Event | None = None):
    """One notification of ``user``, ``age`` before NOW (bulk_create: no signal, no publish)."""
    (row,) = Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                actor_content_type=ContentType.objects.get_for_model(user),
                actor_object_id=str(user.pk),
                verb=f"age {age}",
                unread=unread,
                deleted=deleted,
                timestamp=NOW - age,
                action_object_content_type=ContentType.objects.get_for_model(Event) if event else None,
                action_object_object_id=str(event.pk) if event else None,
            )
        ]
    )
    return row


def finished_event(user, *, status: str = Event.Status.DONE, age: timedelta, chunks: int = 1) -> Event:
    event = Event.objects.create(audience="user", recipient=user, verb="e", status=status)
    EventChunk.objects.bulk_create(
        [EventChunk(event=event, index=i, recipients=1, rows=1, sessions=0) for i in range(chunks)]
    )
    Event.objects.filter(pk=event.pk).update(updated_at=NOW - age)
    return event


def remaining(*rows) -> set[int]:
    return set(Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def purge(**options):
    return retention.purge(now=NOW, batch_size=options.pop("batch_size", 1000), **options)


# --- what goes -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_read_ones_go_after_the_read_days_and_every_one_after_the_all_days(alice):
    kept = [
        note(alice, age=90 * DAY - SECOND),  # read, just inside 90 days
        note(alice, age=90 * DAY),  # exactly at the cutoff: not older than it
        note(alice, age=90 * DAY + SECOND, unread=True),
        note(alice, age=365 * DAY - SECOND, unread=True),
        note(alice, age=365 * DAY, unread=True),
    ]
    read_gone = [note(alice, age=90 * DAY + SECOND), note(alice, age=200 * DAY, unread=True, deleted=True)]
    old_gone = [note(alice, age=365 * DAY + SECOND, unread=True), note(alice, age=3 * 365 * DAY)]

    report = purge()

    assert remaining(*kept, *read_gone, *old_gone) == {n.pk for n in kept}
    assert report["counts"] == {
        "notifications_old": 2,
        "notifications_read": 2,
        "events": 0,
        "event_chunks": 0,
        "email_digests": 0,
    }
    assert report["complete"] is True and report["dry_run"] is False
    assert report["cutoffs"]["read"] == (NOW - 90 * DAY).isoformat()


@pytest.mark.django_db
def test_with_all_days_none_unread_ones_are_kept_for_ever(alice, settings):
    settings.HERALD_RETENTION_ALL_DAYS = None
    ancient_unread = note(alice, age=10 * 365 * DAY, unread=True)
    old_read = note(alice, age=91 * DAY)
    lonely = finished_event(alice, age=91 * DAY)  # events then follow the read cutoff

    report = purge()

    assert remaining(ancient_unread, old_read) == {ancient_unread.pk}
    assert not Event.objects.filter(pk=lonely.pk).exists()
    assert report["cutoffs"]["all"] is None
    assert report["counts"]["notifications_old"] == 0


@pytest.mark.django_db
def test_a_batch_smaller_than_the_rows_takes_several_batches_and_leaves_none(alice):
    # 23 old read rows, three to a timestamp (ties across batch edges), between old unread ones that stay.
    going, staying = [], []
    for i in range(23):
        going.append(note(alice, age=100 * DAY + (i // 3) * SECOND))
        if i % 4 == 0:
            staying.append(note(alice, age=100 * DAY + (i // 3) * SECOND, unread=True))
    batches = []

    report = purge(batch_size=5, progress=batches.append)

    assert remaining(*going, *staying) == {n.pk for n in staying}
    assert [(b.kind, b.deleted) for b in batches] == [("notifications_read", 5)] * 4 + [("notifications_read", 3)]
    assert report["batches"] == 5 and report["counts"]["notifications_read"] == 23


@pytest.mark.django_db
def test_events_stay_while_any_notification_points_at_them(alice, bob):
    half_gone = finished_event(alice, age=400 * DAY, chunks=2)
    old_read = note(alice, age=400 * DAY, event=half_gone)
    still_unread = note(bob, age=300 * DAY, unread=True, event=half_gone)
    all_gone = finished_event(alice, age=400 * DAY, chunks=3)
    note(alice, age=400 * DAY, event=all_gone)
    note(bob, age=100 * DAY, event=all_gone)
    recent = finished_event(alice, age=364 * DAY)  # nothing points at it, but it is younger than the cutoff

    report = purge()

    assert remaining(old_read, still_unread) == {still_unread.pk}
    assert set(Event.objects.filter(pk__in=[half_gone.pk, all_gone.pk, recent.pk]).values_list("pk", flat=True)) == {
        half_gone.pk,
        recent.pk,
    }
    assert EventChunk.objects.filter(event=half_gone).count() == 2
    assert not EventChunk.objects.filter(event_id=all_gone.pk).exists()
    assert report["counts"]["events"] == 1 and report["counts"]["event_chunks"] == 3


@pytest.mark.django_db
def test_old_email_digest_records_go_but_each_users_latest_stays(alice, bob):
    def digest(user, *, age: timedelta, up_to: int) -> EmailDigest:
        return EmailDigest.objects.create(
            user=user, up_to_notification_id=up_to, notification_count=1, status="sent", created_at=NOW - age
        )

    alice_old = [digest(alice, age=500 * DAY, up_to=1), digest(alice, age=400 * DAY, up_to=2)]
    alice_recent = digest(alice, age=DAY, up_to=3)
    bob_latest = digest(bob, age=500 * DAY, up_to=4)  # old, but bob's last: his next digest is spaced from it

    dry = purge(dry_run=True)
    assert dry["counts"]["email_digests"] == 2 and EmailDigest.objects.count() == 4

    report = purge(batch_size=1)

    assert report["counts"]["email_digests"] == 2
    assert set(EmailDigest.objects.values_list("pk", flat=True)) == {alice_recent.pk, bob_latest.pk}
    assert not EmailDigest.objects.filter(pk__in=[d.pk for d in alice_old]).exists()
    assert purge()["counts"]["email_digests"] == 0


@pytest.mark.django_db
def test_queued_and_fanning_out_events_are_never_deleted(alice):
    queued = finished_event(alice, status=Event.Status.QUEUED, age=1000 * DAY)
    moving = finished_event(alice, status=Event.Status.FANNING_OUT, age=1000 * DAY)
    failed_long_ago = finished_event(alice, status=Event.Status.FAILED, age=1000 * DAY)
    # The re-drive touches a failed event at each attempt: one still retried is left alone.
    retried = finished_event(alice, status=Event.Status.FAILED, age=DAY)
    Event.objects.filter(pk=retried.pk).update(created_at=NOW - 1000 * DAY)

    purge()

    left = set(
        Event.objects.filter(pk__in=[queued.pk, moving.pk, failed_long_ago.pk, retried.pk]).values_list("pk", flat=True)
    )
    assert left == {queued.pk, moving.pk, retried.pk}


@pytest.mark.django_db
def test_a_dry_run_deletes_nothing_and_counts_what_a_run_then_deletes(alice, bob):
    event = finished_event(alice, age=400 * DAY, chunks=2)
    kept_event = finished_event(alice, age=400 * DAY)
    rows = [
        note(alice, age=400 * DAY, event=event),
        note(bob, age=400 * DAY, unread=True, event=event),
        note(alice, age=100 * DAY, unread=True, event=kept_event),
        note(alice, age=100 * DAY),
        note(alice, age=100 * DAY, deleted=True, unread=True),
        note(bob, age=400 * DAY),
        note(bob, age=DAY),
    ]
    rows_before = Notification.objects.count()

    dry = purge(dry_run=True)

    assert Notification.objects.count() == rows_before
    assert Event.objects.filter(pk=event.pk).exists() and EventChunk.objects.filter(event=event).count() == 2
    assert dry["dry_run"] is True and dry["batches"] == 0
    assert dry["counts"] == {
        "notifications_old": 3,
        "notifications_read": 2,
        "events": 1,
        "event_chunks": 2,
        "email_digests": 0,
    }

    done = purge(batch_size=2)

    assert done["counts"] == dry["counts"]
    assert len(remaining(*rows)) == 2


@pytest.mark.django_db
def test_a_time_budget_stops_between_batches_and_the_next_run_goes_on(alice):
    rows = [note(alice, age=100 * DAY + i * SECOND) for i in range(6)]

    def slow(batch):
        time.sleep(0.6)  # longer than the whole budget: the run must stop after this batch

    first = purge(batch_size=2, max_seconds=0.5, progress=slow)

    assert first["batches"] == 1 and first["complete"] is False
    assert len(remaining(*rows)) == 4
    second = purge(batch_size=2)
    assert second["complete"] is True and not remaining(*rows)


# --- settings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"HERALD_RETENTION_READ_DAYS": 0}, "HERALD_RETENTION_READ_DAYS must be a whole number of days above 0"),
        ({"HERALD_RETENTION_READ_DAYS": "90"}, "HERALD_RETENTION_READ_DAYS must be a whole number"),
        ({"HERALD_RETENTION_ALL_DAYS": 30}, "HERALD_RETENTION_ALL_DAYS (30) must be at least"),
        ({"HERALD_RETENTION_ALL_DAYS": -1}, "HERALD_RETENTION_ALL_DAYS must be a whole number of days above 0 or None"),
        ({"HERALD_RETENTION_BATCH_SIZE": 0}, "HERALD_RETENTION_BATCH_SIZE must be a whole number above 0"),
        ({"HERALD_RETENTION_MAX_SECONDS": True}, "HERALD_RETENTION_MAX_SECONDS must be a number of seconds"),
    ],
)
def test_bad_retention_settings_are_named_by_the_system_check_and_refused_by_the_purge(settings, overrides, says):
    for name, value in overrides.items():
        setattr(settings, name, value)

    errors = [e for e in run_checks() if e.id == "herald_live.E010"]

    assert len(errors) == 1 and says in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match=r"HERALD_RETENTION_"):
        retention.purge(now=NOW, batch_size=10)


def test_the_default_retention_settings_pass_the_check():
    assert not [e for e in run_checks() if e.id == "herald_live.E010"]
    assert retention.settings_problems() == []


# --- the command ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_dry_run_prints_counts_per_kind_and_deletes_nothing(alice):
    rows = [note(alice, age=100 * DAY), note(alice, age=400 * DAY, unread=True), note(alice, age=DAY)]
    out = io.StringIO()

    call_command("herald_purge", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "would delete (dry run, nothing deleted): 1 notifications_read" in text
    assert "would delete (dry run, nothing deleted): 1 notifications_old" in text
    assert "would delete (dry run, nothing deleted): 0 events" in text
    assert len(remaining(*rows)) == 3


@pytest.mark.django_db
def test_the_command_deletes_in_batches_and_prints_its_progress(alice):
    rows = [note(alice, age=100 * DAY + i * SECOND) for i in range(5)]
    out = io.StringIO()

    call_command("herald_purge", "--batch-size", "2", stdout=out)

    text = out.getvalue()
    assert text.count("  notifications_read: 2 deleted of 2 selected") == 2
    assert text.count("  notifications_read: 1 deleted of 1 selected") == 1
    assert "deleted: 5 notifications_read" in text
    assert "3 batch(es) in " in text and ", complete" in text
    assert not remaining(*rows)


@pytest.mark.django_db
def test_the_command_refuses_bad_input_with_a_clear_message(settings):
    with pytest.raises(CommandError, match="--batch-size must be at least 1, got 0"):
        call_command("herald_purge", "--batch-size", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="expected a number above 0"):
        call_command("herald_purge", "--max-seconds", "-3", stdout=io.StringIO())
    settings.HERALD_RETENTION_ALL_DAYS = 10
    with pytest.raises(CommandError, match=r"the retention settings are wrong: HERALD_RETENTION_ALL_DAYS \(10\)"):
        call_command("herald_purge", stdout=io.StringIO())


def test_the_command_exits_0_and_a_bad_option_exits_1_without_a_traceback(system_env):
    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(processes.ROOT / "manage.py"), "herald_purge", *args]
        return subprocess.run(command, env=system_env, capture_output=True, text=True, timeout=120)

    ok = run("--dry-run")
    bad = run("--batch-size", "0")

    assert ok.returncode == 0, ok.stderr
    assert "would delete (dry run, nothing deleted)" in ok.stdout
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == "CommandError: --batch-size must be at least 1, got 0"


# --- clients after a purge ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_after_the_newest_rows_are_purged_new_ids_are_still_higher_and_the_catch_up_finds_them(alice, client):
    rows = [note(alice, age=100 * DAY) for _ in range(3)]
    seen = max(r.pk for r in rows)  # the newest id a client saw, about to go

    purge()
    fresh = note(alice, age=timedelta(0), unread=True)

    assert not remaining(*rows)
    assert fresh.pk > seen, "an id was given again after its row was purged"
    # The reconnect catch-up asks for what came after the last id it saw, which no longer exists.
    assert [
        n["id"]
        for n in notification_selectors.notifications_after(user=alice, after_id=seen, limit=50)["notifications"]
    ] == [fresh.pk]
    client.force_login(alice)
    assert [n["id"] for n in client.get(reverse("herald:state"), {"after": seen}, **JSON).json()["notifications"]] == [
        fresh.pk
    ]
    # A tab that still shows a purged one and marks it read is told it is gone, and drops it (herald.js).
    assert client.post(reverse("herald:mark_read", args=[seen]), **JSON).status_code == 404


# --- locks ------------------------------------------------------------------------------------------------------


def _other_connection_during_the_first_delete(probe):
    """Runs ``probe()`` once, right after the purge's first DELETE of notifications, inside its open transaction."""
    table = Notification._meta.db_table
    results = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not results and sql.lstrip().upper().startswith("DELETE") and table in sql:
            assert not connection.get_autocommit(), "the batch runs in a transaction of its own"
            results.append(probe())
        return result

    return wrapper, results


@pytest.mark.usefixtures("committed")
def test_while_a_batch_holds_its_locks_another_connection_reads_and_on_postgresql_writes(make_user):
    user = make_user("retention-lock")
    rows = [note(user, age=100 * DAY + i * SECOND) for i in range(4)]
    recent = note(user, age=timedelta(0), unread=True)
    table = Notification._meta.db_table
    actor_ct = ContentType.objects.get_for_model(user).pk
    # The model's own table name and ids the test made: nothing from outside.
    count_sql = f"SELECT COUNT(*) FROM {table} WHERE recipient_id = {user.pk}"  # noqa: S608
    insert_sql = (
        f"INSERT INTO {table} (level, recipient_id, unread, actor_content_type_id, actor_object_id, verb, timestamp,"  # noqa: S608
        f" public, deleted, emailed) VALUES ('info', {user.pk}, TRUE, {actor_ct}, '{user.pk}', 'meanwhile',"
        " CURRENT_TIMESTAMP, TRUE, FALSE, FALSE)"
    )
    mark_read_sql = f"UPDATE {table} SET unread = FALSE WHERE id = {recent.pk}"  # noqa: S608

    def probe() -> dict:
        if connection.vendor == "postgresql":
            with psycopg.connect(database_url_of(connection.settings_dict), autocommit=True) as other:
                # A lock wait turns into an error here rather than a hang: this asserts no wait, not a duration.
                other.execute("SET lock_timeout = '5s'")
                seen = other.execute(count_sql).fetchone()[0]
                other.execute(insert_sql)
                other.execute(mark_read_sql)  # "mark as read" of a row the batch does not hold
                return {"seen": seen, "wrote": True}
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
        try:
            seen = other.execute(count_sql).fetchone()[0]
            try:
                other.execute(insert_sql)
            except sqlite3.OperationalError as exc:
                return {"seen": seen, "wrote": False, "error": str(exc)}
            return {"seen": seen, "wrote": True}
        finally:
            other.close()

    wrapper, results = _other_connection_during_the_first_delete(probe)
    try:
        with connection.execute_wrapper(wrapper):
            purge(batch_size=2)

        # The other connection ran inside the first batch: it still saw that batch's rows (not committed yet).
        (seen,) = results
        assert seen["seen"] == 5
        assert not remaining(*rows)
        if connection.vendor == "postgresql":
            assert seen["wrote"] is True
            assert Notification.objects.filter(recipient=user, verb="meanwhile").count() == 1
            assert Notification.objects.get(pk=recent.pk).unread is False
        else:
            # SQLite has one writer: writes wait for each batch (hence small batches; docs/operations.md).
            assert seen == {"seen": 5, "wrote": False, "error": "database is locked"}
    finally:
        user.delete()
