"""Django settings for the hub, read from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# In production a missing secret or host list must stop the process at start-up,
# so these two have defaults only in debug.
if DEBUG:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-do-not-deploy")
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"]
    )
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")


def exact_hosts(hosts: list[str]) -> list[str]:
    """ALLOWED_HOSTS without wildcards: they are also the hosts whose pages may
    open sockets with a visitor's cookie (realtime/security.py), and
    ``.example.com`` or ``*`` would let any subdomain's page in."""
    for host in hosts:
        if "*" in host or host.startswith("."):
            raise ImproperlyConfigured(
                f"DJANGO_ALLOWED_HOSTS: {host!r} is a wildcard. List each host the "
                "hub is reached by exactly (hub.example.com,www.hub.example.com)."
            )
    return hosts


ALLOWED_HOSTS = exact_hosts(ALLOWED_HOSTS)

# --- HTTPS ------------------------------------------------------------------------
# The hub behind a TLS-terminating proxy (docs/SECURITY.md): cookies only over
# HTTPS, HSTS, plain HTTP redirected, and the proxy's X-Forwarded-Proto trusted
# (so the proxy must set it, overwriting the client's). On by default in
# production; false only for a hub served over plain HTTP (a private network,
# a test harness). uvicorn itself trusts X-Forwarded-For/-Proto only from the
# addresses in FORWARDED_ALLOW_IPS (default 127.0.0.1): set it to the proxy's.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Probes and scrapers reach a process directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # How long browsers remember to use HTTPS only (one year). Start lower
    # (e.g. 300) when first turning HTTPS on: browsers keep what they saw.
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Only permits submitting the domain to browsers' preload lists; nothing is
    # submitted unless the domain's owner does it.
    SECURE_HSTS_PRELOAD = True

INSTALLED_APPS = [
    # First, so that its createsuperuser (password validators on --noinput too)
    # replaces Django's.
    "hub",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served by the hub, no CDN
    "django_celery_beat",
    "corsheaders",
    # Its abstract key model is the base of subscribers.ApiKey; its own APIKey
    # table stays empty and out of the admin (subscribers/admin.py).
    "rest_framework_api_key",
    # Failed logins counted per account and per address (AUTHENTICATION_BACKENDS).
    "axes",
    "notifications",
    "emails",
    "chat",
    "dashboard",
    "workers",
    "web",
    "subscribers",
    "delivery",
]

MIDDLEWARE = [
    # First, so that preflights and error answers carry CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login refused for lockout (/login/, /admin/login/) into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hub.urls"
ASGI_APPLICATION = "hub.asgi.application"

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

# --- Database -------------------------------------------------------------------
# SQLite in WAL mode (readers never block the one writer) unless DATABASE_URL is set.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'hub.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        # Take the write lock at BEGIN, so concurrent writers queue instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that test servers started as subprocesses share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    # Kept open per thread, as PostgreSQL's are: outside a transaction a WAL
    # reader holds no lock, and each request is spared a connect and its PRAGMAs.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", 60))
elif env.int("DB_POOL_MAX_SIZE", default=0) > 0:
    # A pool per process hands connections back at the end of each request or
    # task. Off by default: HTTP requests run on a fixed set of threads
    # (HTTP_THREADS below, hub/handlers.py), each with a persistent connection,
    # which is as fast; and after a database outage the pool reconnects with
    # exponential backoff (psycopg_pool: 1 s, doubling), so a web process can
    # stay 503 for tens of seconds after PostgreSQL is back, where persistent
    # connections recover on the next request (tests/e2e/faults).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE"),
        # Seconds a request waits for a connection before failing (503). While
        # PostgreSQL is down the pool cannot make one and every request waits
        # this long, /healthz included: keep it short, so an outage shows at once.
        "timeout": env.float("DB_POOL_TIMEOUT_SECS", default=2.0),
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", 60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that skips its SELECT 1 when the
    # connection's socket shows the server has not closed it (hub/db/postgresql).
    DATABASES["default"]["ENGINE"] = "hub.db.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Threads of a web process that run HTTP requests (middleware and views), each
# keeping one persistent database connection: at most this many requests are
# in a view at once per process, and this many connections held for them.
HTTP_THREADS = env.int("HTTP_THREADS", default=8)

# --- Redis: channel layer, cache, broker ----------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Pub/sub names are not scoped by Redis database number, so separate deployments
# (or a test run beside a dev server) sharing one Redis need distinct prefixes.
CHANNEL_LAYER_PREFIX = env("CHANNEL_LAYER_PREFIX", default="hub")


def channel_layer_hosts(
    urls: list[str], sentinels: list[str], master: str
) -> list[str | dict]:
    """The ``hosts`` of the pub/sub channel layer (docs/RELIABILITY.md).

    Several URLs shard channels over several Redis servers by a hash of the
    channel name (every web and worker process must list the same URLs in the
    same order). With Sentinel, one host: the master named ``master``, found
    through the ``host:port`` sentinels, and found again after a failover.
    """
    if sentinels:
        if not master:
            raise ImproperlyConfigured(
                "CHANNEL_LAYER_SENTINELS needs CHANNEL_LAYER_SENTINEL_MASTER"
            )
        pairs = [s.rsplit(":", 1) for s in sentinels]
        return [{"master_name": master, "sentinels": [(h, int(p)) for h, p in pairs]}]
    return urls


CHANNEL_LAYER_HOSTS = channel_layer_hosts(
    env.list("CHANNEL_LAYER_HOSTS", default=[REDIS_URL]),
    env.list("CHANNEL_LAYER_SENTINELS", default=[]),
    env("CHANNEL_LAYER_SENTINEL_MASTER", default=""),
)

CHANNEL_LAYERS = {
    "default": {
        # channels_redis' pub/sub layer: group membership lives in each web process
        # and is re-subscribed when Redis comes back, and nothing is dropped at a
        # capacity. The hub's subclass wakes each consumer once per message.
        "BACKEND": "realtime.layer.HubPubSubChannelLayer",
        "CONFIG": {"hosts": CHANNEL_LAYER_HOSTS, "prefix": CHANNEL_LAYER_PREFIX},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CHANNEL_LAYER_PREFIX,
    }
}

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
# The queue tasks go to and workers read; separate test runs on one Redis use their own.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long an unacknowledged task waits before Redis hands it to another worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# With CELERY_BROKER_URL="sentinel://h1:26379;sentinel://h2:26379", the name of
# the Redis master the sentinels watch (kombu's ``master_name``).
if env("CELERY_BROKER_SENTINEL_MASTER", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = env(
        "CELERY_BROKER_SENTINEL_MASTER"
    )
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Email ----------------------------------------------------------------------
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="hub@localhost")
# Seconds an SMTP connection may block a worker (Django's default is forever).
EMAIL_TIMEOUT = 30
# Where links in emails point (no trailing slash): the hub as users reach it.
HUB_BASE_URL = env("HUB_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# How long a notification stays unread before it is emailed (docs/EMAIL.md).
EMAIL_DELAY_SECS = env.int("EMAIL_DELAY_SECS", default=600)
# Unread notifications older than this are left to digests, never emailed as
# "missed": turning email on does not mail a backlog. Longer than any quiet hours.
EMAIL_MISSED_MAX_AGE_SECS = 2 * 24 * 3600
# Most notifications one email lists; the rest are counted ("and 12 more").
EMAIL_MAX_ITEMS = 50
# Local hour (in each user's timezone) at which daily and weekly digests go out.
EMAIL_DIGEST_HOUR = 8
# A digest period that ended longer ago than this is not sent any more: a worker
# down for days, or a weekly digest switched on mid-week, sends no stale summary.
EMAIL_DIGEST_MAX_LATE_SECS = 24 * 3600
# A failed send is retried by the next sweep after EMAIL_RETRY_SECS, doubling
# each time, and given up after EMAIL_SEND_MAX_ATTEMPTS.
EMAIL_RETRY_SECS = 300
EMAIL_SEND_MAX_ATTEMPTS = 5
# A send claimed this long ago and never finished (worker killed mid-send) is
# claimed again: longer than EMAIL_TIMEOUT, so a live send is never doubled.
EMAIL_SEND_STALE_SECS = 600
# How long the signed preferences link in an email works (unsubscribe links
# never expire, as RFC 8058 expects).
EMAIL_PREFERENCES_LINK_MAX_AGE_SECS = 30 * 24 * 3600

# --- Web Push (delivery/, docs/PUSH.md) -----------------------------------------
# The VAPID key pair (a P-256 private key, PEM; `\n` escapes become newlines) and
# the contact push services may use (mailto: or https:). Unset: push is off, the
# key endpoint answers 404 and nothing is pushed. `manage.py hub_vapid_keys`
# prints a pair; `make run` makes one under var/.
WEBPUSH_VAPID_PRIVATE_KEY = env("WEBPUSH_VAPID_PRIVATE_KEY", default="").replace(
    "\\n", "\n"
)
WEBPUSH_VAPID_SUBJECT = env("WEBPUSH_VAPID_SUBJECT", default="mailto:hub@localhost")
if not WEBPUSH_VAPID_SUBJECT.startswith(("mailto:", "https:")):
    raise ImproperlyConfigured(
        "WEBPUSH_VAPID_SUBJECT must start with mailto: or https: (push services "
        "refuse other contacts), e.g. mailto:ops@example.com."
    )
# Accept push subscriptions whose endpoint is plain http:// (tests, a local push
# service); browsers' push services are all https://.
WEBPUSH_ALLOW_HTTP_ENDPOINTS = env.bool("WEBPUSH_ALLOW_HTTP_ENDPOINTS", default=False)
# A notification no socket reported seen this long after it was created is
# pushed (if the user's preferences allow it); docs/PROTOCOL.md has the timeline.
PUSH_AFTER_SECS = env.int("PUSH_AFTER_SECS", default=10)
# Notifications older than this are never pushed: after an outage, or quiet
# hours, a device is not flooded with stale news (email and the feed cover them).
PUSH_MAX_AGE_SECS = 3600
# Seconds one request to a push service may block a worker.
PUSH_REQUEST_TIMEOUT_SECS = env.int("PUSH_REQUEST_TIMEOUT_SECS", default=10)
# A push claimed, or last making progress, this long ago (worker killed mid-push)
# is claimed again: longer than PUSH_REQUEST_TIMEOUT_SECS, so a live push is never
# doubled. Also how long a queued push may wait before the sweep queues it again.
PUSH_SEND_STALE_SECS = env.int("PUSH_SEND_STALE_SECS", default=30)
if PUSH_SEND_STALE_SECS <= PUSH_REQUEST_TIMEOUT_SECS:
    raise ImproperlyConfigured(
        "PUSH_SEND_STALE_SECS must be longer than PUSH_REQUEST_TIMEOUT_SECS, or a "
        "push still under way could be taken again and sent twice."
    )
# A push the service answered 429 or 5xx is tried again after this, doubling
# each time (or after its Retry-After), and given up after PUSH_SEND_MAX_ATTEMPTS.
PUSH_RETRY_SECS = 5
PUSH_SEND_MAX_ATTEMPTS = 5
# A push held by quiet hours is looked at again this often, until it is too old.
PUSH_HOLD_RECHECK_SECS = 60

# --- Password guessing (django-axes; docs/SECURITY.md, "Logins") -------------------
# Axes' backend goes first: a locked-out account or address is refused before
# ModelBackend looks the user up and computes a password hash.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed password checks, on any login (/api/auth/token/, /login/, /admin/), after
# which an account, and separately an address, is refused for LOGIN_LOCKOUT_SECS.
# One limit for both: an office behind one NAT address shares it.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
# How long a lockout lasts, counted from the last failure before it; failures
# older than this are forgotten. Attempts during a lockout are not counted (and
# do not extend it), so an account locked by someone else frees itself on time.
LOGIN_LOCKOUT_SECS = env.int("LOGIN_LOCKOUT_SECS", default=15 * 60)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The address is the socket's peer as uvicorn reports it, after its proxy-headers
# handling: X-Forwarded-For counts only from FORWARDED_ALLOW_IPS, never as sent.
AXES_CLIENT_IP_CALLABLE = "hub.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "hub.lockout.lockout_page"
# Failures are rows (axes' AccessAttempt, in the admin); successful logins are
# not logged, so token fetches write nothing.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# --- API tokens (Authorization: Token; docs/SECURITY.md, "API tokens") -------------
# A token stops working this long after it was issued (401 "Token expired."):
# a leaked token is useless after a month at most. A client keeps access without
# the password by rotating its token (POST /api/auth/token/rotate/) before then;
# POST /api/auth/token/ gives a new one for the password. 0: tokens never expire
# (as before this setting; an upgrade refuses tokens older than this at once).
API_TOKEN_TTL_SECS = env.int("API_TOKEN_TTL_SECS", default=30 * 24 * 3600)
if API_TOKEN_TTL_SECS < 0:
    raise ImproperlyConfigured(
        "API_TOKEN_TTL_SECS must be 0 (tokens never expire) or a number of seconds."
    )

# --- Auth, i18n, static ---------------------------------------------------------
# Checked wherever a password is set: the admin's user and password forms,
# createsuperuser (--noinput too: hub/management/commands) and changepassword.
# The hub has no other way to set a password (subscribers have none).
_VALIDATION = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATION}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATION}.MinimumLengthValidator"},  # 8 characters
    {"NAME": f"{_VALIDATION}.CommonPasswordValidator"},  # Django's 20,000
    {"NAME": f"{_VALIDATION}.NumericPasswordValidator"},
]
# The browser pages' login (web/); after it, the notification center.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:notifications"
LOGOUT_REDIRECT_URL = "web:login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Debug serves static files straight from the apps; production serves what
# `collectstatic` (the Procfile's release step) gathered into STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- HTTP API -------------------------------------------------------------------
# Largest request body the API reads; larger ones get 413 with a JSON body.
API_MAX_BODY_BYTES = 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Largest request body a web process reads at all (any path: the API, forms,
# the admin); past it the reading stops and the answer is 413, the rest unread.
HTTP_MAX_BODY_BYTES = env.int("HTTP_MAX_BODY_BYTES", default=API_MAX_BODY_BYTES)
# Deepest JSON nesting a request body may have; deeper bodies get 400.
API_MAX_JSON_DEPTH = 32
# POSTs one user may make per write endpoint (notifications, broadcasts, topic
# events), as DRF rates "<n>/<sec|min|hour|day>"; past it 429 with Retry-After.
# Counted in the Django cache (Redis), so every web process shares the count.
API_WRITE_RATE = env("API_WRITE_RATE", default="120/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "hub.authentication.TokenAuthentication",
        # Product back ends: request.user stays anonymous (subscribers.authentication).
        "subscribers.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["hub.api.LimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hub.api.exception_handler",
    # Write endpoints name their own throttle (hub.api.WriteRateThrottle).
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

# Who may read /api/schema/ and /api/docs/: anyone when true; signed-in users
# (session or Token) only when false, the default in production.
API_SCHEMA_PUBLIC = env.bool("API_SCHEMA_PUBLIC", default=DEBUG)

SPECTACULAR_SETTINGS = {
    "TITLE": "The hub",
    "DESCRIPTION": "Event-driven notification hub: notifications, topics, "
    "broadcasts, chat and live dashboards.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["hub.permissions.SchemaIsPublicOrUserIsSignedIn"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the JSON errors it may answer (hub.api).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hub.api.document_error_responses",
    ],
}

# Who may scrape /metrics: anyone when METRICS_PUBLIC is true (default in
# debug); otherwise staff, and a scraper sending "Authorization: Bearer
# <METRICS_TOKEN>" when that is set (Prometheus: authorization.credentials).
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=DEBUG)
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Beside a product: subscribers, API keys, connection tokens (docs/SECURITY.md) ---
# Connection tokens (JWTs a product signs for one subscriber) are verified with
# this shared secret (HS256; at least 32 characters, as RFC 7518 asks of a
# 256-bit HMAC key) and/or this PEM public key (RS256 for RSA, ES256 for P-256;
# "\n" escapes in the variable become newlines). Neither set: no tokens.
HUB_JWT_SECRET = env("HUB_JWT_SECRET", default="")
HUB_JWT_PUBLIC_KEY = env.str("HUB_JWT_PUBLIC_KEY", default="", multiline=True)
# Longest lifetime a connection token may have: a token whose exp is further
# ahead is refused, so a leaked token is useless after this long at most.
HUB_TOKEN_MAX_TTL_SECS = env.int("HUB_TOKEN_MAX_TTL_SECS", default=24 * 3600)
# How long a socket opened without credentials waits for its `auth` frame
# before it is closed with 4401.
WS_AUTH_TIMEOUT_SECS = env.float("WS_AUTH_TIMEOUT_SECS", default=3.0)
HUB_JWT_SECRET_MIN_CHARS = 32
if HUB_JWT_SECRET and len(HUB_JWT_SECRET) < HUB_JWT_SECRET_MIN_CHARS:
    raise ImproperlyConfigured(
        f"HUB_JWT_SECRET must be at least {HUB_JWT_SECRET_MIN_CHARS} characters; "
        "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )


def cors_allowed_origins(origins: list[str]) -> list[str]:
    """The exact origins (``https://app.example.com[:port]``) that may call the
    subscriber endpoints and open sockets from a browser; a wildcard, a path or
    anything but http(s) stops the process with what to fix."""
    checked = []
    for origin in origins:
        scheme, sep, host = origin.partition("://")
        if (
            "*" in origin
            or scheme not in ("http", "https")
            or not sep
            or not host
            or any(c in host for c in "/?#@ ")
        ):
            raise ImproperlyConfigured(
                f"HUB_CORS_ALLOWED_ORIGINS: {origin!r} is not an exact origin. "
                "List each site as scheme://host[:port], e.g. "
                "https://app.example.com, with no path and no wildcard."
            )
        checked.append(origin.lower())
    return checked


HUB_CORS_ALLOWED_ORIGINS = cors_allowed_origins(
    env.list("HUB_CORS_ALLOWED_ORIGINS", default=[])
)
# django-cors-headers: those origins only, on the subscriber's own endpoints
# only, with the headers a token request needs; never cookies.
CORS_ALLOWED_ORIGINS = HUB_CORS_ALLOWED_ORIGINS
CORS_URLS_REGEX = (
    r"^/api/(notifications/([0-9]+/(read/)?|read-all/|unread-count/)?"
    r"|preferences/|topics/([-a-zA-Z0-9_]+/subscription/)?)$"
)
CORS_ALLOW_HEADERS = ("authorization", "content-type")
CORS_ALLOW_CREDENTIALS = False

# --- WebSockets -----------------------------------------------------------------
# Largest text frame a socket accepts; larger closes with 1009. uvicorn's
# --ws-max-size in the Procfile enforces the same limit before Django sees it.
WS_MAX_FRAME_BYTES = 64 * 1024
# How long a ticket from POST /api/ws-ticket/ stays valid, once.
WS_TICKET_TTL_SECS = 60
# Frames one socket may send per minute before it gets `rate_limited` errors.
WS_RATE_LIMIT_PER_MIN = env.int("WS_RATE_LIMIT_PER_MIN", default=600)
# Frames past the limit, within a minute, before the socket is closed with 4429.
WS_RATE_LIMIT_CLOSE_AFTER = 20
# Frames all of one user's sockets in one web process may send per minute, so
# many sockets do not multiply WS_RATE_LIMIT_PER_MIN; past it `rate_limited`,
# then 4429 as for one socket (realtime.per_user).
WS_USER_RATE_LIMIT_PER_MIN = env.int("WS_USER_RATE_LIMIT_PER_MIN", default=1200)
# Sockets one user may have open at once, on all endpoints and web processes
# together (counted in Redis); one more is closed with 4429.
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)
if WS_MAX_SOCKETS_PER_USER < 1 or WS_USER_RATE_LIMIT_PER_MIN < 1:
    raise ImproperlyConfigured(
        "WS_MAX_SOCKETS_PER_USER and WS_USER_RATE_LIMIT_PER_MIN must be at least 1; "
        "unset them for the defaults (20 sockets, 1200 frames a minute)."
    )
# How long a socket counts towards WS_MAX_SOCKETS_PER_USER unless its web
# process renews it (every third of this): the sockets of a web process that
# died stop counting within this time.
WS_SOCKET_LEASE_SECS = 60.0
# Database calls one user's sockets may have running or queued at once in a web
# process; the rest wait their turn, so one user's flood of frames cannot queue
# other users' calls behind theirs (realtime.per_user).
WS_DB_CALLS_PER_USER = 1
# The hub's consumer loop (realtime.consumers): one inbox per socket, and group
# events sent to idle sockets by the channel layer's reader. Off, consumers run
# channels' stock loop: same behaviour, a fan-out to N sockets ~1.5x slower
# (docs/PERFORMANCE.md). A switch to rule the hub's loop out when debugging.
WS_INLINE_FANOUT = env.bool("WS_INLINE_FANOUT", default=True)

# --- Notifications --------------------------------------------------------------
# Most notifications one `resume` frame replays; the client resumes again from
# the `last_id` of `resumed` when `more` is true.
RESUME_MAX_ITEMS = 500
# Most recipients of one POST /api/notifications/ (broadcasts serve larger audiences).
NOTIFY_MAX_RECIPIENTS = 1000
# Largest `data` object of a notification, encoded as JSON.
NOTIFICATION_DATA_MAX_BYTES = 16 * 1024
# Recipients written (and pushed) per transaction during a broadcast fan-out.
# Each chunk holds its recipients' user rows locked until it commits (a
# personal notification to one of them waits that long): about 0.35 s at 5,000.
# What larger chunks buy: docs/PERFORMANCE.md (broadcast).
BROADCAST_CHUNK_USERS = env.int("BROADCAST_CHUNK_USERS", default=5000)
# From this many recipients of one batch up, only those with an open socket
# are pushed to (one PUBSUB NUMSUB round trip decides; see realtime.publish).
ONLINE_CHECK_MIN_USERS = 20
# A queued or sending broadcast with no progress for this long is queued again
# by the sweeper (broker down at request time, or a worker killed mid-fan-out).
BROADCAST_STALL_SECS = env.int("BROADCAST_STALL_SECS", default=60)
# Largest `event` object of POST /api/topics/{slug}/events/, encoded as JSON.
TOPIC_EVENT_MAX_BYTES = 16 * 1024
# Read or archived notifications older than this are purged nightly.
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=90)
# Rows deleted per statement by the purge, so it never holds long locks.
PURGE_BATCH_ROWS = 5000
# How long a sync publish may wait for Redis before giving up (the notification
# stays stored; clients find it by resuming).
PUBLISH_TIMEOUT_SECS = 5.0

# --- Chat (docs/CHAT.md) ----------------------------------------------------------
# Longest chat message, in characters; longer ones get an `invalid` error frame.
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=4000)
# Messages one socket may post per minute, within WS_RATE_LIMIT_PER_MIN frames;
# past it `rate_limited`, then 4429 as for frames.
CHAT_MESSAGES_PER_MIN = env.int("CHAT_MESSAGES_PER_MIN", default=30)
# Messages the `history` frame on connect carries (the newest, oldest first).
CHAT_HISTORY_ON_CONNECT = 50
# Whether every signed-in user, not only staff, may create public rooms (POST, or
# joining a room that does not exist yet); off, unknown rooms close with 4404.
CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS = env.bool(
    "CHAT_USERS_MAY_CREATE_PUBLIC_ROOMS", default=True
)
# Least time between two `typing` frames one socket passes on; others are dropped.
CHAT_TYPING_MIN_INTERVAL_SECS = 2.0
# A socket's presence entry lives this long unless its heartbeat, every
# CHAT_PRESENCE_HEARTBEAT_SECS, refreshes it: the sockets of a web process that
# died leave their rooms' presence within TTL + heartbeat.
CHAT_PRESENCE_TTL_SECS = env.float("CHAT_PRESENCE_TTL_SECS", default=30.0)
CHAT_PRESENCE_HEARTBEAT_SECS = env.float("CHAT_PRESENCE_HEARTBEAT_SECS", default=10.0)
# Most distinct @mentions of one message that notify anyone.
CHAT_MENTIONS_MAX = 20
# Most usernames a private room is created with (POST /api/chat/rooms/ `members`);
# each gets an invitation, counted against CHAT_INVITATIONS_RATE.
CHAT_ROOM_MAX_MEMBERS = 500


def chat_rate(name: str, default: str) -> str:
    """A DRF-style rate, "<n>/<sec|min|hour|day>", checked at start-up."""
    rate = env(name, default=default)
    count, _, period = rate.partition("/")
    if not (count.isdigit() and int(count) > 0 and period[:1] in ("s", "m", "h", "d")):
        raise ImproperlyConfigured(
            f"{name}={rate!r}: write a count and a period, e.g. {default!r} "
            "(periods: sec, min, hour, day)."
        )
    return rate


# Rooms one user may create (POST /api/chat/rooms/, or joining a room that does not
# exist yet), in a sliding window; past it 429 with Retry-After, or close 4429.
CHAT_ROOM_CREATE_RATE = chat_rate("CHAT_ROOM_CREATE_RATE", "20/hour")
# Invitations one user may send (each username of a new room's `members`, each
# POST /api/chat/rooms/{slug}/invitations/ that invites), answered ones included;
# past it 429 with Retry-After.
CHAT_INVITATIONS_RATE = chat_rate("CHAT_INVITATIONS_RATE", "50/hour")
# Where a chat notification links to: the room's page in the web UI.
CHAT_ROOM_URL = env("CHAT_ROOM_URL", default="/chat/{slug}/")

# --- Dashboard (docs/ARCHITECTURE.md, "The dashboard's numbers") --------------------
# Every process writes its counters and latency samples to Redis this often, from
# a background thread: never a Redis call per delivered frame.
DASHBOARD_FLUSH_SECS = 1.0
# A process's socket count and worker heartbeat live this long unless the next
# flush refreshes them: a process that dies stops counting within this.
DASHBOARD_PROCESS_TTL_SECS = 5
# The window of the per-minute rates and of the publish-latency percentiles.
DASHBOARD_WINDOW_SECS = 60
# Most custom metric names kept (POST /api/dashboard/metrics/); a new name past
# this is refused, updating a known one always works.
DASHBOARD_METRICS_MAX_NAMES = 100
# Longest custom metric name, in characters.
DASHBOARD_METRIC_NAME_MAX_CHARS = 64

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # Each failed login and lockout is a warning (username and address
        # masked); its INFO lines narrate every step.
        "axes": {"level": "WARNING"},
    },
}
