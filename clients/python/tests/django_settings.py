"""A small Django product for the tests of hub_client.django."""

SECRET_KEY = "client-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "hub_client.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "django_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
USE_TZ = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

HUB_URL = "http://hub.invalid"
HUB_API_KEY = "product-key"
HUB_JWT_SECRET = "a-shared-secret-of-at-least-32-bytes!"


def subscriber_by_username(user) -> str:
    """For the HUB_SUBSCRIBER_ID test."""
    return f"shop:{user.username}"
