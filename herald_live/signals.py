"""Receivers that make a host's existing code live without changing it.

- django-notifications' ``notify.send(...)`` still writes its rows exactly as before (its own
  handler runs, and its return value is unchanged); the new rows are then published after commit.
- A notification saved one at a time with a new read, unread or deleted state (``mark_as_read()``,
  ``mark_as_unread()``, the stock views, the admin) is published to its recipient's live sessions.
  Deletes are not watched: a delete receiver would make Django load every row of a cascade (a user
  with 100k notifications) into memory; the stock delete view is wrapped instead (notifications_urls.py).
- Logout, session revocation and a password change close the sockets of the ended sessions.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from notifications.base.models import notify_handler
from notifications.signals import notify
from notifications.swappable import load_notification_model

from herald_live.actions import announce, sessions

User = get_user_model()
# django-notifications connects its handler under this uid. Herald's wrapper takes the same uid, so
# exactly one of the two is connected whichever app becomes ready first.
STOCK_HANDLER_UID = "notifications.models.notification"


def notify_and_publish(verb, **kwargs):
    """django-notifications' own handler, then the publication of the rows it wrote."""
    created = notify_handler(verb, **kwargs)
    announce.publish_created_on_commit(notification_ids=[row.pk for row in created or ()])
    return created


def connect() -> None:
    notify.disconnect(dispatch_uid=STOCK_HANDLER_UID)
    notify.connect(notify_and_publish, dispatch_uid=STOCK_HANDLER_UID)
    model = load_notification_model()
    post_save.connect(_notification_saved, sender=model, dispatch_uid="herald.notification_saved")


# The fields whose change a live client shows; a save of others (a job setting ``emailed``) publishes nothing.
LIVE_FIELDS = frozenset({"unread", "deleted"})


def _notification_saved(sender, instance, created, raw=False, update_fields=None, **kwargs) -> None:
    if raw:  # loaddata
        return
    if created:
        announce.publish_created_on_commit(notification_ids=[instance.pk])
    elif update_fields is None or LIVE_FIELDS.intersection(update_fields):
        announce.publish_state_on_commit(notification_id=instance.pk)


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        sessions.end_session(session_key=session_key)


@receiver(pre_save, sender=User)
def notice_password_change(sender, instance, update_fields=None, **kwargs) -> None:
    # Logins save last_login only: skip the lookup unless the password may have changed.
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    previous = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._herald_password_changed = previous is not None and previous != instance.password


@receiver(post_save, sender=User)
def end_sessions_after_password_change(sender, instance, **kwargs) -> None:
    if getattr(instance, "_herald_password_changed", False):
        instance._herald_password_changed = False
        sessions.end_all_sessions(user=instance)
