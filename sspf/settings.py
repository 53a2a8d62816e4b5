"""Settings, read from the environment.

Without any environment the project runs as the embedded default: SQLite and the
Celery broker in ``var/``, development keys created once in ``var/dev-keys.json``.
``SSPF_ENV=production`` turns DEBUG off and refuses to start, with one line naming
what is missing, unless every secret and key is set in the environment. A value that
cannot be used stops the process the same way (``Configuration error: …``), never
with a traceback, and the line never repeats a secret.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from sspf.keys import KeyConfigError, decode_key, development_keys, parse_key_ring

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SSPF_VAR_DIR", BASE_DIR / "var"))
SQLITE_PATH = VAR_DIR / "sspf.sqlite3"  # the database without DATABASE_URL


class _ConfigurationError(SystemExit):
    """One line on stderr and exit status 1, instead of a traceback."""

    def __init__(self, message: str):
        super().__init__(f"Configuration error: {message}")


SSPF_ENV = os.environ.get("SSPF_ENV", "").strip().lower() or "development"
if SSPF_ENV not in ("development", "production"):
    # A typo must not quietly run a production host as development (DEBUG on,
    # generated keys).
    raise _ConfigurationError("SSPF_ENV must be 'development' or 'production' (or unset)")
PRODUCTION = SSPF_ENV == "production"
if not PRODUCTION:
    # The embedded default keeps its database, broker, keys and beat schedule here.
    VAR_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION_REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SSPF_FIELD_KEYS",
    "SSPF_INDEX_KEY",
    "SSPF_AUDIT_KEY",
    "SSPF_AUDIT_SIGNING_KEY",
    "SSPF_AUDIT_CHECKPOINT_DIR",
)
_DEVELOPMENT_SECRETS = (
    "DJANGO_SECRET_KEY", "SSPF_FIELD_KEYS", "SSPF_INDEX_KEY", "SSPF_AUDIT_KEY",
    "SSPF_AUDIT_SIGNING_KEY",
)


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _whole_number(name: str, default: int, *, low: int, high: int | None = None) -> int:
    text = _env(name)
    try:
        value = int(text) if text else default
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        span = f"{low}–{high}" if high is not None else f"{low} or more"
        raise _ConfigurationError(f"{name} must be a whole number, {span}")
    return value


if PRODUCTION:
    _missing = [name for name in PRODUCTION_REQUIRED if not _env(name)]
    if _missing:
        raise _ConfigurationError(
            "SSPF_ENV=production needs these environment variables: " + ", ".join(_missing)
        )
    _secrets = {name: _env(name) for name in PRODUCTION_REQUIRED}
else:
    _secrets = {name: _env(name) for name in PRODUCTION_REQUIRED}
    if not all(_secrets[n] for n in _DEVELOPMENT_SECRETS):
        try:
            _dev = development_keys(
                VAR_DIR, database=None if _secrets["DATABASE_URL"] else SQLITE_PATH
            )
        except KeyConfigError as exc:
            raise _ConfigurationError(str(exc)) from None
        _secrets = {name: _secrets[name] or _dev.get(name, "") for name in PRODUCTION_REQUIRED}

try:
    SSPF_FIELD_KEYS = parse_key_ring(_secrets["SSPF_FIELD_KEYS"])
    SSPF_INDEX_KEY = decode_key(_secrets["SSPF_INDEX_KEY"], setting="SSPF_INDEX_KEY")
    SSPF_AUDIT_KEY = decode_key(_secrets["SSPF_AUDIT_KEY"], setting="SSPF_AUDIT_KEY")
    SSPF_AUDIT_SIGNING_KEY = decode_key(
        _secrets["SSPF_AUDIT_SIGNING_KEY"], setting="SSPF_AUDIT_SIGNING_KEY")
    SSPF_AUDIT_VERIFY_KEYS = [
        decode_key(k, setting="SSPF_AUDIT_VERIFY_KEYS")
        for k in _env("SSPF_AUDIT_VERIFY_KEYS").split(",") if k.strip()
    ]
except KeyConfigError as exc:
    raise _ConfigurationError(str(exc)) from None


SECRET_KEY = _secrets["DJANGO_SECRET_KEY"]
DEBUG = not PRODUCTION and _env("DJANGO_DEBUG").lower() not in ("0", "false", "no")
ALLOWED_HOSTS = [h.strip() for h in _secrets["DJANGO_ALLOWED_HOSTS"].split(",") if h.strip()]
if PRODUCTION and not ALLOWED_HOSTS:
    raise _ConfigurationError("DJANGO_ALLOWED_HOSTS names no host")
if not PRODUCTION:
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "guardian",
    "auditlog",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "sspf",
    "audit",
    "cases",
    "consent",
    "lagesbild",
]

MIDDLEWARE = [
    "sspf.middleware.HeaderCleaningMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "sspf.middleware.RequestSizeLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sspf.middleware.SwedishFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sspf.middleware.AuditedLoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sspf.middleware.SessionLifetimeMiddleware",
    "sspf.middleware.SecondFactorRequiredMiddleware",
    "sspf.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.context.ChangeHistoryMiddleware",
    "axes.middleware.AxesMiddleware",
    "sspf.api.JsonErrorsMiddleware",
    "sspf.middleware.ConflictPageMiddleware",
]

ROOT_URLCONF = "sspf.urls"
WSGI_APPLICATION = "sspf.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
if _secrets["DATABASE_URL"]:
    # The message never repeats the URL: it may hold a password.
    try:
        _database = dj_database_url.parse(_secrets["DATABASE_URL"], conn_max_age=60)
    except ValueError:
        _database = {}
    # Only PostgreSQL: the SQLite default needs the options below (audit appends).
    if _database.get("ENGINE") != "django.db.backends.postgresql":
        raise _ConfigurationError(
            "DATABASE_URL must be a PostgreSQL URL: postgres://user:password@host:5432/name"
        )
    DATABASES = {"default": _database}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # Every transaction takes the write lock at once, so audit appends
                # never race between connections.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts, login, sessions ----------------------------------------------------------
AUTH_USER_MODEL = "sspf.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_AGE = 30 * 60  # idle timeout: every request pushes expiry 30 minutes on
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SSPF_SESSION_ABSOLUTE_LIFETIME = timedelta(hours=10)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

OTP_TOTP_ISSUER = "SSPF samverkan"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a TOTP secret or QR code

AXES_FAILURE_LIMIT = 5
AXES_USERNAME_CALLABLE = "sspf.views.lockout_username"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Lockout counts per account, not per address: a municipality's staff share a few NAT
# addresses, and an address lockout would shut a whole office out. django-axes has one
# AXES_FAILURE_LIMIT for every lockout parameter, so a second, higher limit per address
# is not possible there; adding "ip_address" would lock an office out after five typos.
# Hence axes.W006 is silenced. What stands against guessing from one address across many
# accounts: the TOTP second factor (a guessed password alone opens nothing, and
# django-otp throttles wrong codes), every failure in the audit log with its address,
# and per-address rate limiting of POST /login/ at the reverse proxy, which the README
# makes a deployment requirement.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Client address: from the configured proxy header only, else the socket peer.
SSPF_CLIENT_IP_HEADER = _env("SSPF_CLIENT_IP_HEADER")
if SSPF_CLIENT_IP_HEADER:
    AXES_IPWARE_META_PRECEDENCE_ORDER = [SSPF_CLIENT_IP_HEADER]
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# --- Security headers ---------------------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Language and time --------------------------------------------------------------------
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Svenska")), ("en", _("Engelska"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

# Largest request body; an entry's 20,000 characters fit many times over.
SSPF_MAX_REQUEST_BYTES = 512 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = SSPF_MAX_REQUEST_BYTES
# Signed consent forms: 10 MB and the multipart envelope.
SSPF_UPLOAD_MAX_BYTES = 10 * 1024 * 1024 + 64 * 1024
SSPF_LARGE_REQUEST_PATHS = [(r"^/samtycken/\d+/blankett/$", SSPF_UPLOAD_MAX_BYTES)]
# Uploads stay in memory: a plaintext copy of a signed form never touches the disk. The
# size limit above bounds the memory used.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = SSPF_UPLOAD_MAX_BYTES

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Field encryption (see sspf/crypto.py) ---------------------------------------------
# SSPF_FIELD_KEYS and SSPF_INDEX_KEY are parsed above.

# --- Celery ---------------------------------------------------------------------------------
# How often the chain heads are signed into a checkpoint (audit/checkpoints.py).
SSPF_AUDIT_CHECKPOINT_MINUTES = _whole_number(
    "SSPF_AUDIT_CHECKPOINT_MINUTES", 60, low=1, high=24 * 60)
CELERY_BROKER_URL = (
    _secrets["CELERY_BROKER_URL"] or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
# Beat keeps its schedule state next to the other files of this installation.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "verify-audit-chains-nightly": {
        "task": "audit.verify_chains",
        "schedule": crontab(hour=2, minute=30),
    },
    "consent-reminders-daily": {
        "task": "consent.remind_expiring",
        "schedule": crontab(hour=6, minute=15),
    },
    "audit-checkpoint": {
        "task": "audit.write_checkpoint",
        "schedule": timedelta(minutes=SSPF_AUDIT_CHECKPOINT_MINUTES),
    },
    "follow-up-reminders-daily": {
        "task": "cases.remind_due",
        "schedule": crontab(hour=6, minute=30),
    },
    "gallring-daily": {
        "task": "cases.gallra",
        "schedule": crontab(hour=3, minute=15),
    },
    "refused-requests-every-minute": {
        "task": "sspf.record_refusals",
        "schedule": crontab(),
    },
}

# --- Audit ----------------------------------------------------------------------------------
# Independent hash chains; more chains let more transactions append at once (audit/chain.py).
SSPF_AUDIT_CHAINS = _whole_number("SSPF_AUDIT_CHAINS", 1, low=1)
# Link hashes are keyed with SSPF_AUDIT_KEY (parsed above). Signed checkpoints of the
# chain heads go to an append-only file in this folder, which should be shipped off the
# database host; SSPF_AUDIT_VERIFY_KEYS adds public keys of earlier signing keys
# (audit/checkpoints.py).
SSPF_AUDIT_CHECKPOINT_DIR = Path(
    _secrets["SSPF_AUDIT_CHECKPOINT_DIR"] or VAR_DIR / "audit-checkpoints")
# On PostgreSQL: the role the application connects as. Migrations, run as the tables'
# owner, grant it what it needs, and only INSERT and SELECT on the audit tables
# (audit/database.py); manage.py check warns when the connecting role can do more there.
SSPF_DATABASE_APP_ROLE = _env("SSPF_DATABASE_APP_ROLE")

# Refused anonymous requests recorded one by one per address and minute before they are
# only counted, and API requests answered 429 past it (sspf/refusals.py).
SSPF_REFUSALS_PER_MINUTE = _whole_number("SSPF_REFUSALS_PER_MINUTE", 30, low=1)

# --- E-mail (notifications only; they never carry personal data) ---------------------
SSPF_NOTIFY_BY_EMAIL = _env("SSPF_NOTIFY_BY_EMAIL").lower() in ("1", "true", "yes")
# The address staff open the system at, for the link in those e-mails.
SSPF_SITE_URL = _env("SSPF_SITE_URL").rstrip("/")
EMAIL_HOST = _env("EMAIL_HOST") or "localhost"
EMAIL_PORT = _whole_number("EMAIL_PORT", 25, low=1, high=65535)
EMAIL_HOST_USER = _env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = _env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = _env("EMAIL_USE_TLS").lower() in ("1", "true", "yes")
DEFAULT_FROM_EMAIL = _env("DEFAULT_FROM_EMAIL") or "sspf-samverkan@localhost"

# --- Django REST framework ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["sspf.tokens.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: the browsable API would render case data into HTML pages of its own,
    # and OPTIONS would describe an object's endpoint without asking the policy.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_METADATA_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SSPF samverkan API",
    "VERSION": "1",
    "DESCRIPTION": "Personal access tokens: Authorization: Token <key>.",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"InformationCategory": "consent.rules.CATEGORIES",
                            "CaseStatus": "cases.models.Case.Status",
                            "SignalStatus": "cases.models.Signal.Status",
                            "FactorLevel": "cases.models.Level",
                            "FactorKind": "cases.models.FactorKind"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sspf.api.add_error_responses",
    ],
    # A PATCH here carries the case's version and its fields: not a partial update.
    "COMPONENT_SPLIT_PATCH": False,
    # The schema and docs are pages for logged-in staff (password and TOTP).
    "SERVE_AUTHENTICATION": ["rest_framework.authentication.SessionAuthentication"],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# --- django-auditlog ----------------------------------------------------------------------
AUDITLOG_DISABLE_REMOTE_ADDR = False
AUDITLOG_CID_GETTER = "audit.context.current_request_id"
AUDITLOG_MASK_CALLABLE = "sspf.crypto.mask_for_change_history"

# --- django-guardian -------------------------------------------------------------------
ANONYMOUS_USER_NAME = None  # no anonymous user object: nobody without an account sees anything

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO" if PRODUCTION else "WARNING"},
}
