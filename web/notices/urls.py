from django.urls import path

from web.notices import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notifications/send/", views.send, name="send"),
    path("notifications/mark-all-read/", views.mark_all_read, name="mark_all_read"),
    path("api/notifications/", views.notification_state, name="notification_state"),
    path("api/socket-token/", views.socket_token, name="socket_token"),
]
