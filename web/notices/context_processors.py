from django.conf import settings

from web.notices import selectors


def unread(request) -> dict:
    """The navbar's unread badge, on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": selectors.unread_count(user=user), "herald_pusher_url": settings.HERALD_PUSHER_URL}
