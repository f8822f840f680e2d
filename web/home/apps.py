from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "web.home"
    label = "home"
    verbose_name = "Reference site"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from web.home.sessions import record_start

        user_logged_in.connect(record_start, dispatch_uid="web.home.record_session_start")
