import logging
import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
application = get_wsgi_application()

from web import metrics  # noqa: E402 - after Django is set up, so that its logging is configured

logger = logging.getLogger("web.metrics")
if "gunicorn" not in sys.modules:
    # runserver (make run) and other one-process servers: this process serves its own metrics.
    host, port = metrics.listener_address()
    try:
        if metrics.serve(host=host, port=port):
            logger.info("metrics on http://%s:%s/metrics", host, port)
    except OSError as exc:
        logger.error("metrics: cannot listen on %s:%s (%s); the site runs without them", host, port, exc)
elif not metrics.claimed() and metrics.listener_address()[1]:
    # gunicorn's master starts the one listener (web/gunicorn.conf.py); each worker must not try.
    logger.warning("metrics: no listener; start gunicorn with -c web/gunicorn.conf.py")
