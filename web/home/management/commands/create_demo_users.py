"""Creates (or resets) the demo users and prints how to log in as each."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from herald_live.permissions import SEND_TO_EVERYONE

DEMO_USERNAMES = ("alice", "bob", "carol")
# The demo shows both sides of the send form: alice may send to everyone, bob and carol may not.
MAY_SEND_TO_EVERYONE = ("alice",)


class Command(BaseCommand):
    help = (
        "Create the demo users alice, bob and carol (alice may send to everyone); "
        "passwords are random and kept in --credentials."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--credentials",
            type=Path,
            required=True,
            help="JSON file that keeps the generated passwords between runs (outside the repository).",
        )

    def handle(self, *args, credentials: Path, **options):
        known = json.loads(credentials.read_text()) if credentials.exists() else {}
        User = get_user_model()
        for name in DEMO_USERNAMES:
            password = known.get(name) or secrets.token_urlsafe(9)
            known[name] = password
            user, _ = User.objects.get_or_create(username=name)
            # Setting it again would count as a password change, which ends every session.
            if not user.check_password(password):
                user.set_password(password)
                user.save()
            if name in MAY_SEND_TO_EVERYONE:
                user.user_permissions.add(_permission(SEND_TO_EVERYONE))
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_text(json.dumps(known, indent=2))
        credentials.chmod(0o600)
        for name in DEMO_USERNAMES:
            extra = "  (may send to everyone)" if name in MAY_SEND_TO_EVERYONE else ""
            self.stdout.write(f"  {name:<6} password: {known[name]}{extra}")


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)
