# GridCase production image: gunicorn with uvicorn workers serving project.asgi;
# static files through whitenoise. Runtime dependencies only (requirements.lock):
# no test, browser or lint tools.
# Debian 12 underneath, the same GDAL/GEOS/PROJ and SpatiaLite as `make run`; the
# python.org build links Debian's libsqlite3 and can load SpatiaLite.

# Browser libraries from npm, exactly as package-lock.json pins them; only the
# files settings.NPM_STATIC_FILES serves reach the image (project/finders.py).
FROM node:20-bookworm-slim AS npm
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=project.settings

# gdal-bin pulls in libgdal, libgeos-c and libproj; binutils lets ctypes find them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gdal-bin libsqlite3-mod-spatialite gettext binutils \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock
COPY . .
COPY --from=npm /build/node_modules/echarts/dist/echarts.min.js node_modules/echarts/dist/

# Build-time only: a throwaway key lets settings load with DEBUG off; it is not
# in the image's environment, so the running container must be given its own.
# -i node_modules: viewflow ships stray npm copies of its fonts whose CSS points
# at files that are not there; the manifest storage would refuse them, and no
# template uses them (tests/test_deploy_settings.py runs this same line).
RUN DEBUG=false SECRET_KEY=build-only-not-used-at-run-time \
    python manage.py compilemessages --ignore=.venv -v 0 \
 && DEBUG=false SECRET_KEY=build-only-not-used-at-run-time \
    python manage.py collectstatic --no-input -i node_modules -v 0

# Code and static files stay root-owned and read-only; only var/ (media) is writable.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home gridcase \
 && mkdir -p /app/var/media \
 && chown -R gridcase:gridcase /app/var
USER gridcase

EXPOSE 8000
# project/gunicorn.conf.py reads HOST, PORT and WEB_WORKERS; with TIMERS=inprocess
# (the default) the worker also runs the deadline sweeper. Background jobs (exports)
# need a second container from this image running
# `python manage.py db_worker --no-reload` (compose's `worker` service).
ENV HOST=0.0.0.0 PORT=8000
CMD ["gunicorn", "-c", "project/gunicorn.conf.py", "project.asgi:application"]
