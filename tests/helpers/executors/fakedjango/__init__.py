# A stand-in for a Django project in the python-pool tests: importing it is slow (~300 ms, like
# Django plus the project's apps), setup() is a separate step (like django.setup()), and
# `python -m fakedjango.executor` speaks the reproq executor protocol (see executor.py).
import time

time.sleep(0.3)  # the heavy import the pool pays once

READY = False
SETUP_CALLS = 0


def setup():
    """Like django.setup(): idempotent, loads the task registry."""
    global READY, SETUP_CALLS
    SETUP_CALLS += 1
    if READY:
        return
    time.sleep(0.02)
    from . import tasks  # noqa: F401  (the app registry)
    READY = True
