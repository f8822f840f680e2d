# syntax=docker/dockerfile:1
# One image for every Python service of Herald (web, workers, pushers, the migrate job); compose.yaml picks the
# command. A second target, "nginx", is nginx with this build's static files and deploy/nginx/herald.conf.
#
#   docker build -t herald .                        # the Python image (the last stage)
#   docker build --target nginx -t herald-nginx .
#
# The image is the reference site installed as docs/integrate.md tells any host: Herald itself is the wheel built
# from herald_live/ (pip-installed, with its herald-pusher command); only the site (manage.py, web/, workers/)
# and the container healthcheck are copied in as source.

# --- Browser packages: socket.io-client and Bootstrap come from npm, never from a CDN ------------------------
FROM node:20-bookworm-slim AS node-modules
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# --- Herald's wheel: the package with the socket.io client it ships (hosts need no Node) ----------------------
FROM python:3.11-slim-bookworm AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml ./
# The distribution's long description (pyproject.toml: readme).
COPY docs/integrate.md docs/integrate.md
COPY herald_live herald_live
# What `make deps` does (the Makefile's ASSETS rule): the file from this build's npm install (package-lock.json) is
# copied into the package before it is built, so the wheel ships exactly the locked version.
COPY --from=node-modules /build/node_modules/socket.io-client/dist/socket.io.min.js herald_live/static/herald/vendor/socket.io.min.js
COPY --from=node-modules /build/node_modules/socket.io-client/LICENSE herald_live/static/herald/vendor/socket.io.LICENSE
RUN pip wheel --no-deps --wheel-dir /dist . \
    && python -c "import sys, zipfile, glob; names = zipfile.ZipFile(glob.glob('/dist/*.whl')[0]).namelist(); sys.exit('herald_live/static/herald/vendor/socket.io.min.js' not in names)"

# --- The Python image ------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=web.settings
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --home-dir /app --no-create-home --shell /usr/sbin/nologin herald
WORKDIR /app
# The pinned runtime (one environment for web, workers and pushers), then Herald from its wheel with the extras this
# site uses; pip check fails the build if the wheel needs something requirements.txt does not pin.
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --from=wheel /dist /tmp/dist
RUN pip install "$(ls /tmp/dist/django_herald_live-*.whl)[pusher,gevent,postgresql]" \
    && pip check \
    && rm -rf /tmp/dist \
    && command -v herald-pusher
# Bootstrap for the reference site's pages (STATICFILES_DIRS in web/settings.py).
COPY --from=node-modules /build/node_modules/bootstrap/dist ./node_modules/bootstrap/dist
# The reference site only: Herald is imported from site-packages, never from a source copy.
COPY manage.py ./
COPY web ./web
COPY workers ./workers
COPY deploy/healthcheck.py ./deploy/healthcheck.py
# collectstatic imports the settings, which refuse to start without secrets. These two are random, exist only in
# this RUN step's environment, and are never part of the image's ENV: the real ones come at run time.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    HERALD_TOKEN_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    python manage.py collectstatic --no-input --verbosity 0 \
    && test -f var/static/herald/herald.js \
    && test -f var/static/herald/vendor/socket.io.min.js \
    && test -f var/static/vendor/bootstrap/css/bootstrap.min.css
USER herald:herald
EXPOSE 8000 8001
CMD ["gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--forwarded-allow-ips", "*"]

# --- nginx with this build's static files ------------------------------------------------------------------------
FROM nginx:1.28-alpine AS nginx
COPY deploy/nginx/herald.conf /etc/nginx/conf.d/default.conf
COPY --from=app /app/var/static /srv/herald/static
EXPOSE 8080

# The default target is the Python image.
FROM app
