"""Herald's URLs; a host includes them under a prefix of its choice:

path("herald/", include("herald_live.urls")),   # namespace "herald"
"""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from herald_live.email import views as email_views
from herald_live.push import views as push_views
from herald_live.views import api, center, preferences, socket

app_name = "herald"

urlpatterns = [
    path("notifications/", center.notification_list, name="notifications"),
    # The notification center page: the bell's link when JavaScript is off.
    path("", center.notification_center, name="center"),
    path("notifications/state/", center.notification_state, name="state"),
    path("notifications/read-all/", center.mark_all_read, name="mark_all_read"),
    path("notifications/<int:notification_id>/read/", center.mark_read, name="mark_read"),
    path("notifications/<int:notification_id>/unread/", center.mark_unread, name="mark_unread"),
    # Notification preferences: the page (works without JavaScript) and its JSON API (docs/channels.md).
    path("preferences/", preferences.preferences_page, name="preferences"),
    path("notifications/preferences/", preferences.preferences_api, name="preferences_api"),
    path("notifications/mutes/", preferences.mutes, name="mutes"),
    path("notifications/mutes/<int:mute_id>/", preferences.mute_detail, name="mute"),
    path("socket-token/", socket.socket_token, name="socket_token"),
    # Web push (docs/channels.md): the service worker, whose scope is this prefix, and this browser's subscription.
    path("sw.js", push_views.service_worker, name="service_worker"),
    path("push/subscriptions/", push_views.subscriptions, name="push_subscriptions"),
    path("push/subscriptions/<int:subscription_id>/remove/", push_views.remove_subscription, name="push_remove"),
    # The email digests' one-click unsubscribe (RFC 8058): no login, a signed token (docs/channels.md, "Email").
    path("email/unsubscribe/<str:token>/", email_views.unsubscribe, name="email_unsubscribe"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["herald_live"]), name="jsi18n"),
    path("api/v1/events", api.events, name="api_events"),
    path("api/v1/events/<int:event_id>", api.event_detail, name="api_event"),
]
