from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from web.notices import services

User = get_user_model()


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        services.end_session(session_key=session_key)


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
        services.end_all_sessions(user=instance)
