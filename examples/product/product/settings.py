"""Settings of the example product: a ticket tracker that runs beside the hub."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# The product's own SQLite database lives here (git-ignored).
VAR_DIR = Path(os.environ.get("PRODUCT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def required(name: str, fix: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: {fix}")
    return value


# Debug by default: this is a local example, served by `runserver`.
DEBUG = os.environ.get("PRODUCT_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "PRODUCT_SECRET_KEY", "insecure-example-key-not-for-deployment"
)
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

# Where the product itself answers: links in notifications point back here.
PRODUCT_URL = os.environ.get("PRODUCT_URL", "http://localhost:8001").rstrip("/")

# --- The hub (read by hub_client.django) ---------------------------------------
HUB_URL = os.environ.get("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
HUB_API_KEY = required(
    "HUB_API_KEY",
    "create one on the hub with `python manage.py hub_api_key create product "
    "--scopes notify,subscribers,tokens` and export it (`make example` does this)",
)
# With the secret, connection tokens are signed here, without a call to the hub;
# without it, the client asks the hub for them (the key's `tokens` scope).
HUB_JWT_SECRET = os.environ.get("HUB_JWT_SECRET") or None
# Lifetime of the bell's connection tokens; it renews them before they expire.
HUB_TOKEN_TTL_SECS = int(os.environ.get("HUB_TOKEN_TTL_SECS", "900"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "hub_client.django",
    "accounts",
    "tickets",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "product.urls"
WSGI_APPLICATION = "product.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "product.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # What the hub did not take (a notification, a user) is logged, never raised.
    "root": {"handlers": ["console"], "level": "WARNING"},
}
