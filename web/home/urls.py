from django.urls import path

from web.home import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notifications/send/", views.send, name="send"),
    path("users/suggest/", views.suggest_users, name="suggest_users"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/revoke/", views.revoke_session, name="revoke_session"),
    path("sessions/revoke-others/", views.revoke_other_sessions, name="revoke_other_sessions"),
]
