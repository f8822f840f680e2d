from django.apps import AppConfig


class PushTestConfig(AppConfig):
    """A host's own notification type, as a site registers it: one that pushes even to users on the site."""

    name = "tests.system.push_app"
    label = "push_test_app"

    def ready(self) -> None:
        from herald_live import notification_types

        notification_types.register("test.urgent", label="Urgent", push_when_live=True)
