# A minimal real Django project for the python-pool end-to-end test
# (tests/e2e/python-pool-django.test.ts). The database comes from DATABASE_URL, parsed by hand.
import os
from urllib.parse import unquote, urlsplit

_url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))

SECRET_KEY = "reproq-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = []
INSTALLED_APPS = ["demoapp"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_url.path.lstrip("/")) or "postgres",
        "USER": unquote(_url.username or "postgres"),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": unquote(_url.hostname or "127.0.0.1"),
        "PORT": str(_url.port or 5432),
        # Seconds a connection is kept between tasks of a persistent python-pool child (Django's
        # default 0: closed after each task; "none": kept until it breaks).
        "CONN_MAX_AGE": (None if os.environ.get("DEMOAPP_CONN_MAX_AGE") == "none"
                         else int(os.environ.get("DEMOAPP_CONN_MAX_AGE") or 0)),
    }
}
# A second alias whose backend does not import (DEMOAPP_EXTRA_DATABASE_ENGINE=<dotted path>).
if os.environ.get("DEMOAPP_EXTRA_DATABASE_ENGINE"):
    DATABASES["extra"] = {"ENGINE": os.environ["DEMOAPP_EXTRA_DATABASE_ENGINE"], "NAME": "extra"}
# DEMOAPP_COUNT_LOGGING=1: LOGGING goes through demoapp.logconfig.configure, which counts the
# times this process applied it (demoapp.tasks.logging_configured returns the count).
if os.environ.get("DEMOAPP_COUNT_LOGGING"):
    LOGGING_CONFIG = "demoapp.logconfig.configure"
    LOGGING = {"version": 1, "disable_existing_loggers": False}
