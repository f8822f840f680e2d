"""django-notifications' own URLs, live: include this module where a site included ``notifications.urls``.

    path("inbox/notifications/", include("herald_live.notifications_urls")),   # namespace "notifications"

Every view is django-notifications' own. Marking one read or unread (and a soft delete, a save) already
reach every live session through Herald's model signal; "mark all as read" updates rows in bulk (no
signal), so its view is wrapped to tell the recipient's sessions which ids it covered, and "delete" is
wrapped to tell them which one is gone (Herald watches no deletes: see signals.py).
"""

from __future__ import annotations

from functools import wraps

from django.db import transaction
from django.db.models import Max
from django.urls import URLPattern
from notifications import urls as stock
from notifications.utils import slug2id

from herald_live.actions import announce

app_name = stock.app_name


def _live_mark_all_as_read(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with transaction.atomic():
            response = view(request, *args, **kwargs)
            if request.method == "POST" and request.user.is_authenticated and response.status_code < 400:
                # Registered queryset filters (django-notifications' registry) may have left some unread:
                # then the user's sessions refetch their state instead of clearing everything.
                mine = request.user.notifications.all()
                up_to_id = mine.aggregate(top=Max("id"))["top"]
                if up_to_id is None:
                    pass
                elif mine.filter(unread=True, deleted=False, id__lte=up_to_id).exists():
                    announce.publish_resync_on_commit(user_id=request.user.pk)
                else:
                    announce.publish_all_read_on_commit(user_id=request.user.pk, up_to_id=up_to_id)
        return response

    return wrapper


def _live_delete(view):
    @wraps(view)
    def wrapper(request, *args, slug=None, **kwargs):
        with transaction.atomic():
            response = view(request, *args, slug=slug, **kwargs)
            if request.method == "POST" and request.user.is_authenticated and response.status_code < 400:
                # The stock view found the row among the user's own (else 404) and deleted or soft-deleted it.
                announce.publish_deleted_on_commit(user_id=request.user.pk, notification_id=slug2id(slug))
        return response

    return wrapper


WRAPPED = {"mark_all_as_read": _live_mark_all_as_read, "delete": _live_delete}

urlpatterns = [
    URLPattern(p.pattern, WRAPPED[p.name](p.callback), p.default_args, p.name) if p.name in WRAPPED else p
    for p in stock.urlpatterns
]
