# GridCase production image: daphne serving project.asgi; static files through whitenoise.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gdal-bin libsqlite3-mod-spatialite gettext binutils \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock
COPY . .
# Build-time only: a throwaway key lets settings load with DEBUG off.
RUN DEBUG=false SECRET_KEY=build-only-not-used-at-run-time python manage.py compilemessages --ignore=.venv -v 0 \
 && DEBUG=false SECRET_KEY=build-only-not-used-at-run-time python manage.py collectstatic --no-input -v 0

RUN useradd --system --home /app gridcase && mkdir -p /app/var/media && chown -R gridcase /app/var
USER gridcase
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "project.asgi:application"]
