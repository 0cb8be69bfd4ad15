# `python -m djangoproj.reproq_executor --result-id N --attempt N --payload-stdin|--payload-file P|--payload-json J`
# A small stand-in for reproq_django.executor (see /work/shared/reference/django-contract.md §1) for
# a real Django project: parse the payload, resolve settings and call django.setup() (a no-op when
# the python-pool already did it), import the task by dotted path, load metadata_json, run the task
# with its prints captured, save metadata_json, and print one JSON envelope as the last stdout
# line. Exit codes: 0 success, 1 handled failure, 2 usage error; django.setup() errors are not
# caught (traceback on stderr, exit 1, empty stdout).
import sys

# What this process had imported before the executor module started: a task forked from the
# python-pool inherits the pool's modules, a spawned interpreter only has its own start-up's
# (demoapp.tasks.imported_before_start reads this).
MODULES_AT_START = frozenset(sys.modules)

import argparse  # noqa: E402
import asyncio
import contextlib
import datetime
import io
import json
import os
import signal
import traceback


def emit(payload):
    print(json.dumps(payload))
    sys.stdout.flush()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="djangoproj.reproq_executor")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload-stdin", action="store_true")
    source.add_argument("--payload-file")
    source.add_argument("--payload-json")
    parser.add_argument("--task-path")
    parser.add_argument("--settings")
    parser.add_argument("--result-id")
    parser.add_argument("--attempt", type=int, default=1)
    return parser.parse_args(argv)


def read_payload(args):
    if args.payload_stdin:
        return sys.stdin.read()
    if args.payload_file:
        with open(args.payload_file) as handle:
            return handle.read()
    return args.payload_json


class TaskContext:
    def __init__(self, result_id, attempt, task_path, queue_name, priority, metadata):
        self.result_id = result_id
        self.attempt = attempt
        self.task_path = task_path
        self.queue_name = queue_name
        self.priority = priority
        self.metadata = metadata

    def save_metadata(self):
        if self.result_id is None:
            return
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute(
                "update task_runs set metadata_json = %s::jsonb, updated_at = now() where result_id = %s",
                [json.dumps(self.metadata), self.result_id],
            )


def load_metadata(result_id):
    if result_id is None:
        return {}
    try:
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute("select metadata_json::text from task_runs where result_id = %s", [result_id])
            row = cursor.fetchone()
        value = json.loads(row[0]) if row and row[0] else {}
        return value if isinstance(value, dict) else {}
    except Exception:
        return {}


def decode(value):
    """The __reproq_type__ markers reproq_django writes (timedelta, model)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        kind = value.get("__reproq_type__")
        if kind == "timedelta":
            return datetime.timedelta(days=value.get("days", 0), seconds=value.get("seconds", 0),
                                      microseconds=value.get("microseconds", 0))
        if kind == "model":
            from django.apps import apps
            model = apps.get_model(value["app_label"], value["model"])
            return model._default_manager.get(pk=value["pk"])
        if kind is not None:
            raise ValueError("unknown __reproq_type__ %r" % kind)
        return {key: decode(item) for key, item in value.items()}
    return value


def on_signal(signum, frame):
    emit({"ok": False, "exception_class": "Terminated", "message": "Task terminated by signal %d" % signum})
    sys.exit(1)


def execute(argv=None):
    args = parse_args(argv)
    try:
        spec = json.loads(read_payload(args))
    except ValueError as error:
        emit({"ok": False, "exception_class": "PayloadError", "message": "Failed to parse payload: %s" % error})
        sys.exit(1)

    settings_module = args.settings or (spec.get("django") or {}).get("settings_module")
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    django.setup()  # not caught, like reproq_django.executor

    from django.utils.module_loading import import_string
    task_path = args.task_path or spec.get("task_path")
    try:
        task = import_string(task_path)
    except Exception as error:
        emit({"ok": False, "exception_class": "ImportError", "message": "Failed to import task %s: %s" % (task_path, error)})
        sys.exit(1)
    func = getattr(task, "func", None) or getattr(task, "run", None) or task

    context = TaskContext(args.result_id, args.attempt, task_path, spec.get("queue_name"),
                          spec.get("priority"), load_metadata(args.result_id))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    captured = io.StringIO()
    try:
        task_args = decode(spec.get("args") or [])
        task_kwargs = decode(spec.get("kwargs") or {})
    except Exception as error:
        task_args, task_kwargs = None, None
        failure = RuntimeError("Failed to deserialize arguments: %s" % error)
    try:
        if task_args is None:
            raise failure
        with contextlib.redirect_stdout(captured):
            if spec.get("takes_context") or getattr(task, "takes_context", False):
                result = func(context, *task_args, **task_kwargs)
            else:
                result = func(*task_args, **task_kwargs)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
        try:
            json.dumps(result)
        except TypeError:
            raise TypeError("Return value of type %s is not JSON serializable" % type(result))
    except Exception as error:
        report_captured(captured)
        with contextlib.suppress(Exception):
            context.save_metadata()
        emit({"ok": False, "exception_class": type(error).__name__, "message": str(error),
              "traceback": traceback.format_exc()})
        sys.exit(1)
    report_captured(captured)
    with contextlib.suppress(Exception):
        context.save_metadata()
    emit({"ok": True, "return": result})


def report_captured(captured):
    text = captured.getvalue()
    if text:
        sys.stderr.write("[reproq executor] Task wrote %d bytes to stdout; suppressed.\n" % len(text))


if __name__ == "__main__":
    execute()
