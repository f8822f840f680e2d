"""The "existing site" a Django team starts from, before it follows docs/integrate.md.

A fresh ``django-admin startproject mysite`` plus what any site has: an app of its own (``pages``) with a home
page behind a login, its own base template (no Bootstrap, no Herald), Django's login views, and a management
command that notifies a user with stock django-notifications, as the site's existing code would.
"""

from __future__ import annotations

from pathlib import Path

PROJECT = "mysite"  # the literal project name docs/integrate.md uses

BASE_HTML = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}My site{% endblock %}</title>
  <style>
    body { margin: 0; font-family: Georgia, serif; background: #fdfaf3; color: #222; }
    nav { display: flex; gap: 1rem; align-items: center; justify-content: space-between; padding: .5rem 1rem;
          border-bottom: 2px solid #c8b88a; }
    main { padding: 1rem; }
  </style>
</head>
<body>
  <header>
    <nav>
      <a href="/">My site</a>
    </nav>
  </header>
  <main>{% block content %}{% endblock %}</main>
</body>
</html>
"""

LOGIN_HTML = """\
{% extends "base.html" %}
{% block content %}
<form method="post" id="login">
  {% csrf_token %}
  {{ form.as_p }}
  <input type="hidden" name="next" value="{{ next }}">
  <button type="submit">Log in</button>
</form>
{% endblock %}
"""

HOME_HTML = """\
{% extends "base.html" %}
{% block content %}<h1 id="greeting">Hello {{ user.get_username }}</h1>{% endblock %}
"""

VIEWS_PY = """\
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "pages/home.html")
"""

URLS_PY = """\
from django.contrib import admin
from django.urls import include, path

from pages.views import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home, name="home"),
]
"""

# The site's own code, unchanged by Herald: stock django-notifications.
NOTIFY_COMMAND_PY = """\
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from notifications.signals import notify


class Command(BaseCommand):
    help = "Notifies a user (stock django-notifications)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("verb")
        parser.add_argument("--actor", required=True)

    def handle(self, *args, username, verb, actor, **options):
        users = get_user_model().objects
        notify.send(users.get(username=actor), recipient=users.get(username=username), verb=verb)
"""

SETTINGS_ADDITIONS = """
# --- the site's own additions (before Herald) ---
INSTALLED_APPS += ["pages"]
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
LOGIN_REDIRECT_URL = "/"
"""


def write_existing_site(project: Path) -> None:
    """Turns a fresh startproject (with ``manage.py startapp pages`` run) into the site Herald is added to."""
    (project / "templates" / "registration").mkdir(parents=True)
    (project / "templates" / "base.html").write_text(BASE_HTML)
    (project / "templates" / "registration" / "login.html").write_text(LOGIN_HTML)
    (project / "pages" / "templates" / "pages").mkdir(parents=True)
    (project / "pages" / "templates" / "pages" / "home.html").write_text(HOME_HTML)
    (project / "pages" / "views.py").write_text(VIEWS_PY)
    commands = project / "pages" / "management" / "commands"
    commands.mkdir(parents=True)
    (project / "pages" / "management" / "__init__.py").write_text("")
    (commands / "__init__.py").write_text("")
    (commands / "notify_user.py").write_text(NOTIFY_COMMAND_PY)
    (project / PROJECT / "urls.py").write_text(URLS_PY)
    settings = project / PROJECT / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_ADDITIONS)
