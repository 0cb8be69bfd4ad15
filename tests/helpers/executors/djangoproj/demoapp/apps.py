import os

from django.apps import AppConfig


class DemoAppConfig(AppConfig):
    name = "demoapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # A query at start-up (many projects do one, e.g. through a cache warm-up or a check), so
        # the process that runs django.setup() holds an open connection. Under python-pool that
        # process is the pool, which must close it before forking. Each process that ran ready()
        # leaves a row: its OS pid and its Postgres backend pid. DEMOAPP_SETUP_QUERY=0 skips it, for
        # a project whose setup never touches the database (then nothing imports the backend).
        if os.environ.get("DEMOAPP_SETUP_QUERY", "1") == "0":
            return
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "insert into demoapp_setup_log (os_pid, backend_pid) values (%s, pg_backend_pid())",
                [os.getpid()],
            )
