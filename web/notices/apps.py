from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "web.notices"
    label = "notices"
    verbose_name = "Herald notices"

    def ready(self) -> None:
        from web.notices import signals  # noqa: F401  (connects the logout receiver)
