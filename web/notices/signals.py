from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from web.notices import services


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        services.end_session(session_key=session_key)
