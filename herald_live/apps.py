from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HeraldConfig(AppConfig):
    name = "herald_live"
    label = "herald_live"
    verbose_name = "Herald live notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from herald_live import checks, notification_types, signals  # noqa: F401  (registers the system checks)

        signals.connect()
        # What every send is unless its producer names another type: on in every channel, as before types.
        notification_types.register(notification_types.DEFAULT, label=_("Messages"))
        post_migrate.connect(_check_unique_index, sender=self, dispatch_uid="herald.unique_index")


def _check_unique_index(sender, using="default", plan=None, **kwargs) -> None:
    """After migrate and flush: content type ids may have been given out again (herald_live/infra/unique_index.py)."""
    from django.db.migrations.recorder import MigrationRecorder

    from herald_live.infra import unique_index

    applied = MigrationRecorder(connections[using]).applied_migrations()
    if ("herald_live", "0002_notification_unique_per_event_recipient") in applied:
        unique_index.ensure(using=using)
