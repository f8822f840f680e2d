"""Herald's URLs; a host includes them under a prefix of its choice:

path("herald/", include("herald_live.urls")),   # namespace "herald"
"""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from herald_live import api, views

app_name = "herald"

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    # The notification center page: the bell's link when JavaScript is off.
    path("", views.notification_center, name="center"),
    path("notifications/state/", views.notification_state, name="state"),
    path("notifications/read-all/", views.mark_all_read, name="mark_all_read"),
    path("notifications/<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("notifications/<int:notification_id>/unread/", views.mark_unread, name="mark_unread"),
    path("socket-token/", views.socket_token, name="socket_token"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["herald_live"]), name="jsi18n"),
    path("api/v1/events", api.events, name="api_events"),
    path("api/v1/events/<int:event_id>", api.event_detail, name="api_event"),
]
