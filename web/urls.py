from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from web.health import healthz
from web.login import ThrottledLoginView

urlpatterns = [
    # Django's login, with failures limited per account and per address (web/login.py).
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("herald/", include("herald_live.urls")),
    # django-notifications' own URLs, made live by Herald (docs/integrate.md).
    path("inbox/notifications/", include("herald_live.notifications_urls")),
    path("", include("web.home.urls")),
]

handler500 = "web.errors.server_error"
