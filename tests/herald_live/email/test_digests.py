"""Email digests, sent through a real SMTP server (aiosmtpd) and read back with the email package."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.mail import get_connection
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from notifications.swappable import load_notification_model

from herald_live import checks, notification_types, tasks
from herald_live.actions import read_state
from herald_live.email import claims as digest_claims
from herald_live.email import digests
from herald_live.email import due as digest_due
from herald_live.email import unsubscribe as digest_unsubscribe
from herald_live.models import Channel, ChannelPreference, DeliverySettings, EmailDigest, Event
from tests.support.processes import free_port

Notification = load_notification_model()
SITE = "https://herald.example.test"
Setting = DeliverySettings.EmailDigest


@pytest.fixture(autouse=True)
def site(settings):
    settings.HERALD_SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "Herald <herald@example.test>"


@pytest.fixture
def make_reader(django_user_model):
    """A user with an email address and a digest setting."""
    made = 0

    def make(setting: str = Setting.TEN_MINUTES, *, name: str | None = None):
        nonlocal made
        made += 1
        name = name or f"reader{made}"
        user = django_user_model.objects.create_user(name, email=f"{name}@example.test", password="pw-reader-123")
        DeliverySettings.objects.create(user=user, email_digest=setting)
        return user

    return make


def notify(user, count: int = 1, *, at: datetime, kind: str = notification_types.DEFAULT, verb: str = "message"):
    """Rows as the fan-out writes them: one event each, the event as the row's action object."""
    event_ct = ContentType.objects.get_for_model(Event)
    ids = []
    for index in range(count):
        event = Event.objects.create(
            audience=Event.Audience.USER, recipient=user, verb=f"{verb} {index + 1}", notification_type=kind
        )
        row = Notification.objects.create(
            recipient=user,
            actor_content_type=event_ct,
            actor_object_id=str(event.pk),
            verb=event.verb,
            action_object_content_type=event_ct,
            action_object_object_id=str(event.pk),
            timestamp=at,
        )
        ids.append(row.pk)
    return ids


def only_due(user, *, now: datetime) -> digest_due.DueDigest:
    (due,) = [due for batch in digest_due.due_digests(now=now) for due in batch if due.user_id == user.pk]
    return due


T0 = timezone.now().replace(microsecond=0) - timedelta(hours=3)


@pytest.mark.django_db
def test_a_burst_of_50_unread_becomes_one_email_listing_all_50(make_reader, smtp_settings, client):
    alice = make_reader(name="alice")
    notify(alice, 50, at=T0, verb="build finished")

    assert digests.send_due_digests(now=T0 + timedelta(minutes=9)).sent == 0, "mailed before the delay"
    report = digests.send_due_digests(now=T0 + timedelta(minutes=11))

    assert report.sent == 1
    (mail,) = smtp_settings.wait_for(1, timeout=5)
    assert mail.rcpt_tos == ["alice@example.test"]
    assert mail.message["To"] == "alice@example.test"
    assert mail.message["From"] == "Herald <herald@example.test>"
    assert mail.message["Subject"] == "You have 50 unread notifications"
    text, html = mail.part("text/plain"), mail.part("text/html")
    for n in range(1, 51):
        assert re.search(rf"^- Herald build finished {n},", text, flags=re.M), n
    assert html.count("data-herald-item") == 50
    assert "more." not in text
    # A link that opens the site (the notification center), in both parts.
    assert f"{SITE}/herald/" in text and f'href="{SITE}/herald/"' in html
    # One-click unsubscribe (RFC 8058): an https URL of the site, and the POST marker.
    # (A long header is folded before its value: unfolded, it starts with the folding white space.)
    unsubscribe = re.fullmatch(r"<(\S+)>", mail.message["List-Unsubscribe"].strip()).group(1)
    assert unsubscribe.startswith(f"{SITE}/herald/email/unsubscribe/")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire the URL is plain (folded, never RFC 2047-encoded: mail clients would not find it).
    assert re.search(rb"^List-Unsubscribe:\s+<" + re.escape(unsubscribe.encode()) + rb">\r?$", mail.raw, flags=re.M)
    assert unsubscribe in text and unsubscribe in html
    digest = EmailDigest.objects.get(user=alice)
    assert (digest.status, digest.notification_count, digest.sent_count) == ("sent", 50, 50)
    assert digest.sent_at is not None

    # The header's link, posted as a mail client does: no login, no CSRF token.
    response = client.post(
        urlsplit(unsubscribe).path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert DeliverySettings.objects.get(user=alice).email_digest == Setting.OFF


@pytest.mark.django_db
def test_past_the_cap_the_rest_are_counted_and_what_users_wrote_is_escaped(make_reader, smtp_settings, settings):
    settings.HERALD_EMAIL_DIGEST_MAX_ITEMS = 10
    bob = make_reader()
    notify(bob, 12, at=T0, verb="plain")
    notify(bob, 1, at=T0 + timedelta(minutes=1), verb="<b>bold</b> & <script>x()</script>")

    digests.send_due_digests(now=T0 + timedelta(minutes=11))

    (mail,) = smtp_settings.wait_for(1, timeout=5)
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert mail.message["Subject"] == "You have 13 unread notifications"
    assert html.count("data-herald-item") == 10
    assert "... and 3 more." in text and "... and 3 more." in html
    # Newest first: the last one sent is listed, the three oldest are counted.
    assert "<b>bold</b> & <script>x()</script> 1" in text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt; 1" in html
    assert "<script>" not in html
    assert "plain 3," not in text and "plain 4," in text


@pytest.mark.django_db
def test_what_is_read_before_the_delay_is_not_mailed(make_reader, smtp_settings):
    carol, dave = make_reader(), make_reader()
    read, kept = notify(carol, 2, at=T0, verb="note")
    (dave_only,) = notify(dave, 1, at=T0)
    read_state.mark_read(user=carol, notification_id=read)
    read_state.mark_all_read(user=dave)

    report = digests.send_due_digests(now=T0 + timedelta(minutes=11))

    assert report.sent == 1
    (mail,) = smtp_settings.wait_for(1, timeout=5)
    assert mail.rcpt_tos == [carol.email]
    assert "note 2" in mail.part("text/plain") and "note 1" not in mail.part("text/plain")
    assert mail.message["Subject"] == "You have 1 unread notification"
    assert not EmailDigest.objects.filter(user=dave).exists(), "a user who read everything gets nothing"


@pytest.mark.django_db
def test_what_is_read_between_the_claim_and_the_send_is_left_out_and_nothing_left_sends_nothing(
    make_reader, smtp_settings
):
    erin, frank = make_reader(), make_reader()
    first, second = notify(erin, 2, at=T0, verb="item")
    notify(frank, 1, at=T0)
    now = T0 + timedelta(minutes=11)
    claims = [digest_claims.claim(due=only_due(user, now=now), now=now) for user in (erin, frank)]

    read_state.mark_read(user=erin, notification_id=first)
    read_state.mark_all_read(user=frank)
    with get_connection() as connection:
        outcomes = [digests.deliver(claimed=claimed, connection=connection) for claimed in claims]

    assert outcomes == ["sent", "empty"]
    (mail,) = smtp_settings.wait_for(1, timeout=5)
    assert mail.rcpt_tos == [erin.email]
    assert "item 2" in mail.part("text/plain") and "item 1" not in mail.part("text/plain")
    assert EmailDigest.objects.get(user=frank).status == EmailDigest.Status.EMPTY


@pytest.mark.django_db
def test_nothing_is_mailed_twice_when_the_task_runs_again(make_reader, smtp_settings):
    grace = make_reader()
    notify(grace, 3, at=timezone.now() - timedelta(minutes=11), verb="old")

    tasks.send_email_digests()
    tasks.send_email_digests()
    digests.send_due_digests(now=timezone.now() + timedelta(hours=2))

    assert len(smtp_settings.wait_for(1, timeout=5)) == 1
    assert EmailDigest.objects.filter(user=grace).count() == 1
    # What arrives later is the next email's, alone, once it has waited in turn.
    notify(grace, 1, at=timezone.now() - timedelta(minutes=11), verb="new")
    tasks.send_email_digests()
    assert len(smtp_settings.received) == 1, "at most one email per 10 minutes"
    digests.send_due_digests(now=timezone.now() + timedelta(minutes=11))
    first, second = smtp_settings.wait_for(2, timeout=5)
    assert "new 1" in second.part("text/plain") and "old" not in second.part("text/plain")
    assert second.message["Subject"] == "You have 1 unread notification"


@pytest.mark.django_db
def test_a_worker_that_died_between_claim_and_send_never_sends_that_digest_again(make_reader, smtp_settings):
    heidi = make_reader()
    notify(heidi, 4, at=T0)
    now = T0 + timedelta(minutes=11)
    # The claim commits, then the worker is killed before the SMTP server hears of it.
    digest_claims.claim(due=only_due(heidi, now=now), now=now)

    for minutes in (12, 30, 90):
        assert digests.send_due_digests(now=T0 + timedelta(minutes=minutes)).sent == 0

    assert smtp_settings.received == []
    assert EmailDigest.objects.get(user=heidi).status == EmailDigest.Status.CLAIMED
    assert not Notification.objects.filter(recipient=heidi, emailed=False).exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_send_each_digest_once(make_reader, smtp_settings):
    readers = [make_reader() for _ in range(8)]
    for reader in readers:
        notify(reader, 3, at=T0)
    now = T0 + timedelta(minutes=11)
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker() -> None:
        try:
            start.wait()
            reports.append(digests.send_due_digests(now=now))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(report.sent for report in reports) == len(readers)
    mails = smtp_settings.wait_for(len(readers), timeout=10)
    assert sorted(mail.rcpt_tos[0] for mail in mails) == sorted(reader.email for reader in readers)
    assert EmailDigest.objects.count() == len(readers)


@pytest.mark.django_db
def test_no_email_with_the_digest_off_or_the_types_email_turned_off(make_reader, smtp_settings, monkeypatch):
    monkeypatch.setitem(
        notification_types.registry,
        "test.quiet",
        notification_types.NotificationType(name="test.quiet", label="Quiet", email=False),
    )
    off, no_settings, chose_off, quiet_type, control = (make_reader() for _ in range(5))
    DeliverySettings.objects.filter(user=off).update(email_digest=Setting.OFF)
    DeliverySettings.objects.filter(user=no_settings).delete()
    ChannelPreference.objects.create(
        user=chose_off, notification_type=notification_types.DEFAULT, channel=Channel.EMAIL, enabled=False
    )
    for user in (off, no_settings, chose_off, control):
        notify(user, 2, at=T0)
    notify(quiet_type, 2, at=T0, kind="test.quiet")
    notify(control, 1, at=T0, kind="test.quiet", verb="quiet")

    digests.send_due_digests(now=T0 + timedelta(minutes=11))

    (mail,) = smtp_settings.wait_for(1, timeout=5)
    assert mail.rcpt_tos == [control.email]
    assert "quiet" not in mail.part("text/plain"), "a type whose email is off is left out"
    assert mail.message["Subject"] == "You have 2 unread notifications"
    assert EmailDigest.objects.count() == 1


@pytest.mark.django_db
def test_hourly_sends_at_most_one_email_an_hour(make_reader, smtp_settings):
    ivan = make_reader(Setting.HOURLY)
    notify(ivan, 1, at=T0)
    assert digests.send_due_digests(now=T0 + timedelta(minutes=9)).sent == 0
    assert digests.send_due_digests(now=T0 + timedelta(minutes=11)).sent == 1

    notify(ivan, 1, at=T0 + timedelta(minutes=15), verb="later")
    assert digests.send_due_digests(now=T0 + timedelta(minutes=40)).sent == 0
    assert digests.send_due_digests(now=T0 + timedelta(minutes=72)).sent == 1
    assert "later 1" in smtp_settings.wait_for(2, timeout=5)[1].part("text/plain")


@pytest.mark.django_db
def test_daily_sends_once_a_day_at_the_configured_hour(make_reader, smtp_settings, settings):
    settings.HERALD_EMAIL_DIGEST_HOUR = 8
    judy = make_reader(Setting.DAILY)
    slot = (timezone.now() - timedelta(days=2)).astimezone(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    notify(judy, 2, at=slot - timedelta(hours=5))

    assert digests.send_due_digests(now=slot - timedelta(minutes=1)).sent == 0
    assert digests.send_due_digests(now=slot + timedelta(minutes=1)).sent == 1
    notify(judy, 1, at=slot + timedelta(minutes=30), verb="after the hour")
    assert digests.send_due_digests(now=slot + timedelta(hours=3)).sent == 0
    assert digests.send_due_digests(now=slot + timedelta(days=1, minutes=1)).sent == 1

    first, second = smtp_settings.wait_for(2, timeout=5)
    assert "after the hour 1" in second.part("text/plain") and "message" not in second.part("text/plain")


@pytest.mark.django_db
def test_a_temporary_refusal_is_tried_again_and_a_permanent_one_is_not(make_reader, smtp_settings):
    kim, leo = make_reader(), make_reader()
    notify(kim, 2, at=T0)
    now = T0 + timedelta(minutes=11)

    smtp_settings.refuse = "451 4.3.0 Try again later"
    assert digests.send_due_digests(now=now).deferred == 1
    assert not EmailDigest.objects.exists() and not Notification.objects.filter(emailed=True).exists()
    smtp_settings.refuse = None
    assert digests.send_due_digests(now=now + timedelta(minutes=1)).sent == 1
    assert len(smtp_settings.wait_for(1, timeout=5)) == 1

    notify(leo, 2, at=T0)
    smtp_settings.refuse = "550 5.7.1 Not accepted"
    assert digests.send_due_digests(now=now).failed == 1
    smtp_settings.refuse = None
    assert digests.send_due_digests(now=now + timedelta(hours=1)).sent == 0
    digest = EmailDigest.objects.get(user=leo)
    assert digest.status == EmailDigest.Status.FAILED and "550" in digest.error
    assert len(smtp_settings.received) == 1


@pytest.mark.django_db
def test_a_run_that_cannot_reach_the_server_claims_nothing(make_reader, smtp_settings, settings):
    mallory = make_reader()
    notify(mallory, 2, at=T0)
    now = T0 + timedelta(minutes=11)
    settings.EMAIL_PORT = free_port()  # nothing listens there

    report = digests.send_due_digests(now=now)

    assert report.unreachable and report.sent == 0
    assert not EmailDigest.objects.exists()
    settings.EMAIL_PORT = smtp_settings.port
    assert digests.send_due_digests(now=now + timedelta(minutes=1)).sent == 1


@pytest.mark.django_db
def test_the_unsubscribe_page_asks_first_and_the_post_turns_digests_off(make_reader, client):
    nina = make_reader()
    url = f"/herald/email/unsubscribe/{digest_unsubscribe.unsubscribe_token(user_id=nina.pk)}/"

    page = client.get(url)
    assert page.status_code == 200
    assert '<form method="post"' in page.content.decode()
    assert DeliverySettings.objects.get(user=nina).email_digest == Setting.TEN_MINUTES, "a GET changes nothing"

    done = client.post(url)
    assert done.status_code == 200
    assert "Unsubscribed" in done.content.decode()
    assert DeliverySettings.objects.get(user=nina).email_digest == Setting.OFF
    assert client.post(url).status_code == 200, "again: still 200"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_unsubscribe_token_gets_a_clear_400(make_reader, client, method):
    olga = make_reader()
    token = digest_unsubscribe.unsubscribe_token(user_id=olga.pk)
    payload, signature = token.rsplit(":", 1)
    # Another user's id under Olga's signature; Olga's id signed for another purpose; cut; no token at all.
    someone_else = digest_unsubscribe.unsubscribe_token(user_id=olga.pk + 1).rsplit(":", 1)[0] + ":" + signature
    other_salt = signing.Signer(salt="another.purpose").sign_object({"u": olga.pk})

    for bad in (someone_else, other_salt, token[:-3], payload, "nonsense"):
        response = getattr(client, method)(f"/herald/email/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert "This unsubscribe link is not valid" in response.content.decode()
    assert DeliverySettings.objects.get(user=olga).email_digest == Setting.TEN_MINUTES


@pytest.mark.django_db
def test_the_command_dry_run_lists_who_would_get_one_and_sends_nothing(make_reader, smtp_settings):
    peggy, quinn = make_reader(), make_reader()
    notify(peggy, 3, at=timezone.now() - timedelta(minutes=11))
    notify(quinn, 1, at=timezone.now() - timedelta(minutes=2))
    out = StringIO()

    call_command("send_email_digests", "--dry-run", stdout=out)

    assert f"user {peggy.pk} <{peggy.email}> (10min): 3 unread" in out.getvalue()
    assert f"user {quinn.pk} " not in out.getvalue()
    assert "1 digest(s) due" in out.getvalue()
    assert smtp_settings.received == [] and not EmailDigest.objects.exists()
    call_command("send_email_digests", stdout=out)
    assert "sent 1," in out.getvalue()


def test_the_site_url_is_checked(settings):
    settings.HERALD_SITE_URL = ""
    assert [issue.id for issue in checks.herald_email()] == ["herald_live.W020"]
    settings.HERALD_SITE_URL = "www.example.com"
    assert [issue.id for issue in checks.herald_email()] == ["herald_live.E020"]
    settings.HERALD_SITE_URL = "https://www.example.com"
    settings.HERALD_EMAIL_DIGEST_HOUR = 24
    assert [issue.id for issue in checks.herald_email()] == ["herald_live.E020"]
    settings.HERALD_EMAIL_DIGEST_HOUR = 8
    assert checks.herald_email() == []


@pytest.mark.django_db
def test_a_french_site_mails_in_french(make_reader, smtp_settings, settings):
    settings.LANGUAGE_CODE = "fr"
    rose = make_reader()
    notify(rose, 2, at=T0)

    digests.send_due_digests(now=T0 + timedelta(minutes=11))

    (mail,) = smtp_settings.wait_for(1, timeout=5)
    assert mail.message["Subject"] == "Vous avez 2 notifications non lues"
    assert "Se désabonner" in mail.part("text/html") and "Ouvrir vos notifications" in mail.part("text/plain")


@pytest.mark.django_db
def test_the_delay_is_a_setting_for_every_digest_and_the_choice_says_it(make_reader, settings, client):
    soon, hourly = make_reader(), make_reader(Setting.HOURLY)
    for reader in (soon, hourly):
        notify(reader, 1, at=T0)
    at_four_minutes = T0 + timedelta(minutes=4)
    assert [due for batch in digest_due.due_digests(now=at_four_minutes) for due in batch] == []  # 10 by default

    settings.HERALD_EMAIL_DIGEST_DELAY_MINUTES = 3
    due = {due.user_id for batch in digest_due.due_digests(now=at_four_minutes) for due in batch}
    assert due == {soon.pk, hourly.pk}

    client.force_login(soon)
    choices = client.get("/herald/notifications/preferences/", HTTP_ACCEPT="application/json").json()
    assert {"value": "10min", "label": "After 3 minutes"} in choices["email_digest_choices"]
    settings.HERALD_EMAIL_DIGEST_DELAY_MINUTES = 0
    assert [issue.id for issue in checks.herald_email()] == ["herald_live.E020"]


@pytest.mark.django_db
def test_a_digest_chosen_without_an_email_address_is_named_on_the_page_by_check_and_by_the_dry_run(
    make_reader, django_user_model, client
):
    make_reader()  # has an address
    nobody = django_user_model.objects.create_user("no-address", password="pw-reader-123")
    DeliverySettings.objects.create(user=nobody, email_digest=Setting.DAILY)
    notify(nobody, 2, at=timezone.now() - timedelta(days=2))

    client.force_login(nobody)
    page = client.get("/herald/preferences/").content.decode()
    api = client.get("/herald/notifications/preferences/", HTTP_ACCEPT="application/json").json()
    (warning,) = checks.herald_email_addresses(databases=["default"])
    out = StringIO()
    call_command("send_email_digests", "--dry-run", stdout=out)

    assert "Your account has no email address, so no digest can reach you." in page
    assert api["has_email_address"] is False
    assert warning.id == "herald_live.W021" and f"ids {nobody.pk}" in warning.msg
    assert f"1 user(s) chose digests and have no email address, so get none: {nobody.pk}" in out.getvalue()
    assert checks.herald_email_addresses(databases=None) == []  # a plain `check` asks no database
