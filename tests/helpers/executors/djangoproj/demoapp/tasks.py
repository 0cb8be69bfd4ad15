# Tasks run by djangoproj.reproq_executor (task paths demoapp.tasks.<name>).
import time

from django.conf import settings
from django.db import connection

from demoapp.models import Note


def add(a, b):
    return a + b


def write_note(text):
    return Note.objects.create(text=text).id


def boom():
    raise ValueError("boom from a real Django task")


def sleep(s):
    time.sleep(s)
    return s


def which_db_connection(hold=0):
    """The Postgres backend pid of this process's Django connection (after a query on it);
    `hold` keeps the task (and so its connection) alive for that many seconds afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("select 1")
    pid = connection.connection.get_backend_pid()
    if hold:
        time.sleep(hold)
    return pid


def settings_module():
    return settings.SETTINGS_MODULE


def tag_metadata(context, tag):
    context.metadata["tag"] = tag
    context.metadata["attempt"] = context.attempt
    return context.result_id


tag_metadata.takes_context = True
