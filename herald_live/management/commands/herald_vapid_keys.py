from django.core.management.base import BaseCommand, CommandError

from herald_live.push import vapid


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for web push, as settings lines. Keep the private key secret (an environment "
        "variable, not the repository); a new pair makes every browser subscribe again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--subject",
            default="mailto:admin@example.com",
            help="a contact for the push services: mailto:you@yoursite or https://yoursite (default: a placeholder)",
        )
        parser.add_argument("--env", action="store_true", help="print NAME=value lines (an env file) instead of Python")

    def handle(self, *args, subject: str, env: bool, **options):
        if not vapid.SUBJECT.fullmatch(subject):
            raise CommandError("--subject must be a mailto: address or an https: origin (https://www.example.com)")
        try:
            keys = vapid.generate()
        except ImportError:
            raise CommandError('web push needs the "push" extra: pip install "django-herald-live[push]"') from None
        values = {
            "HERALD_VAPID_PUBLIC_KEY": keys.public_key,
            "HERALD_VAPID_PRIVATE_KEY": keys.private_key,
            "HERALD_VAPID_SUBJECT": subject,
        }
        for name, value in values.items():
            self.stdout.write(f"{name}={value}" if env else f"{name} = {value!r}")
