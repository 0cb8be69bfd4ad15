# Tasks run by djangoproj.reproq_executor (task paths demoapp.tasks.<name>).
import sys
import time

from django.conf import settings
from django.db import connections

from demoapp.models import Note


def add(a, b):
    return a + b


def write_note(text):
    return Note.objects.create(text=text).id


def noop(*args, **kwargs):
    return None


def boom():
    raise ValueError("boom from a real Django task")


def sleep(s):
    time.sleep(s)
    return s


def which_db_connection(hold=0, alias="default"):
    """The Postgres backend pid of this process's Django connection `alias` (after a query on it);
    `hold` keeps the task (and so its connection) alive for that many seconds afterwards."""
    conn = connections[alias]
    with conn.cursor() as cursor:
        cursor.execute("select 1")
    pid = conn.connection.get_backend_pid()
    if hold:
        time.sleep(hold)
    return pid


def imported_before_start(*names):
    """Which of `names` this process had imported before the executor module started."""
    at_start = getattr(sys.modules.get("__main__"), "MODULES_AT_START", frozenset())
    return {name: name in at_start for name in names}


def settings_module():
    return settings.SETTINGS_MODULE


def tag_metadata(context, tag):
    context.metadata["tag"] = tag
    context.metadata["attempt"] = context.attempt
    return context.result_id


tag_metadata.takes_context = True


def close_connection():
    """Closes this process's default connection after using it (a task cleaning up after itself)."""
    conn = connections["default"]
    with conn.cursor() as cursor:
        cursor.execute("select 1")
    pid = conn.connection.get_backend_pid()
    conn.close()
    return pid


def break_connection():
    """Leaves the default connection broken: its backend is terminated behind Django's back."""
    conn = connections["default"]
    with conn.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connections["default"].cursor() as cursor:
        try:
            cursor.execute("select pg_terminate_backend(pg_backend_pid())")
        except Exception:
            pass
    return pid


def stamp(*args):
    """When the task body started (time.time()): the benchmark's enqueue → start latency."""
    return time.time()


def logging_configured():
    """How many times this process has applied the project's LOGGING (DEMOAPP_COUNT_LOGGING=1)."""
    from demoapp import logconfig
    return logconfig.CALLS
