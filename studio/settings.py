"""Settings for the studio, read from the environment (every variable is in .env.example)."""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def load_env_file(path: Path) -> None:
    """Read KEY=value lines from .env (written by `make run`); the real environment wins."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


if os.environ.get("STUDIO_READ_ENV_FILE", "1") == "1":
    load_env_file(BASE_DIR / ".env")


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no variable: 1, true, yes, on count as true."""
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


# Directories of the checkout that hold code: nothing the studio writes may land in them.
CODE_DIRS = ("studio", "videos", "api", "review", "templates", "static", "scripts", "bench")
CODE_DIRS += ("tests", "locale", ".git", ".venv")


def refuse_among_code(name: str, path: Path, *, is_file: bool = False) -> None:
    """Stop at startup when the studio would write in the code, or in a tree holding it.

    A file (the SQLite database) may sit at the checkout's top, like the default
    ./db.sqlite3; a directory the studio fills (media) must be one of its own.
    """
    directory = path.parent if is_file else path
    for code in (BASE_DIR / d for d in CODE_DIRS):
        if directory == code or code in directory.parents:
            raise ImproperlyConfigured(
                f"{name} points inside the code ({code}): the studio would write its files "
                "among the source. Choose a directory of its own (empty means the default)."
            )
    if not is_file and (directory == BASE_DIR or directory in BASE_DIR.parents):
        raise ImproperlyConfigured(
            f"{name} is {directory}, which holds the checkout at {BASE_DIR}: the studio would "
            "write its files among the code (videos/ inside the videos package). Choose a "
            "directory of its own, such as ./media (empty means the default)."
        )


def env_path(name: str, default: Path, *, is_file: bool = False) -> Path:
    """A path variable: empty means the default; relative means from the checkout.

    Resolved (symlinks followed) and refused among the code: an empty MEDIA_ROOT once
    meant the current directory, and finished videos landed inside the videos package.
    """
    raw = os.environ.get(name, "").strip()
    path = Path(raw).expanduser() if raw else default
    path = (BASE_DIR / path).resolve()  # an absolute path stays itself
    refuse_among_code(name, path, is_file=is_file)
    return path


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # naturaltime: "3 minutes ago", "3分钟前"
    "django_htmx",
    # Before django_q: its `qcluster` command is replaced by one whose stop cannot hang
    # (studio/management/commands/qcluster.py); studio.models holds failed logins.
    "studio",
    "django_q",
    "videos",
    "api",
    "review",
    "simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studio.middleware.RequestSizeLimitMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LocaleMiddleware, extended: after authentication, to read the user's
    # remembered language; English on the API routes, whose messages clients parse.
    "studio.middleware.LanguageMiddleware",
    # Login is required everywhere except the login page, static files and the
    # key-authenticated API: a page cannot be forgotten by a missing decorator.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "videos.context_processors.unhealthy_providers",
                "videos.context_processors.low_balances",
                "videos.context_processors.running_jobs",
            ],
        },
    },
]

# SQLite by default so a newcomer needs nothing; DATABASE_URL switches to PostgreSQL.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections (workers poll every second), checked before reuse so a
    # PostgreSQL restart or failover costs one reconnect, not a failed job.
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_path("SQLITE_PATH", BASE_DIR / "db.sqlite3", is_file=True),
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL lets the web server read while the worker writes; IMMEDIATE
                # transactions take the write lock up front instead of failing
                # with "database is locked" halfway through.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery"
LOGOUT_REDIRECT_URL = "login"

# The interface speaks English and Simplified Chinese (locale/, README "Languages"): chosen
# from Accept-Language, switched in the header, remembered per user (studio.middleware).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates keep the studio's ISO look in English and read as 2026年12月1日 in Chinese.
FORMAT_MODULE_PATH = ["studio.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"  # collectstatic's output (ignored by git)
refuse_among_code("STATIC_ROOT", STATIC_ROOT)
MEDIA_URL = "/media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", BASE_DIR / "media")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
# S3-compatible media when configured (django-storages); local files otherwise.
if os.environ.get("STUDIO_S3_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["STUDIO_S3_BUCKET"],
            "endpoint_url": os.environ.get("STUDIO_S3_ENDPOINT_URL") or None,
        },
    }
WHITENOISE_USE_FINDERS = True

# Uploads: first frames are at most 10 MB (kling-api.md §1.4); a request body
# carries at most two of them plus masks, so cap bodies well above that but bounded.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    # The queue's name (and Redis key prefix): every web server and worker of one studio
    # must share it; two studios (or test runs) on one Redis need different names.
    "name": os.environ.get("STUDIO_Q_NAME", "studio"),
    "workers": int(os.environ.get("STUDIO_WORKERS", "2")),
    "timeout": 300,
    "retry": 360,  # django-q2 requires retry > timeout, or a slow job runs twice
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "label": "Background jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env_bool("STUDIO_Q_SYNC"):
    Q_CLUSTER["sync"] = True

# The studio's own public URL: used for upstream callbacks and absolute video links.
STUDIO_PUBLIC_URL = os.environ.get("STUDIO_PUBLIC_URL", "").rstrip("/")
STUDIO_ENCRYPTION_KEY = os.environ.get("STUDIO_ENCRYPTION_KEY", "")
# Outbound URLs (image URLs we fetch, client callbacks we call) may not reach
# private or loopback addresses; local development may allow loopback explicitly.
STUDIO_ALLOW_LOOPBACK_URLS = env_bool("STUDIO_ALLOW_LOOPBACK_URLS", False)
# A job that has not finished this long after submission is failed with a clear message.
STUDIO_STUCK_AFTER_SECONDS = int(os.environ.get("STUDIO_STUCK_AFTER_SECONDS", "3600"))
# How long a worker may hold a job before another worker considers it dead.
STUDIO_LEASE_SECONDS = int(os.environ.get("STUDIO_LEASE_SECONDS", "120"))
# Upstream calls: per-request timeout, whole-download deadline and download retries.
STUDIO_UPSTREAM_TIMEOUT = float(os.environ.get("STUDIO_UPSTREAM_TIMEOUT", "30"))
STUDIO_DOWNLOAD_TIMEOUT = float(os.environ.get("STUDIO_DOWNLOAD_TIMEOUT", "300"))
STUDIO_DOWNLOAD_RETRIES = int(os.environ.get("STUDIO_DOWNLOAD_RETRIES", "4"))
STUDIO_MAX_DOWNLOAD_BYTES = int(os.environ.get("STUDIO_MAX_DOWNLOAD_BYTES", str(512 * 1024 * 1024)))
# Scales every poll and backoff delay (1 = normal; benchmarks with 3-second clips use 0.1).
STUDIO_POLL_SCALE = float(os.environ.get("STUDIO_POLL_SCALE", "1"))
# Wait before looking up a create that ended ambiguously: longer than the upstream timeout.
STUDIO_LOOKUP_GRACE_SECONDS = float(os.environ.get("STUDIO_LOOKUP_GRACE_SECONDS", "35"))
# From this many running tasks on one provider, poll them with the list endpoint.
STUDIO_BATCH_MIN_RUNNING = int(os.environ.get("STUDIO_BATCH_MIN_RUNNING", "4"))
# With every provider that serves a job unhealthy, how long the job waits for one to recover
# (they are re-probed every minute) before it fails with the reason; 0 fails it at once.
STUDIO_NO_PROVIDER_FAIL_SECONDS = int(os.environ.get("STUDIO_NO_PROVIDER_FAIL_SECONDS", "300"))
# Seconds before the 1st, 2nd, … retry of a failed callback to an API client; one attempt
# more than delays. Empty means the default; tests use short delays.
_retry_seconds = os.environ.get("STUDIO_CALLBACK_RETRY_SECONDS") or "10,60,300,1800,7200"
STUDIO_CALLBACK_RETRY_SECONDS = [float(seconds) for seconds in _retry_seconds.split(",")]
# A web submission estimated above this many units asks to confirm its cost first.
STUDIO_CONFIRM_UNITS = Decimal(os.environ.get("STUDIO_CONFIRM_UNITS") or "10")
# Days a deleted generation stays in the trash (restorable) before it and its files are purged.
STUDIO_TRASH_DAYS = float(os.environ.get("STUDIO_TRASH_DAYS") or "7")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Pages load scripts and styles from our own origin only: no inline script, no eval
# (htmx is configured in base.html not to inject styles or evaluate expressions).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # blob: for the create form's preview of a chosen frame (URL.createObjectURL).
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Whole request bodies above this are refused with 413 before they are read.
STUDIO_MAX_REQUEST_BYTES = int(os.environ.get("STUDIO_MAX_REQUEST_BYTES", str(40 * 1024 * 1024)))

# API rate limits: a background thread per process settles the blocks of reads it reserved
# (api/ratelimit.py); off only where a test holds the database in one transaction.
STUDIO_RATE_LIMIT_FLUSH_THREAD = True

# A shared cache on Redis when configured (login throttling counts there, see studio/login.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Two studios sharing one Redis (as with the queue name) keep their counts apart.
            "KEY_PREFIX": Q_CLUSTER["name"],
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
