from django.apps import AppConfig


class HeraldConfig(AppConfig):
    name = "herald_live"
    label = "herald_live"
    verbose_name = "Herald live notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from herald_live import checks, signals  # noqa: F401  (registers the system checks)

        signals.connect()
