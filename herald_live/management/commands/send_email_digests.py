from django.core.management.base import BaseCommand
from django.utils import timezone

from herald_live.email import digests, site
from herald_live.email.due import due_digests, without_address


class Command(BaseCommand):
    help = (
        "Send the email digests that are due now (what Celery beat's herald.send_email_digests does every minute). "
        "Each digest is claimed once: running this beside the task doubles nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list who would get a digest, send nothing")

    def handle(self, *args, dry_run: bool, **options):
        now = timezone.now()
        if not site.site_configured():
            self.stderr.write("HERALD_SITE_URL is not set: no digest is sent (docs/channels.md, 'Email')")
        if dry_run:
            count = 0
            for batch in due_digests(now=now):
                for due in batch:
                    count += 1
                    self.stdout.write(
                        f"user {due.user_id} <{due.email}> ({due.setting}): {due.pending} unread, "
                        f"oldest {due.oldest.isoformat()}"
                    )
            self.stdout.write(f"{count} digest(s) due; nothing sent (--dry-run)")
            unreachable = without_address()
            if unreachable:
                self.stdout.write(
                    f"{len(unreachable)} user(s) chose digests and have no email address, so get none: "
                    + ", ".join(map(str, unreachable))
                )
            return
        report = digests.send_due_digests(now=now)
        self.stdout.write(
            f"sent {report.sent}, empty {report.empty}, failed {report.failed}, deferred {report.deferred}"
            + ("; the SMTP server cannot be reached, the rest wait for the next run" if report.unreachable else "")
        )
