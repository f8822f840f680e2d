"""One notification per (event, recipient), enforced by the database (herald_live/infra/unique_index.py).

The rows live in the notification model's table (django-notifications', or the one
NOTIFICATIONS_NOTIFICATION_MODEL names), which other senders share: the unique index is
partial, covering only rows whose action object is a Herald event. Re-runs of a fan-out (a
worker killed mid-way, a re-drive) then insert with ON CONFLICT DO NOTHING and can never double
a row, even when two attempts race.

Nothing here is hard-coded: the table and its columns come from the model, and the content type
of Herald's events from this database (and it is checked again after every migrate and flush).
"""

from django.conf import settings
from django.db import migrations

from herald_live.infra import unique_index

NOTIFICATION_MODEL = getattr(settings, "NOTIFICATIONS_NOTIFICATION_MODEL", "notifications.Notification")


def create_index(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Content types are normally created after migrations; this one is needed now.
    event_type, _ = ContentType.objects.db_manager(schema_editor.connection.alias).get_or_create(
        app_label="herald_live", model="event"
    )
    unique_index.build(schema_editor, model=apps.get_model(NOTIFICATION_MODEL), content_type_id=event_type.pk)


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(unique_index.INDEX)}")


class Migration(migrations.Migration):
    dependencies = [
        ("herald_live", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(NOTIFICATION_MODEL),
        # django-notifications' own model: after its last migration, whose columns the index covers.
        *([("notifications", "0013_alter_notification_level")] if NOTIFICATION_MODEL == "notifications.Notification" else []),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
