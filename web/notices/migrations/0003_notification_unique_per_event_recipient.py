"""One notification per (event, recipient), enforced by the database.

The rows live in django-notifications' table, which other senders share: the unique index
is partial, covering only rows whose action object is a Herald event (the target stays free
for what the notification is about). Re-runs of a fan-out (a
worker killed mid-way, a re-drive) then insert with ON CONFLICT DO NOTHING and can never
double a row, even when two attempts race.
"""

from django.db import migrations

INDEX = "herald_notification_event_recipient"


def create_index(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Content types are normally created after migrations; this one is needed now.
    event_type, _ = ContentType.objects.get_or_create(app_label="notices", model="event")
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {INDEX} ON notifications_notification (action_object_object_id, recipient_id) "
        f"WHERE action_object_content_type_id = {int(event_type.pk)}"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0002_event_updated_at"),
        ("notifications", "0013_alter_notification_level"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
