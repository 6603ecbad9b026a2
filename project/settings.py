"""GridCase settings: one file, driven by environment variables.

With no environment at all GridCase runs embedded: SpatiaLite in var/, the
in-memory channel layer and deadline timers inside the web process. Set
DATABASE_URL=postgis://… and REDIS_URL=redis://… for the production shape.
"""

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
EXAMPLE_SECRET_KEY = "gridcase-example-secret-key-do-not-use-in-production"


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")
    return value in ("true", "1", "yes")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


# Debug pages list every URL and setting to whoever reaches the port: only on request.
DEBUG = envbool("DEBUG", "false")
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))


def secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once into var/ (the embedded
    default: `make run` needs no setup and still signs sessions with a key of its own)."""
    key = os.getenv("SECRET_KEY", "")
    if key == EXAMPLE_SECRET_KEY:
        # Refuse a key anyone can read in an old copy of our docs.
        raise ImproperlyConfigured("Set SECRET_KEY: the example key is refused")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=VAR_DIR, prefix="secret_key.")  # mode 0600
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:  # whole or not at all: processes starting together agree on one key
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


SECRET_KEY = secret_key()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Served to this machine only (the demo, the tests): plain HTTP. Any real host
# name: secure cookies, HSTS and the HTTPS redirect, unless HTTPS=false says a
# plain-HTTP proxy is in front.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}
HTTPS = envbool("HTTPS", "false" if set(ALLOWED_HOSTS) <= LOCAL_HOSTS else "true")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.getenv("SITE_NAME", "GridCase")

INSTALLED_APPS = [
    # First, so our templates (registration/login.html) win over viewflow's.
    "frontend",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "project.apps.StaticFiles",
    "django.contrib.gis",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "viewflow",
    "viewflow.workflow",
    "django_tasks",
    "django_tasks_db",
    "grid",
    "cases",
    "patrols",
    "diary",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.refuse_nul_characters",
    "core.sharedstate.request_scope",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "cases.context_processors.bell",
                "frontend.context_processors.desk",
            ],
        },
    },
]

# Database: SpatiaLite under var/ unless DATABASE_URL names another.
DATABASE_URL = os.getenv("DATABASE_URL", f"spatialite:///{VAR_DIR / 'gridcase.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
DATABASE_ENGINE = DATABASES["default"]["ENGINE"]
if DATABASE_ENGINE not in (
    "django.contrib.gis.db.backends.postgis",
    "django.contrib.gis.db.backends.spatialite",
):
    raise ImproperlyConfigured("DATABASE_URL must be postgis://… or spatialite:///…")
IS_POSTGIS = DATABASE_ENGINE.endswith("postgis")
if IS_POSTGIS:
    # A connection pool per process. Without one every request opened a new
    # PostgreSQL connection (a server process fork and PostGIS type lookups).
    # CONN_MAX_AGE would keep one per request thread (project.asgi keeps up
    # to 64 of those per process); the pool shares a few among them all.
    # DB_POOL_SIZE=0 turns it off.
    pool_size = envint("DB_POOL_SIZE", "8")
    if pool_size:
        DATABASES["default"]["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": pool_size, "timeout": 10}
        }
    else:
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # SQLite serialises writers; IMMEDIATE makes a transaction take the write
    # lock at BEGIN, so two concurrent transitions queue instead of one failing
    # late with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not the shared-cache memory database: that one takes
    # table locks and ignores the busy timeout, so real concurrency (two timer
    # sweepers, two people completing one task) fails there but not in use.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels: Redis when REDIS_URL is set, otherwise in-memory (one process only).
REDIS_URL = os.getenv("REDIS_URL", "")
# "pubsub": one Redis subscription per group per web process, fanned out to the
# process's sockets in memory (nothing stored per socket in Redis; a message to a
# group nobody listens to is gone). "lists": channels-redis's list per socket,
# with CHANNEL_CAPACITY and an expiry. Measured in docs/benchmarks.md.
CHANNEL_LAYER = os.getenv("CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER not in ("pubsub", "lists"):
    raise ImproperlyConfigured("CHANNEL_LAYER must be pubsub or lists")
if REDIS_URL:
    # Pub/sub channel names are one namespace for the whole Redis server, not per
    # database: the prefix names the database so that two on one server stay apart.
    _redis_db = urlparse(REDIS_URL).path.strip("/") or "0"
    _layer_config = {
        # socket_timeout=None: redis-py's finite timeout kills idle reads.
        "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
        "prefix": os.getenv("CHANNEL_PREFIX") or f"gridcase-{_redis_db}",
    }
    if CHANNEL_LAYER == "pubsub":
        _layer = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    else:
        _layer = {"BACKEND": "channels_redis.core.RedisChannelLayer"}
        _layer_config |= {"capacity": envint("CHANNEL_CAPACITY", "1000"), "expiry": 60}
    CHANNEL_LAYERS = {"default": _layer | {"CONFIG": _layer_config}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Deadline timers: "inprocess" runs the sweeper in a thread of the web process
# (embedded default); "external" expects `manage.py run_timers` as its own
# process (docker-compose); "off" runs none.
TIMERS = os.getenv("TIMERS", "inprocess")
if TIMERS not in ("inprocess", "external", "off"):
    raise ImproperlyConfigured("TIMERS must be inprocess, external or off")
TIMER_INTERVAL_SECONDS = envint("TIMER_INTERVAL_SECONDS", "30")
# How often the timer process looks for open cases without an owner (and alerts).
OWNERSHIP_CHECK_SECONDS = envint("OWNERSHIP_CHECK_SECONDS", "600")
# How often each live map's socket looks in the timeline for events the
# channel layer did not deliver (and sends them): the longest a lost event waits.
MAP_GAP_CHECK_SECONDS = envint("MAP_GAP_CHECK_SECONDS", "10")

# Notifications outside the app (cases/outbound.py). Each channel a person may
# choose has a backend, as Django's EMAIL_BACKEND: console (logs), file (JSON
# lines under var/), webhook (a JSON POST to a group robot or an SMS gateway),
# email (Django's mail, EMAIL_* settings) or off. The outbox is drained by the
# timer process; a failing gateway is retried with backoff, then given up.
NOTIFY_BACKENDS = {
    "console": "cases.outbound.ConsoleBackend",
    "file": "cases.outbound.FileBackend",
    "webhook": "cases.outbound.WebhookBackend",
    "email": "cases.outbound.EmailBackend",
}


def notify_channel(name: str, address: str, backend: str, body: str) -> dict | None:
    """One outbound channel from NOTIFY_<NAME>_* variables; None when it is off."""
    prefix = f"NOTIFY_{name.upper()}_"
    chosen = os.getenv(prefix + "BACKEND", backend)
    if chosen == "off":
        return None
    if chosen not in NOTIFY_BACKENDS:
        known = ", ".join(NOTIFY_BACKENDS)
        raise ImproperlyConfigured(f"{prefix}BACKEND must be one of {known} or off")
    channel = {
        "BACKEND": NOTIFY_BACKENDS[chosen],
        "ADDRESS": address,
        "URL": os.getenv(prefix + "URL", ""),
        "BODY": os.getenv(prefix + "BODY", body),
        "TIMEOUT": envint(prefix + "TIMEOUT", "10"),
    }
    if chosen == "webhook" and not channel["URL"].startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{prefix}URL must be an http(s) URL for the webhook backend")
    if channel["BODY"] not in ("robot", "sms"):
        raise ImproperlyConfigured(f"{prefix}BODY must be robot or sms")
    return channel


# address: where each person's copy goes (their e-mail, their mobile, or the
# group robot's one URL for everybody).
NOTIFY_CHANNELS = {
    name: channel
    for name, channel in {
        "email": notify_channel("email", "email", "console", "robot"),
        "sms": notify_channel("sms", "phone", "console", "sms"),
        "robot": notify_channel("robot", "group", "console", "robot"),
    }.items()
    if channel is not None
}
NOTIFY_FILE = Path(os.getenv("NOTIFY_FILE", VAR_DIR / "notifications.jsonl"))
# More notices than this of one kind to one person from one action or sweep
# batch become one digest.
NOTIFY_DIGEST_OVER = envint("NOTIFY_DIGEST_OVER", "5")
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", "8")
NOTIFY_RETRY_SECONDS = envint("NOTIFY_RETRY_SECONDS", "30")  # doubled after each failure
# Links in outbound messages: the address people open GridCase at.
SITE_URL = os.getenv("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "gridcase@localhost")
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")

# Background jobs (exports): django-tasks with its ORM backend, so a job is a row
# in this same database, written in the transaction that asks for it, and
# `manage.py db_worker` runs it (`make run` starts one beside the server; compose
# has a `worker` service). Nothing runs a job inside the web process.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# An export whose worker has not reported progress for this long is taken to have
# died (killed, machine lost); the timer sweep starts it over, up to EXPORT_ATTEMPTS
# times, then fails it with a reason its requester can read.
EXPORT_STALE_SECONDS = envint("EXPORT_STALE_SECONDS", "120")
EXPORT_ATTEMPTS = envint("EXPORT_ATTEMPTS", "3")
# Cases an export reads and writes at a time: its memory and its progress steps.
EXPORT_BATCH = envint("EXPORT_BATCH", "2000")
if EXPORT_STALE_SECONDS < 10 or EXPORT_ATTEMPTS < 1 or EXPORT_BATCH < 1:
    raise ImproperlyConfigured(
        "EXPORT_STALE_SECONDS must be at least 10, EXPORT_ATTEMPTS and EXPORT_BATCH at least 1"
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed copies made by collectstatic (`make run`, `make test` and
    # the image build run it); with DEBUG on, the apps' own files as they are edited.
    "staticfiles": {
        "BACKEND": "project.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "project.finders.NpmFinder",
]
# Browser libraries from npm (package-lock.json; `make` runs npm ci): the files
# our pages load, by the path they are served at. Nothing else of node_modules.
NODE_MODULES = BASE_DIR / "node_modules"
NPM_STATIC_FILES = {"echarts/echarts.min.js": "echarts/dist/echarts.min.js"}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Map tiles: none by default (boundaries on a plain background, fit for an
# intranet); TILE_URL adds a base map, TILE_CRS says if it is GCJ-02 shifted.
TILE_URL = os.getenv("TILE_URL", "")
TILE_ATTRIBUTION = os.getenv("TILE_ATTRIBUTION", "")
TILE_CRS = os.getenv("TILE_CRS", "wgs84")
if TILE_CRS not in ("wgs84", "gcj02"):
    raise ImproperlyConfigured("TILE_CRS must be wgs84 or gcj02")
LEAFLET_CONFIG = {
    "TILES": [(_("Base map"), TILE_URL, {"attribution": TILE_ATTRIBUTION})] if TILE_URL else [],
    "DEFAULT_CENTER": (30.59, 114.30),
    "DEFAULT_ZOOM": 12,
    "RESET_VIEW": False,
    "NO_GLOBALS": False,
}

# Territory: how far (metres) a GPS fix may lie outside a cell and still count.
GRID_LOCATE_TOLERANCE_M = envint("GRID_LOCATE_TOLERANCE_M", "30")
# Patrols (patrols/): how often the phone records its position, how near a
# key place a check-in must be, the most points one patrol may carry, and the
# worst GPS accuracy a point may have to count towards the patrol's length.
PATROL_POSITION_SECONDS = envint("PATROL_POSITION_SECONDS", "30")
PATROL_CHECK_IN_RADIUS_M = envint("PATROL_CHECK_IN_RADIUS_M", "50")
PATROL_MAX_POINTS = envint("PATROL_MAX_POINTS", "5000")
PATROL_MAX_ACCURACY_M = envint("PATROL_MAX_ACCURACY_M", "50")

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a bad or missing token a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per token (user) and per address for the unauthenticated; counted in Redis
    # (or this process without it) by project/throttling.py.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.UserThrottle",
        "core.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.getenv("API_RATE", "1200/min"),
        "anon": os.getenv("API_ANON_RATE", "60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GridCase API",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema documents the API, not the endpoint that serves the schema.
    "SERVE_INCLUDE_SCHEMA": False,
}

# Open311 reads without an api_key (public categories only, no personal data, the
# location moved to the cell's centre). "false": every read needs a key, as the API.
OPEN311_PUBLIC_READS = envbool("OPEN311_PUBLIC_READS", "true")

# Tries of a case number and access code on the resident's page, per address and
# per case number (DRF rate syntax): past it, every try is refused for a while.
RESIDENT_LOOKUP_RATE = os.getenv("RESIDENT_LOOKUP_RATE", "10/hour")

SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", str(HTTPS))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(HTTPS))
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if os.getenv("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

# Debian 12 ships GDAL 3.6, which cannot block file/network access from inside
# spatial references; GDAL only reads boundary files an administrator imports.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
