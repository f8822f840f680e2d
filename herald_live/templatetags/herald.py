"""The notification center in any template: ``{% load herald %}``, ``{% herald_bell %}``, ``{% herald_scripts %}``.

Both tags need only ``request`` (or ``user``) in the context, which Django's default context processors
give; both render nothing for anonymous visitors. The bell works without JavaScript (a link to the
center page); herald.js turns it into a button that opens the live panel.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.models import PushSubscription
from herald_live.push import vapid
from herald_live.selectors.notifications import safe_target_url, unread_count

register = template.Library()


def _user(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user if user is not None and user.is_authenticated else None


@register.inclusion_tag("herald/bell.html", takes_context=True)
def herald_bell(context):
    """The bell with the server-rendered unread count; the panel's items come from the JSON API.

    One COUNT per page: the list is fetched by herald.js when the page loads, so that no page of the
    site pays for a list (and its actors' and targets' lookups) that is rarely opened.
    """
    user = _user(context)
    if user is None:
        return {"show": False}
    return {
        "show": True,
        "unread_count": unread_count(user=user),
        "center_url": reverse("herald:center"),
        "preferences_url": reverse("herald:preferences"),
        "request": context.get("request"),
    }


@register.inclusion_tag("herald/scripts.html", takes_context=True)
def herald_scripts(context):
    """The configuration herald.js reads, the JavaScript catalog, socket.io and herald.js."""
    user = _user(context)
    if user is None:
        return {"show": False}
    request = context.get("request")
    return {
        "show": True,
        "urls": {
            "notifications": reverse("herald:notifications"),
            "state": reverse("herald:state"),
            "read_all": reverse("herald:mark_all_read"),
            # herald.js puts the id in place of the 0.
            "read": reverse("herald:mark_read", args=[0]),
            "unread": reverse("herald:mark_unread", args=[0]),
            "token": reverse("herald:socket_token"),
            "center": reverse("herald:center"),
            "mutes": reverse("herald:mutes"),
            "jsi18n": reverse("herald:jsi18n"),
        },
        "pusher_url": app_settings.PUSHER_URL,
        "max_toasts": app_settings.MAX_TOASTS,
        "page_size": app_settings.PAGE_SIZE,
        # The cookie is preferred (it follows a login in another tab); this token serves when the
        # host made the cookie HttpOnly. Same value {% csrf_token %} would render.
        "csrf_token": get_token(request) if request is not None else "",
        "csrf_cookie": "" if settings.CSRF_COOKIE_HTTPONLY or settings.CSRF_USE_SESSIONS else settings.CSRF_COOKIE_NAME,
        "csrf_header": _header_name(settings.CSRF_HEADER_NAME),
        "tab_group": _tab_group(user, request),
    }


def _tab_group(user, request) -> str:
    """The name the tabs of one browser share one socket under (docs/browser.md, "One connection per browser").

    One per user and session: tabs share a socket only if it carries their session's envelopes, and a
    page of another user, or of an earlier login, is never in the group. A keyed digest, so the page learns
    neither the session key nor anything it could link to another name of the session. Empty without a
    session: each tab then has a socket of its own.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return ""
    return salted_hmac("herald_live.tab_group", f"{user.pk}:{session_key}", algorithm="sha256").hexdigest()[:32]


def _header_name(meta_key: str) -> str:
    """``HTTP_X_CSRFTOKEN`` (Django's META key) as the header a browser sends: ``X-CSRFTOKEN``."""
    name = meta_key.removeprefix("HTTP_")
    return name.replace("_", "-")


@register.filter
def herald_badge(count: int) -> str:
    """The badge's text: the count, capped so that it stays a badge."""
    return "99+" if count > 99 else str(count)


@register.filter
def herald_level(level: str) -> str:
    """A level as a CSS class suffix (levels are django-notifications' choices; anything else is ``other``)."""
    return level if level in ("success", "info", "warning", "error") else "other"


LEVEL_LABELS = {
    "success": gettext_lazy("Success"),
    "info": gettext_lazy("Info"),
    "warning": gettext_lazy("Warning"),
    "error": gettext_lazy("Error"),
}


@register.filter
def herald_level_label(level: str) -> str:
    """A level as people read it (herald.js shows the same words)."""
    return LEVEL_LABELS.get(level, level)


@register.filter
def herald_safe_url(url: str | None) -> str:
    """The target's URL if it is http(s) or a path on this site; never ``javascript:`` and the like."""
    return safe_target_url(url) or ""


@register.filter
def herald_datetime(iso: str):
    """A payload's ISO 8601 timestamp as a datetime (for Django's ``date`` filter)."""
    return parse_datetime(iso) if isinstance(iso, str) else iso


@register.inclusion_tag("herald/push_button.html", takes_context=True)
def herald_push_button(context):
    """The "Enable notifications on this device" button: web push for this browser (push.js); nothing when push is off.

    The button stays hidden where the browser has no Push API; the script registers Herald's service
    worker (scope: Herald's URL prefix), subscribes with the site's VAPID public key and stores the
    subscription for the user.
    """
    user = _user(context)
    if user is None or not vapid.configured():
        return {"show": False}
    request = context.get("request")
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    sw_url = reverse("herald:service_worker")
    return {
        "show": True,
        # Sessions are per browser: one made here means this browser has push on for this user. Otherwise the
        # button offers to turn it on, even where the browser kept a subscription of an earlier login.
        "on": bool(session_key)
        and PushSubscription.objects.filter(user=user, session_digest=wire.session_digest(session_key)).exists(),
        "public_key": app_settings.VAPID_PUBLIC_KEY,
        "sw_url": sw_url,
        "scope": sw_url.rsplit("/", 1)[0] + "/",
        "subscriptions_url": reverse("herald:push_subscriptions"),
        "csrf_token": get_token(request) if request is not None else "",
        "csrf_cookie": "" if settings.CSRF_COOKIE_HTTPONLY or settings.CSRF_USE_SESSIONS else settings.CSRF_COOKIE_NAME,
        "csrf_header": _header_name(settings.CSRF_HEADER_NAME),
    }
