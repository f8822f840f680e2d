"""A host's own notification model (NOTIFICATIONS_NOTIFICATION_MODEL), for test_swapped_model.py."""

from notifications.base.models import AbstractNotification


class Notice(AbstractNotification):
    class Meta(AbstractNotification.Meta):
        abstract = False
        db_table = "host_notices"
