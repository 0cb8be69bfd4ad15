# A minimal Django settings module for tests (enough for django.setup()). Importing it appends its
# name to $FAKE_SETTINGS_RECORD when set: proof of which settings modules an executor imported.
import os

SECRET_KEY = "fake-settings-for-tests"
INSTALLED_APPS = []
USE_TZ = True

if os.environ.get("FAKE_SETTINGS_RECORD"):
    with open(os.environ["FAKE_SETTINGS_RECORD"], "a") as _handle:
        _handle.write(__name__ + "\n")
