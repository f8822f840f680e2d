# syntax=docker/dockerfile:1
# One image for every Python service of Herald (web, workers, pushers, the migrate job); compose.yaml picks the
# command. A second target, "nginx", is nginx with this build's static files and deploy/nginx/herald.conf.
#
#   docker build -t herald .                        # the Python image (the last stage)
#   docker build --target nginx -t herald-nginx .

# --- Browser packages: socket.io-client comes from npm, never from a CDN ------------------------------------
FROM node:20-bookworm-slim AS node-modules
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

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
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --from=node-modules /build/node_modules ./node_modules
COPY . .
# collectstatic imports the settings, which refuse to start without secrets. These two are random, exist only in
# this RUN step's environment, and are never part of the image's ENV: the real ones come at run time.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    HERALD_TOKEN_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    python manage.py collectstatic --no-input --verbosity 0 \
    && test -f var/static/notices/live.js \
    && test -f var/static/vendor/socket.io/socket.io.min.js
USER herald:herald
EXPOSE 8000 8001
CMD ["gunicorn", "web.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--forwarded-allow-ips", "*"]

# --- nginx with this build's static files ------------------------------------------------------------------------
FROM nginx:1.28-alpine AS nginx
COPY deploy/nginx/herald.conf /etc/nginx/conf.d/default.conf
COPY --from=app /app/var/static /srv/herald/static
EXPOSE 8080

# The default target is the Python image.
FROM app
