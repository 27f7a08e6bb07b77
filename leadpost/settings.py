"""Leadpost's settings: every knob is an environment variable, read through helpers that fail loudly.

README.md lists every variable. No secret has a default outside development (`LEADPOST_DEV=1`), where
secrets are generated once and kept under the data folder so restarts keep decrypting old SSNs.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from leadpost.lib import jsonlog

# Lets `admin.ModelAdmin[Account]` and friends be subscripted at run time, for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env_str(name, default) or default).lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(choices)}, not {os.environ.get(name)!r}"
        )
    return value


def env_list(name: str) -> list[str]:
    value = env_str(name) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


DEV = env_bool("LEADPOST_DEV", False)
DEBUG = env_bool("LEADPOST_DEBUG", False)
DATA_DIR = Path(env_str("LEADPOST_DATA_DIR", str(BASE_DIR / "data")) or "data").resolve()


def _dev_secrets() -> dict[str, str]:
    """Secrets for development only, generated on first use and kept in the data folder."""
    path = DATA_DIR / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    made = {
        "secret_key": secrets.token_urlsafe(50),
        "ssn_keys": Fernet.generate_key().decode(),
        "ssn_index_key": secrets.token_urlsafe(32),
    }
    path.write_text(json.dumps(made))
    path.chmod(0o600)
    return made


def _secret(name: str, dev_key: str) -> str:
    value = env_str(name)
    if value is not None:
        return value
    if DEV:
        return _dev_secrets()[dev_key]
    raise ImproperlyConfigured(
        f"{name} is not set. Set it (see README.md, 'Settings'), or set LEADPOST_DEV=1 for a "
        "development instance with generated secrets."
    )


SECRET_KEY = _secret("LEADPOST_SECRET_KEY", "secret_key")
# Fernet keys for SSNs at rest, newest first: MultiFernet encrypts with the first and decrypts with
# any, so a key can be rotated in without re-encrypting (see `leadpost rotate-ssn-keys`).
SSN_KEYS = [k for k in _secret("LEADPOST_SSN_KEYS", "ssn_keys").split(",") if k.strip()]
# A separate key for the SSN blind index (HMAC), so matching by SSN never needs decryption.
SSN_INDEX_KEY = _secret("LEADPOST_SSN_INDEX_KEY", "ssn_index_key")

ALLOWED_HOSTS = env_list("LEADPOST_ALLOWED_HOSTS") or (["*"] if DEV else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("LEADPOST_CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating load balancer, the scheme comes from X-Forwarded-Proto.
if env_bool("LEADPOST_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# The address printed in front of Lead Post URLs (e.g. https://leads.example-agency.com).
BASE_URL = (env_str("LEADPOST_BASE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "leadpost.accounts",
    "leadpost.records",
    "leadpost.intake",
    "leadpost.routing",
    "leadpost.webhooks",
    "leadpost.vendors",
    "leadpost.returns",
    "leadpost.apidoc",
    "leadpost.consent",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from the app servers: no separate web server to set up.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leadpost.urls"
WSGI_APPLICATION = "leadpost.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# Passwords pass Django's four standard validators wherever a person sets one (SPEC §10).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# Logins (staff and operators) are throttled per user name and per client address (SPEC §10):
# that many failures within the window lock the user name, or the address, until it ends.
LEADPOST_LOGIN_WINDOW_SECONDS = env_int("LEADPOST_LOGIN_WINDOW_SECONDS", 15 * 60, minimum=1)
LEADPOST_LOGIN_MAX_FAILURES_PER_USER = env_int("LEADPOST_LOGIN_MAX_FAILURES_PER_USER", 5, minimum=1)
LEADPOST_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int(
    "LEADPOST_LOGIN_MAX_FAILURES_PER_ADDRESS", 30, minimum=1
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
            ]
        },
    }
]


def _sqlite(path: str) -> dict[str, Any]:
    return {
        # Django's SQLite backend with writers queued, not sleeping (leadpost/lib/sqlite/base.py).
        "ENGINE": "leadpost.lib.sqlite",
        "NAME": path,
        # Several server processes share one file: WAL lets readers go on during a write,
        # IMMEDIATE takes the write lock at BEGIN (no deadlock-prone lock upgrade mid-transaction),
        # and the busy timeout makes concurrent posts queue for the lock instead of failing.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("LEADPOST_SQLITE_TIMEOUT", 20),
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        "CONN_MAX_AGE": None,
    }


def _database() -> dict[str, Any]:
    url = env_str("DATABASE_URL")
    if url and url.startswith("sqlite:"):
        return _sqlite(dj_database_url.parse(url)["NAME"])
    if url:
        config: dict[str, Any] = dict(
            dj_database_url.parse(
                url,
                conn_max_age=env_int("LEADPOST_CONN_MAX_AGE", 600),
                # Off by default: a check costs a round trip on every request (measured in
                # bench/README.md); a connection lost to a database restart fails one post with
                # a 503, which the vendor retries.
                conn_health_checks=env_bool("LEADPOST_CONN_HEALTH_CHECKS", False),
            )
        )
        if config["ENGINE"].endswith("postgresql"):
            # libpq waits for a connection as long as the kernel does (minutes, when packets to a
            # stopped server are dropped): a post then holds a thread, and /readyz cannot say
            # "unready" in time. A `connect_timeout` in the URL's query string wins.
            config.setdefault("OPTIONS", {}).setdefault(
                "connect_timeout", env_int("LEADPOST_DB_CONNECT_TIMEOUT", 3, minimum=1)
            )
        return config
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    config = _sqlite(str(DATA_DIR / "leadpost.sqlite3"))
    # Tests use a file too, so that live-server tests see WAL and the lock queue for real.
    config["TEST"] = {"NAME": str(DATA_DIR / "test-leadpost.sqlite3")}
    return config


DATABASES = {"default": _database()}

# Lead Post limits (SPEC §2, §3).
LEADPOST_MAX_BODY_BYTES = env_int("LEADPOST_MAX_BODY_BYTES", 64 * 1024 * 1024, minimum=1024)
LEADPOST_RATE_LIMIT_PER_MINUTE = env_int("LEADPOST_RATE_LIMIT_PER_MINUTE", 0)
LEADPOST_RETRY_AFTER_SECONDS = env_int("LEADPOST_RETRY_AFTER_SECONDS", 5, minimum=1)
LEADPOST_POST_LOG_RETENTION_DAYS = env_int("LEADPOST_POST_LOG_RETENTION_DAYS", 90, minimum=1)
LEADPOST_API_PAGE_SIZE = env_int("LEADPOST_API_PAGE_SIZE", 100, minimum=1)
# Only the lead endpoint takes large bodies, and it reads them itself (lib/requestbody.py) with the
# limit above: every other page keeps Django's default limits (SPEC §10), set here so the server's
# front refuses an oversized body to those pages before reading it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# The HTTP server (`leadpost serve`, leadpost/server.py).
LEADPOST_BIND = env_str("LEADPOST_BIND", "127.0.0.1:8000") or "127.0.0.1:8000"
LEADPOST_WORKERS = env_int("LEADPOST_WORKERS", 0)  # 0: one per core
# Threads per worker running the app. SQLite takes one writer at a time, so more threads there
# only queue for it (measured in bench/README.md); PostgreSQL overlaps their commits.
LEADPOST_THREADS = env_int(
    "LEADPOST_THREADS", 1 if DATABASES["default"]["ENGINE"].endswith("sqlite") else 4, minimum=1
)
LEADPOST_BODY_TIMEOUT = env_int("LEADPOST_BODY_TIMEOUT", 120, minimum=1)
LEADPOST_BODY_MEMORY_MB = env_int("LEADPOST_BODY_MEMORY_MB", 512, minimum=1)

# Attachment downloads (SPEC §8): bounded in size, time and tries.
LEADPOST_FETCH_MAX_BYTES = env_int("LEADPOST_FETCH_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
LEADPOST_FETCH_TIMEOUT = env_int("LEADPOST_FETCH_TIMEOUT", 60, minimum=1)
LEADPOST_FETCH_MAX_TRIES = env_int("LEADPOST_FETCH_MAX_TRIES", 5, minimum=1)
LEADPOST_FETCH_BACKOFF_SECONDS = env_int("LEADPOST_FETCH_BACKOFF_SECONDS", 30, minimum=0)
# Only for tests and development, which serve files from 127.0.0.1: refused anywhere else (below).
LEADPOST_FETCH_ALLOW_LOOPBACK = env_bool("LEADPOST_FETCH_ALLOW_LOOPBACK", False)
# A download is presumed dead (its worker killed) once its lease runs out; longer than any
# download may take, so a slow one is not started twice.
LEADPOST_ATTACHMENT_LEASE_SECONDS = env_int(
    "LEADPOST_ATTACHMENT_LEASE_SECONDS", 2 * LEADPOST_FETCH_TIMEOUT + 30, minimum=1
)
LEADPOST_SWEEP_INTERVAL = env_int("LEADPOST_SWEEP_INTERVAL", 30, minimum=1)
LEADPOST_SWEEP_GRACE_SECONDS = env_int("LEADPOST_SWEEP_GRACE_SECONDS", 300, minimum=1)

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# E-mail to agents (Sales Workflows). Development prints messages to the console.
_EMAIL_BACKEND = (
    env_str("LEADPOST_EMAIL_BACKEND")
    or f"django.core.mail.backends.{'console' if DEV else 'smtp'}.EmailBackend"
)
MAILERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": (
            {
                "host": env_str("LEADPOST_EMAIL_HOST", "localhost"),
                "port": env_int("LEADPOST_EMAIL_PORT", 587),
                "username": env_str("LEADPOST_EMAIL_USER", "") or "",
                "password": env_str("LEADPOST_EMAIL_PASSWORD", "") or "",
                "use_tls": env_bool("LEADPOST_EMAIL_USE_TLS", True),
                "timeout": 30,
            }
            if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("LEADPOST_EMAIL_FROM", "leadpost@localhost")
# A failed e-mail to an agent is tried again after 1, 2, 4, ... times this, this many times.
LEADPOST_NOTIFY_MAX_TRIES = env_int("LEADPOST_NOTIFY_MAX_TRIES", 5, minimum=1)
LEADPOST_NOTIFY_BACKOFF_SECONDS = env_int("LEADPOST_NOTIFY_BACKOFF_SECONDS", 60, minimum=0)

# Webhooks (SPEC §12): 10 s per attempt; a failed one is tried again after 1, 2, 4, ... times the
# back-off (at most the maximum between two tries) until the retry window has passed; a webhook
# whose every delivery failed for the pause window is paused and its account's admins e-mailed.
LEADPOST_WEBHOOK_TIMEOUT = env_int("LEADPOST_WEBHOOK_TIMEOUT", 10, minimum=1)
LEADPOST_WEBHOOK_BACKOFF_SECONDS = env_int("LEADPOST_WEBHOOK_BACKOFF_SECONDS", 30, minimum=1)
LEADPOST_WEBHOOK_BACKOFF_MAX_SECONDS = env_int(
    "LEADPOST_WEBHOOK_BACKOFF_MAX_SECONDS", 3600, minimum=1
)
LEADPOST_WEBHOOK_RETRY_HOURS = env_int("LEADPOST_WEBHOOK_RETRY_HOURS", 24, minimum=24)
LEADPOST_WEBHOOK_PAUSE_HOURS = env_int("LEADPOST_WEBHOOK_PAUSE_HOURS", 24, minimum=1)
# A delivery's attempt is presumed dead (its worker killed) once its lease runs out: by default
# longer than any attempt may take (connect, send, read, each bounded by the timeout), so a slow
# one is not sent twice. Never shorter than one timeout.
LEADPOST_WEBHOOK_LEASE_SECONDS = env_int(
    "LEADPOST_WEBHOOK_LEASE_SECONDS",
    2 * LEADPOST_WEBHOOK_TIMEOUT + 30,
    minimum=LEADPOST_WEBHOOK_TIMEOUT + 1,
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = Path(env_str("LEADPOST_FILES_DIR", str(DATA_DIR / "files")) or "files").resolve()
MEDIA_URL = "/files/"  # never served directly: files go out through views that check access


def _file_storage() -> dict[str, Any]:
    """Attachments: a local folder by default, S3-compatible storage when a bucket is named."""
    bucket = env_str("LEADPOST_S3_BUCKET")
    if not bucket:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(MEDIA_ROOT)},
        }
    return {
        "BACKEND": "storages.backends.s3.S3Storage",  # pip install 'leadpost[s3]'
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env_str("LEADPOST_S3_ENDPOINT_URL"),
            "region_name": env_str("LEADPOST_S3_REGION"),
            "access_key": env_str("LEADPOST_S3_ACCESS_KEY_ID"),
            "secret_key": env_str("LEADPOST_S3_SECRET_ACCESS_KEY"),
            "location": env_str("LEADPOST_S3_PREFIX", "") or "",
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }


STORAGES = {
    "default": _file_storage(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (development, tests) WhiteNoise finds files in the apps directly.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it

SESSION_COOKIE_SECURE = env_bool("LEADPOST_SECURE_COOKIES", not DEV)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Prometheus metrics (leadpost/lib/metrics.py), served by `leadpost serve`'s master process on an
# address of their own, never the one vendors post to; off when unset.
LEADPOST_METRICS_BIND = env_str("LEADPOST_METRICS_BIND", "") or ""

# Logging to stderr. Every handler carries the redacting filter (no URL token beyond 6 characters,
# no SSN: SPEC §9), whoever logs; client mistakes reported by django.security are one warning line.
# `json`: one JSON object per line (leadpost/lib/jsonlog.py), with the request's post id.
LEADPOST_LOG_FORMAT = env_choice("LEADPOST_LOG_FORMAT", "plain", jsonlog.FORMATS)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "leadpost.lib.logredact.RedactingFilter"},
        "quiet_security": {"()": "leadpost.lib.logredact.QuietSecurityFilter"},
    },
    "formatters": {LEADPOST_LOG_FORMAT: jsonlog.log_formatter(LEADPOST_LOG_FORMAT)},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": LEADPOST_LOG_FORMAT,
            "filters": ["quiet_security", "redact"],
        }
    },
    "root": {"handlers": ["stderr"], "level": env_str("LEADPOST_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers for these would bypass the filter; they go to the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        # httpx logs every URL it fetches, query string included: vendors' signed attachment URLs
        # carry secrets there.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Switches that weaken a protection exist for development and tests only (settings_test.py sets
# LEADPOST_TESTING). Anywhere else they refuse to start, rather than run unsafe without a word.
LEADPOST_TESTING = env_bool("LEADPOST_TESTING", False)
# Where TrustedForm certificates are claimed (SPEC §14): TrustedForm itself. Tests point it at a
# server on 127.0.0.1; anywhere else another address would receive the agencies' API keys.
LEADPOST_TRUSTEDFORM_BASE = env_str("LEADPOST_TRUSTEDFORM_BASE") or "https://cert.trustedform.com/"
if (
    LEADPOST_TRUSTEDFORM_BASE != "https://cert.trustedform.com/"
    and not DEV
    and not LEADPOST_TESTING
):
    raise ImproperlyConfigured(
        "LEADPOST_TRUSTEDFORM_BASE sends TrustedForm API keys to another address than TrustedForm; "
        "it is only accepted with LEADPOST_DEV=1 (development) or in the test suite."
    )
if LEADPOST_FETCH_ALLOW_LOOPBACK and not DEV and not LEADPOST_TESTING:
    raise ImproperlyConfigured(
        "LEADPOST_FETCH_ALLOW_LOOPBACK=1 lets vendors' attachment URLs reach this machine's own "
        "ports; it is only accepted with LEADPOST_DEV=1 (development) or in the test suite."
    )
