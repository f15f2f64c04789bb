"""Django settings for the obsarchive science archive, read from the environment.

Embedded defaults need nothing installed: SQLite under ``OBSARCHIVE_HOME`` (``./var``), a
filesystem object store there too, and a secret key generated once and kept in that folder.
Production sets ``DATABASE_URL`` (PostgreSQL), the store variables and ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from obsarchive.config import EnvReader, load_settings

ARCHIVE = load_settings()
HOME = ARCHIVE.home.resolve()


# Settings are the one place allowed to read os.environ at import; they read it through the
# same typed readers as the rest of obsarchive, so a bad value fails naming the variable.
_ENV = EnvReader(os.environ)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once per OBSARCHIVE_HOME."""
    configured = _ENV.optional("SECRET_KEY")
    if configured:
        return configured
    path = HOME / "secret_key"
    if path.exists():
        return path.read_text().strip()
    HOME.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = _ENV.flag("DEBUG", False)
ALLOWED_HOSTS = list(_ENV.csv("ALLOWED_HOSTS", ("*",)))
CSRF_TRUSTED_ORIGINS = list(_ENV.csv("CSRF_TRUSTED_ORIGINS", ()))
# Behind a reverse proxy, trust X-Forwarded-Host/-Proto so that absolute URLs the archive hands
# out (VO access URLs, API links) name the public host and scheme. Off unless the proxy sets them.
USE_X_FORWARDED_HOST = _ENV.flag("USE_X_FORWARDED_HOST", False)
if _ENV.flag("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "obsarchive.server.accounts",
    "obsarchive.server.frames",
    "obsarchive.server.events",
    "obsarchive.server.ops",
    "obsarchive.server.downloads",
    "obsarchive.server.vo",
    "obsarchive.server.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Upstream allows every origin (CORS_ORIGIN_ALLOW_ALL): browser clients of other sites
    # read the public API. No credentials are allowed cross-origin.
    "corsheaders.middleware.CorsMiddleware",
    # Serves the admin/API static files under `obsarchive serve` (gunicorn) without nginx.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "obsarchive.server.urls"
WSGI_APPLICATION = "obsarchive.server.wsgi.application"

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
            ],
        },
    },
]

_default_db = f"sqlite:///{HOME / 'archive.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        _ENV.text("DATABASE_URL", _default_db), conn_max_age=600, conn_health_checks=True
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker write while the web server reads; busy timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
_reader_url = _ENV.optional("DATABASE_READER_URL")
if _reader_url:
    DATABASES["replica"] = dj_database_url.parse(_reader_url)

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HOME / "static"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "obsarchive",
    }
}
_cache_url = _ENV.text("CACHE_URL", "")
if _cache_url.startswith("redis://"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _cache_url,
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token (DRF or portal API token), login cookie, portal bearer: reference §3.1.
        "obsarchive.server.accounts.authentication.ArchiveTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "obsarchive.server.accounts.authentication.PortalBearerAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "obsarchive.server.accounts.throttling.ArchiveAnonThrottle",
        "obsarchive.server.accounts.throttling.ArchiveUserThrottle",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "obsarchive science archive API",
    "DESCRIPTION": "OCS-compatible frames archive: search, download and ingest data products.",
    "VERSION": "0.1.0",
}

CORS_ALLOW_ALL_ORIGINS = True

# Frames API (upstream OCS variable names; comma lists as in the OCS settings).
CONFIGDB_URL = _ENV.stripped("CONFIGDB_URL", "")
CONFIGURATION_TYPES = _ENV.csv(
    "CONFIGURATION_TYPES",
    ("BIAS", "DARK", "EXPOSE", "SPECTRUM", "LAMPFLAT", "SKYFLAT", "STANDARD", "TRAILED", "GUIDE",
     "EXPERIMENTAL", "CATALOG"),
)  # fmt: skip
SCIENCE_CONFIGURATION_TYPES = _ENV.csv(
    "SCIENCE_CONFIGURATION_TYPES", ("EXPOSE", "TARGET", "SPECTRUM", "CATALOG", "OBJECT")
)
THUMBNAIL_SIZE_CHOICES = _ENV.csv("THUMBNAIL_SIZE_CHOICES", ("small", "medium", "large"))
PAGINATION_DEFAULT_LIMIT = _ENV.integer("PAGINATION_DEFAULT_LIMIT", 100, minimum=1)
PAGINATION_MAX_LIMIT = _ENV.integer("PAGINATION_MAX_LIMIT", 1000, minimum=1)

# Accounts (portal integration off unless OAUTH_* are set; throttle rates) and post-ingest
# events (no broker unless QUEUE_BROKER_URL is set).
from obsarchive.server.accounts.config import load_account_settings  # noqa: E402
from obsarchive.server.events.config import load_event_settings  # noqa: E402

OBSARCHIVE_ACCOUNTS = load_account_settings(os.environ)
OBSARCHIVE_EVENTS = load_event_settings(os.environ)

# Downloads: URL expiry, zip mode (stream or nginx), zip and script limits.
from obsarchive.server.downloads.config import load_download_settings  # noqa: E402

OBSARCHIVE_DOWNLOADS = load_download_settings(os.environ)

# Web interface (/ui/): remote name resolver, zip and page-size limits.
from obsarchive.server.web.config import load_web_settings  # noqa: E402

OBSARCHIVE_WEB = load_web_settings(os.environ)
LOGIN_URL = "web:login"
# Virtual Observatory interfaces (/vo/): publisher IVOID, ObsCore names, filter table, limits.
from obsarchive.server.vo.config import load_vo_settings  # noqa: E402

OBSARCHIVE_VO = load_vo_settings(os.environ)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "obsarchive.server.accounts.backends.PortalPasswordBackend",
]
NAVBAR_TITLE_TEXT = _ENV.text("NAVBAR_TITLE_TEXT", "Science Archive API")
SPECTACULAR_SETTINGS["TITLE"] = NAVBAR_TITLE_TEXT
if "replica" in DATABASES:
    DATABASE_ROUTERS = ["obsarchive.server.ops.routers.ReplicaRouter"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _ENV.text("LOG_LEVEL", "INFO")},
}

HOME_PATH: Path = HOME
