from django.urls import path

from web.notices import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("notifications/send/", views.send, name="send"),
    path("notifications/mark-all-read/", views.mark_all_read, name="mark_all_read"),
    path("notifications/<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/revoke/", views.revoke_session, name="revoke_session"),
    path("sessions/revoke-others/", views.revoke_other_sessions, name="revoke_other_sessions"),
    path("api/v1/events", api.events, name="api_events"),
    path("api/v1/events/<int:event_id>", api.event_detail, name="api_event"),
    path("api/notifications/", views.notification_state, name="notification_state"),
    path("api/socket-token/", views.socket_token, name="socket_token"),
]
