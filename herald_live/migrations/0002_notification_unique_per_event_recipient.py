"""One notification per (event, recipient), enforced by the database.

The rows live in the notification model's table (django-notifications', or the one
NOTIFICATIONS_NOTIFICATION_MODEL names), which other senders share: the unique index is
partial, covering only rows whose action object is a Herald event (the target stays free for
what the notification is about). Re-runs of a fan-out (a worker killed mid-way, a re-drive)
then insert with ON CONFLICT DO NOTHING and can never double a row, even when two attempts race.

Nothing here is hard-coded: the table and its columns come from the model, and the content
type of Herald's events from this database's content types.
"""

from django.conf import settings
from django.db import migrations

INDEX = "herald_notification_event_recipient"
NOTIFICATION_MODEL = getattr(settings, "NOTIFICATIONS_NOTIFICATION_MODEL", "notifications.Notification")


def create_index(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Notification = apps.get_model(NOTIFICATION_MODEL)
    # Content types are normally created after migrations; this one is needed now.
    event_type, _ = ContentType.objects.get_or_create(app_label="herald_live", model="event")
    quote = schema_editor.quote_name
    meta = Notification._meta
    columns = {
        name: meta.get_field(name).column
        for name in ("action_object_object_id", "recipient", "action_object_content_type")
    }
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {quote(INDEX)} ON {quote(meta.db_table)} "
        f"({quote(columns['action_object_object_id'])}, {quote(columns['recipient'])}) "
        # An integer read from this database just now; DDL takes no bound parameters on every backend.
        f"WHERE {quote(columns['action_object_content_type'])} = {int(event_type.pk)}"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(INDEX)}")


class Migration(migrations.Migration):
    dependencies = [
        ("herald_live", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(NOTIFICATION_MODEL),
        # django-notifications' own model: after its last migration, whose columns the index covers.
        *(
            [("notifications", "0013_alter_notification_level")]
            if NOTIFICATION_MODEL == "notifications.Notification"
            else []
        ),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
