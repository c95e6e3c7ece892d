"""Keel settings: everything that differs between machines comes from the environment.

See `.env.example` for every variable. Defaults make `make run` work on a fresh
clone (the local PostgreSQL server, DEBUG on, console email); production sets DEBUG=False and
SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS explicitly.
"""

import datetime as dt
from pathlib import Path

import environ
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

from config import localdb
from core import logs

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Production: DJANGO_ENV (docs/deploy.md, "Security settings") -------------------------
# `production` makes the secure defaults the defaults (HTTPS redirect, HSTS, JSON logs) and
# refuses to start without the secrets and names a server needs; anything else (the default,
# `development`) is what `make run` and `make test` need.
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be `development` or `production`, not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"
DEV_SECRET_KEY = "django-insecure-keel-local-development-only"


def _required_in_production(name: str, why: str) -> None:
    if PRODUCTION and not env.str(name, default="").strip():
        raise ImproperlyConfigured(f"DJANGO_ENV=production needs {name}: {why} (docs/deploy.md).")


_required_in_production("SECRET_KEY", "a long random string that signs sessions, tokens and links")
_required_in_production("ALLOWED_HOSTS", "the host names the site answers to, comma-separated")
_required_in_production("DATABASE_URL", "postgres://USER:PASSWORD@HOST:5432/NAME")
_required_in_production("SITE_URL", "the https address of the site, used in emails and Stripe's return URLs")
# --- end of production checks --------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_ENV=production refuses DEBUG=True: it shows tracebacks and settings to anyone.")
# The fallback key is for local use only: production refuses it (above and below), and
# `manage.py check --deploy` flags it (security.W009).
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs a SECRET_KEY of its own, not the development one: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' (docs/deploy.md)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # First, so that its `createsuperuser` (which records an email) wins.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Widget templates for FORM_RENDERER, which reads templates from TEMPLATES.
    "django.forms",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, no CDN
    "djstripe",
    "axes",
    "csp",  # the Content Security Policy (CONTENT_SECURITY_POLICY below)
    # Staff impersonation for support: its views only (accounts/views/impersonation.py); Keel
    # renders its own banner, so neither its middleware nor its notification template is used.
    "hijack",
    # Two-factor sign-in: TOTP devices (authenticator apps) and recovery codes (docs/accounts.md).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "organizations",
    "credits",
    "billing",
    # Below every app that writes audit rows, but only by string references (docs/audit.md).
    "audit",
]

MIDDLEWARE = [
    # --- Operations (docs/deploy.md, "Health and logs") ---
    # First: the request's id and client address, for every log line and the X-Request-ID header.
    "core.middleware.RequestIdMiddleware",
    # /healthz and /readyz answered here, before sessions, CSRF, axes and the HTTPS redirect.
    "core.health.HealthCheckMiddleware",
    # --- end of operations ---
    # An HTML error page Django rendered for an /api/ path (DEBUG's technical 404 and
    # 500) becomes the API's error shape, as in production.
    "core.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content Security Policy header on every response (CONTENT_SECURITY_POLICY below):
    # django-csp's middleware, with Stripe's hosted pages added to form-action.
    "core.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # core.middleware.*: Django's own, passed by for requests made with an API key, which need
    # no session, CSRF, session user or messages (core/middleware.py).
    "core.middleware.SessionMiddleware",
    # Django's, but no slash appended to API paths (core/middleware.py).
    "core.middleware.CommonMiddleware",
    "core.middleware.CsrfViewMiddleware",
    "core.middleware.AuthenticationMiddleware",
    # The request being served is the audit log's actor (docs/audit.md).
    "audit.middleware.AuditContextMiddleware",
    "core.middleware.MessageMiddleware",
    # Staff reach the admin only with two-factor on and verified in this session (docs/accounts.md).
    "accounts.middleware.AdminTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A page asked for by an organization's former slug redirects to the current one.
    "organizations.middleware.TenantSlugRedirectMiddleware",
    # Last: turns an axes lockout (set during authenticate) into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

FORM_RENDERER = "core.forms.FormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["core.templatetags.keel"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.current_tenant",
                "accounts.context_processors.impersonation",
            ],
        },
    },
]

# PostgreSQL only (docs/deploy.md). Unset, DATABASE_URL means the local server that
# `make run` and `make test` start (config/localdb.py); any other server through
# DATABASE_URL=postgres://... (CI, production).
DATABASES = {"default": env.db("DATABASE_URL", default=localdb.url())}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"Keel runs on PostgreSQL only, and DATABASE_URL names {DATABASES['default']['ENGINE']}. "
        "Unset DATABASE_URL to use the local server of `make run` and `make test`, "
        "or point it at a PostgreSQL server: postgres://USER:PASSWORD@HOST:5432/NAME."
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

# What stands between Keel and PostgreSQL (docs/deploy.md, "PgBouncer"): empty for a direct
# connection (or a session pooler), `pgbouncer-transaction` for PgBouncer in transaction
# pooling mode, where a connection's server changes between transactions. Then nothing may
# outlive a transaction on the server: no server-side cursors (Django's docs prescribe
# DISABLE_SERVER_SIDE_CURSORS: `.iterator()` would DECLARE a cursor the next transaction
# cannot find) and no prepared statements (PgBouncer keeps none before 1.21).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", localdb.POOLER):
    raise ImproperlyConfigured(
        f"DATABASE_POOLER={DATABASE_POOLER!r}: leave it empty (a direct connection or a session pooler) "
        f"or set {localdb.POOLER!r} (PgBouncer in transaction pooling mode)."
    )
TRANSACTION_POOLER = DATABASE_POOLER == localdb.POOLER
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = TRANSACTION_POOLER

# The credits hot paths prepare their statements (core/db.py,
# `hot_cursor`). Off behind a pooler that cannot keep prepared statements
# (DATABASE_POOLER=pgbouncer-transaction: PgBouncer in transaction mode before 1.21).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=not TRANSACTION_POOLER)
if DB_PREPARED_STATEMENTS and TRANSACTION_POOLER:
    raise ImproperlyConfigured(
        "DB_PREPARED_STATEMENTS=True behind DATABASE_POOLER=pgbouncer-transaction: PgBouncer before 1.21 "
        "sends each transaction to any server connection, where the statement was never prepared. "
        "Leave DB_PREPARED_STATEMENTS unset."
    )
if DB_PREPARED_STATEMENTS:
    # Django turns psycopg's statement preparation off unless this is set: a statement is
    # prepared once a connection has run it this many times. Django's own (client-side
    # binding) cursors never prepare, so only `hot_cursor` statements are.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# The lockout check runs first and refuses a locked-out (username, IP) pair
# before any password is checked (docs/accounts.md, "Brute force").
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutBackend", "accounts.backends.EmailOrUsernameBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app folders until `collectstatic` has run (make run).
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names need `collectstatic` first: production turns it on.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=False)
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# Email: console in development, SMTP (or anything django-environ's EMAIL_URL
# understands) in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Keel <no-reply@keel.localhost>")

# Sessions and cookies
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# --- HTTPS and proxies (docs/deploy.md, "Security settings"); production defaults are the secure ones.
# TRUSTED_PROXIES: how many reverse proxies stand in front of the app, each appending the address
# it saw to X-Forwarded-For. 0: the client is REMOTE_ADDR and X-Forwarded-For is ignored
# (core/context.py, `client_ip`). BEHIND_PROXY (trust X-Forwarded-Proto) follows it by default.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("TRUSTED_PROXIES is a number of proxies: 0 or more.")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=TRUSTED_PROXIES > 0) else None
)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# --- end of HTTPS and proxies ------------------------------------------------------------------

# API
REST_FRAMEWORK = {
    # Organization API keys (`Authorization: Bearer ...`) first: DRF takes the first class's
    # challenge, so no credentials is 401 with `WWW-Authenticate: Bearer realm="api"` on
    # every route (with the session first it was a 403, without a challenge).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "credits.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # A JSON API: JSON bodies only (anything else is 415 `unsupported_media_type`; form parsing
    # would let a missing field read as False) and JSON answers only (no browsable API).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # drf-spectacular's, declaring the errors the plumbing adds to every operation (401, 404, 415, ...).
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Keel API",
    "DESCRIPTION": "Accounts, organizations, credits and billing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get components of their own (`OrganizationInputRequest`, ...), so that what a
    # request must satisfy (a non-blank string is `minLength: 1`) does not bind what answers carry.
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names ("role", "status") recur across apps.
    "ENUM_NAME_OVERRIDES": {
        "MemberRoleEnum": "organizations.models.MemberRole",
        "InvitationStatusEnum": "organizations.models.InvitationStatus",
        "MemberPermissionEnum": "organizations.models.Permission",
        "PlanKindEnum": "billing.plans.PlanKind",
        "TenantPlanKindEnum": "billing.selectors.TenantPlanKind",
        "CheckoutKindEnum": "billing.serializers.CHECKOUT_RESULT_KINDS",
        "SubscriptionStatusEnum": "billing.models.SubscriptionStatus",
    },
}

# Sign-up calls these, in order, inside the sign-up transaction, each as
# `hook(user=user)`. They live in apps above `accounts` (which cannot import
# them), so they are named here rather than imported.
KEEL_SIGNUP_HOOKS = [
    "organizations.services.tenant_create_default",
    "credits.services.credits_grant_free",
]
# Sign-up and sign-in from an invitation link (`?invitation=<token>`, docs/accounts.md), named
# for the same reason; each a single dotted path (empty turns it off). LOOKUP:
# `hook(token=token) -> accounts.selectors.SignupInvitation | None`, the pending invitation the
# token names (its address pre-fills the form). ACCEPT: `hook(token=token, user=user) ->
# accounts.services.InvitationJoined`, run right after a sign-up with the invited address (the
# token proved it, so it is verified); it applies the invitation's own rules and raises an
# ApplicationError when they refuse.
KEEL_INVITATION_LOOKUP_HOOK = "organizations.selectors.invitation_for_signup"
KEEL_INVITATION_ACCEPT_HOOK = "organizations.services.invitation_accept_after_signup"
# Account deletion, named for the same reason. NOTICES: each `hook(user=user)
# -> list[str]`, sentences the delete-account page shows before confirming.
# HOOKS: each `hook(user=user)`, run inside the deletion transaction before
# the account is anonymised (e.g. delete or hand over sole-owned organizations).
KEEL_ACCOUNT_DELETE_NOTICES: list[str] = [
    "organizations.services.tenants_account_delete_notices",
]
KEEL_ACCOUNT_DELETE_HOOKS: list[str] = [
    "billing.services.departures.account_subscriptions_cancel",
    "organizations.services.tenants_account_delete",
]
# The data export (docs/accounts.md, "Your data"): after the account's own sections, each
# `section(user=user) -> (name, data)`, data JSON or an iterator of JSON items (streamed).
KEEL_ACCOUNT_EXPORT_SECTIONS: list[str] = [
    "organizations.selectors.user_export_memberships",
    "credits.selectors.user_export_credit_transactions",
    "credits.selectors.user_export_api_keys",
    "billing.selectors.user_export_invoices",
]
# Organization deletion runs these on commit, each as `hook(tenant=tenant)`.
KEEL_TENANT_DELETE_HOOKS: list[str] = [
    "billing.services.departures.tenant_subscriptions_cancel",
]
# A membership ending (removed or left) runs these inside its transaction, each
# as `hook(tenant_id=..., user_id=...)`.
KEEL_MEMBERSHIP_END_HOOKS: list[str] = [
    "credits.services.api_keys_revoke_for_member",
]

# The organization dashboard (/o/<slug>/, in credits) shows these panels after its own, each
# `panel(*, member) -> {"template": ..., "context": {...}} | None`: what apps above credits
# (billing's plan and renewal) add to it without credits importing them.
KEEL_DASHBOARD_PANELS: list[str] = [
    "billing.dashboard.plan_panel",
]

# Background work (docs/deploy.md, "Queue (Celery)"): with a broker, core.tasks.enqueue puts
# tasks (emails) on the queue for `celery -A config worker` after the transaction commits;
# unset, they run inline after commit. Redis, e.g. redis://127.0.0.1:6379/0.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# No result backend: nothing waits for a task's result.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it has run, not when a worker took it: a worker lost mid-task
# leaves it to another (every task is safe to run twice, core/tasks.py), one at a time each.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a task no worker acknowledged within this many seconds (Celery's default).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TIMEZONE = "UTC"

# Credits
FREE_PLAN_CREDITS = env.int("FREE_PLAN_CREDITS", default=100)
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)

# Stripe / dj-stripe. Secrets only from the environment. STRIPE_API_BASE points
# the stripe library at the local sandbox (stripe_sandbox/); leave it empty for
# real Stripe.
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_LIVE_SECRET_KEY = STRIPE_TEST_SECRET_KEY if STRIPE_LIVE_MODE else ""
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# The one Stripe API version Keel speaks (docs/billing.md): the version dj-stripe 2.11 is
# built for (its default), sent by Keel's client and by dj-stripe, and set on the webhook
# endpoint, which Stripe cannot change later. Events of another version are recorded and
# refused. It is the one version the sandbox serves (docs/stripe-sandbox.md).
STRIPE_API_VERSION = "2026-05-27.dahlia"
# The installed `stripe` library pins a newer version; Keel keeps STRIPE_API_VERSION until
# dj-stripe reads that version's shapes. Change both together, deliberately: a test fails
# when the library's pin is neither STRIPE_API_VERSION nor this reviewed one.
STRIPE_LIBRARY_API_VERSION_REVIEWED = "2026-08-26.dahlia"
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# Google sign-in (OpenID Connect): both set turns it on.
GOOGLE_CLIENT_ID = env("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env("GOOGLE_CLIENT_SECRET", default="")
GOOGLE_OIDC_METADATA_URL = env(
    "GOOGLE_OIDC_METADATA_URL", default="https://accounts.google.com/.well-known/openid-configuration"
)

# Accounts: links in emails, brute-force protection (docs/accounts.md).
# The database cache is shared by every worker process without Redis; its
# table is created by migrations (accounts 0002) and by the test runner.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://keel_cache")}
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Password-reset requests per hour: per client IP and per account (or address).
PASSWORD_RESET_LIMIT_PER_IP = env.int("PASSWORD_RESET_LIMIT_PER_IP", default=10)
PASSWORD_RESET_LIMIT_PER_ACCOUNT = env.int("PASSWORD_RESET_LIMIT_PER_ACCOUNT", default=3)
# Data exports per hour per account (each reads the whole ledger of the user).
ACCOUNT_EXPORT_LIMIT_PER_HOUR = env.int("ACCOUNT_EXPORT_LIMIT_PER_HOUR", default=5)
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=1024 * 1024)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Lock the (account, client IP) pair: a stranger cannot lock a user out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.ratelimit.axes_username"
AXES_CLIENT_IP_CALLABLE = "core.context.client_ip"
AXES_CLIENT_STR_CALLABLE = "accounts.ratelimit.axes_client_str"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Keel registers AccessAttempt's admin itself (accounts/admin.py: read-only, delete to unlock);
# axes' AccessLog and AccessFailureLog stay empty here (no access log, no failure log).
AXES_ENABLE_ADMIN = False
# Axes' database handler, except that staff impersonating a user is not that user's sign-in.
AXES_HANDLER = "accounts.backends.AxesHandler"

# Staff impersonation (django-hijack, docs/accounts.md): who may sign in as whom (never towards
# staff, disabled or deleted accounts), and no notification injected by hijack itself (Keel's
# banner is templates/accounts/_impersonation_banner.html).
HIJACK_PERMISSION_CHECK = "accounts.selectors.impersonation_allowed"
HIJACK_INSERT_BEFORE = None

# Two-factor sign-in and re-authentication (docs/accounts.md, "Two-factor sign-in").
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env("TWO_FACTOR_ISSUER", default="Keel")
# One throttle for wrong codes, Keel's (accounts.ratelimit, per account): django-otp's own
# per-device back-off is off, so that a right code is never refused for a wrong one before it.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# Wrong codes (and wrong passwords when re-authenticating) per account per 15 minutes.
TWO_FACTOR_FAILURE_LIMIT = env.int("TWO_FACTOR_FAILURE_LIMIT", default=5)
# Changing the password or the primary email, deleting the account or an organization, creating
# API keys and changing billing ask to re-authenticate when the last one is older than this.
REAUTH_MAX_AGE_SECONDS = env.int("REAUTH_MAX_AGE_SECONDS", default=15 * 60)

# --- Logs, Sentry, Redis (docs/deploy.md, "Health and logs") ---------------------------------
# One line per record on stderr, each with the request's id (core/logs.py); `json` (production's
# default) for a log collector, `plain` for people. Never secrets or personal data.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
LOGGING = logs.logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", default="INFO"))

# Errors to Sentry when SENTRY_DSN is set (sentry_sdk is not even imported otherwise): no
# personal data (send_default_pii=False), SENTRY_TRACES_SAMPLE_RATE of requests traced.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        environment=env.str("SENTRY_ENVIRONMENT", default=DJANGO_ENV),
    )

# REDIS_URL: the cache (rate limits, /readyz) on Django's own Redis backend, and sessions in that
# cache backed by the database (`cached_db`), so a throttle and a sign-in hold across servers.
# Unset: the database cache above and database sessions (one machine, or many sharing PostgreSQL).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="keel"),
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# --- end of logs, Sentry, Redis ------------------------------------------------------------------

# --- Content Security Policy (django-csp; docs/deploy.md, "Security settings") -----------------
# Everything from Keel's own origin; no inline script (an inline one would carry the request's
# nonce) and no inline style. Forms post to Keel, and the checkout and billing-portal ones are
# redirected to Stripe's hosted pages (Chromium applies form-action to a POST's redirect): the
# hooks below add those origins to form-action on each response (core.csp.CSPMiddleware), each
# `hook() -> list[str]`; billing's names the sandbox's origin when Keel's Stripe client points at
# it (STRIPE_API_BASE), else checkout.stripe.com and billing.stripe.com. Violations are reported
# to /csp-report/ (core/csp.py), which logs them.
KEEL_CSP_FORM_ACTION_HOOKS: list[str] = [
    "billing.stripe_api.hosted_page_origins",
]
CSP_FORM_ACTION_EXTRA = env.list("CSP_FORM_ACTION_EXTRA", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "base-uri": [csp.SELF],
        "object-src": [csp.NONE],
        "form-action": [csp.SELF, *CSP_FORM_ACTION_EXTRA],
        "report-uri": "/csp-report/",
    },
}
# --- end of Content Security Policy -------------------------------------------------------------

SILENCED_SYSTEM_CHECKS = [
    # users.username is unique case-insensitively (a Lower() unique
    # constraint), which Django's check does not recognise.
    "auth.W004",
    # Keel's CSRF middleware is a subclass of Django's, which Django's check does not recognise
    # by name; keel.W001/W002 (core/checks.py) check the subclass and the cookie instead.
    "security.W003",
]
