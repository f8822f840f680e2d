"""The reference site: a Django project that installs Herald as docs/integrate.md says."""

# As in any Django project with Celery: the app is loaded with Django, so that shared tasks use it.
from workers.celery_app import app as celery_app

__all__ = ["celery_app"]
