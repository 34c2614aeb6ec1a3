"""Settings for trainwatch, read from the environment (12-factor).

With no environment at all the service runs on the embedded default: a SQLite database and a
SQLite Celery broker under var/, served by the worker .ci/serve starts. Set DATABASE_URL and
REDIS_URL for the production stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and not env_bool("TRAINWATCH_EMBEDDED", False):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (or set TRAINWATCH_EMBEDDED=true for the "
            "local demo)"
        )
    SECRET_KEY = "insecure-local-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    # Before django.contrib.admin, so accounts' registration/ templates (password reset) win
    # over the admin's.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "axes",
    "uploads",
    "matcher",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentOrganizationMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # django-axes first: it counts failed sign-ins and refuses a locked-out user or address.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.organization",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'trainwatch.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write the same file. WAL lets readers go on while one
    # writes; a writer waits up to `timeout` seconds for the other (the busy timeout) instead
    # of failing, and IMMEDIATE transactions take the write lock when they begin, so that a
    # transaction that read first never fails to upgrade its lock ("database is locked"
    # without waiting). synchronous=NORMAL is safe from corruption in WAL mode.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploaded catalogs live outside the web root and are never served as static files.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"

# Uploads: the request body cap is enforced by Django before a view reads the file.
CATALOG_MAX_BYTES = env_int("CATALOG_MAX_BYTES", 100 * 1024 * 1024)
CATALOG_MAX_ROWS = env_int("CATALOG_MAX_ROWS", 2_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Cache: API throttle counters live here. One process (the embedded default) can keep them in
# memory; several web processes must share them, so production points CACHE_URL at Redis.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: only redis:// URLs are supported")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "trainwatch"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. Tasks always go through a broker to a worker, on every set-up: with REDIS_URL (or
# CELERY_BROKER_URL) the workers take them from Redis; without (the embedded default) from a
# SQLite file beside the database, through kombu's SQLAlchemy transport, which needs no server
# (.ci/serve starts the worker). Tests run tasks in-process (tests/conftest.py).
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_BROKER = not (REDIS_URL or env_str("CELERY_BROKER_URL"))
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL) or (
    f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite'}"
)
if EMBEDDED_BROKER:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
if EMBEDDED_BROKER:
    # The SQLAlchemy transport passes its options to create_engine: only engine arguments.
    # The web server and the worker share the broker file too: wait for its lock, do not fail.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
else:
    # Longer than the longest task, so Redis does not redeliver a chunk that is still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 300)
    }
    # Several deployments (or test runs) can share one Redis: each keeps to its own keys.
    if env_str("CELERY_KEY_PREFIX"):
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_KEY_PREFIX")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"matcher.tasks.match_chunk": {"queue": "matching"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A chunk queues the next one when it finishes: keep trying through a broker restart of up to
# about a minute rather than losing the chain (the watchdog covers longer outages).
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 40,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 2,
}
CELERY_BEAT_SCHEDULE = {
    "match-runs-watchdog": {
        "task": "matcher.tasks.match_runs_watchdog",
        "schedule": float(env_int("MATCH_WATCHDOG_INTERVAL", 60)),
    },
    "catalogs-storing-watchdog": {
        "task": "uploads.tasks.catalogs_storing_watchdog",
        "schedule": float(env_int("CATALOG_WATCHDOG_INTERVAL", 300)),
    },
    # Uploads never confirmed are removed (with their files) a day after they were sent.
    "pending-uploads-purge": {
        "task": "uploads.tasks.pending_uploads_purge",
        "schedule": float(env_int("PENDING_UPLOADS_PURGE_INTERVAL", 3600)),
        "kwargs": {"hours": float(env_int("PENDING_UPLOADS_MAX_HOURS", 24))},
    },
}

# Matching. Thresholds are recorded on every run, so a report says what it was made with.
MATCH_CHUNK_ROWS = env_int("MATCH_CHUNK_ROWS", 500)
# Chunks of one run queued at a time (at least the number of worker processes you run).
MATCH_RUN_WINDOW = env_int("MATCH_RUN_WINDOW", 8)
MATCH_THRESHOLDS = {
    "strong": env_int("MATCH_STRONG", 90),
    "possible": env_int("MATCH_POSSIBLE", 75),
    "artist_min": env_int("MATCH_ARTIST_MIN", 70),
    "title_min": env_int("MATCH_TITLE_MIN", 70),
    "artist_strong": env_int("MATCH_ARTIST_STRONG", 80),
}
MATCH_MAX_PER_DATASET = env_int("MATCH_MAX_PER_DATASET", 3)
# A run with no finished chunk for this long has lost its tasks: the watchdog re-queues them,
# and gives up (the run fails with a reason) after MATCH_GIVE_UP_SECONDS without progress.
MATCH_STALL_SECONDS = env_int("MATCH_STALL_SECONDS", 600)
MATCH_GIVE_UP_SECONDS = env_int("MATCH_GIVE_UP_SECONDS", 6 * 3600)
MATCH_CHUNK_MAX_ATTEMPTS = env_int("MATCH_CHUNK_MAX_ATTEMPTS", 5)

# Reverse proxies in front of the app that append the client's address to X-Forwarded-For
# (1 behind one TLS proxy). 0: the connecting address is the client's. Sign-in lockouts and API
# throttles key on the client address, so a wrong value either locks out everyone behind the
# proxy together or lets a client pick its own address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", env_int("AXES_PROXY_COUNT", 0))

REST_FRAMEWORK = {
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Per-user API tokens (created and revoked in the UI), then the browser session.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "search_anon": env_str("THROTTLE_SEARCH_ANON", "60/minute"),
        "search_user": env_str("THROTTLE_SEARCH_USER", "600/minute"),
        "uploads": env_str("THROTTLE_UPLOADS", "30/hour"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "trainwatch API",
    "DESCRIPTION": (
        "Match a label's catalog against public AI-music training sets: upload catalogs, run "
        "matches, read overlap reports and evidence, record verdicts, export."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "matcher.models.MatchRun.Status",
        "CatalogStatusEnum": "uploads.models.Catalog.Status",
        "DatasetVersionStatusEnum": "matcher.models.DatasetVersion.Status",
    },
}

# Sign-in throttling (django-axes): lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_ip_address"  # uses TRUSTED_PROXY_COUNT
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# E-mail (password reset, invitations): printed on the console unless SMTP is configured.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "trainwatch <noreply@localhost>")
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "kv": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "kv"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes announces itself at every start; keep command-line output to what matters.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}

# Security: on by default when DEBUG is off; a TLS-terminating proxy sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp; Django 5.2 has none of its own): scripts, styles, fonts
# and fetches from this site only, no inline script or handler anywhere (the pages' behaviours
# are in static/js, asked for with data- attributes), no plugins, no framing, forms post here
# only. The API docs page (config.api_urls.ApiDocsView) adds only its own inline <style>.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
