# `python -m fakedjango.executor --result-id N --attempt N --payload-stdin|--payload-file F|--payload-json J`:
# the reproq-django executor protocol (argparse, payload, setup, run, one envelope line, exit
# code). The task is chosen by kwargs.mode and lives in fakedjango/tasks.py. Unlike the real
# executor it does not capture prints, so tasks can write to stdout before the envelope.
import argparse
import json
import sys
import traceback

import fakedjango


def parse():
    parser = argparse.ArgumentParser(prog="fakedjango.executor")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload-stdin", action="store_true")
    source.add_argument("--payload-file")
    source.add_argument("--payload-json")
    parser.add_argument("--result-id")
    parser.add_argument("--attempt", type=int, default=1)
    return parser.parse_args()


def read_payload(args):
    if args.payload_stdin:
        return sys.stdin.read()
    if args.payload_file:
        with open(args.payload_file) as handle:
            return handle.read()
    return args.payload_json


def emit(envelope, code):
    print(json.dumps(envelope))
    sys.stdout.flush()
    sys.exit(code)


def execute():
    args = parse()
    try:
        spec = json.loads(read_payload(args))
    except ValueError as error:
        emit({"ok": False, "exception_class": "PayloadError", "message": "Failed to parse payload: %s" % error}, 1)
    fakedjango.setup()
    from fakedjango import tasks
    kwargs = dict(spec.get("kwargs") or {})
    mode = kwargs.pop("mode", "succeed")
    func = getattr(tasks, "task_" + mode, None)
    if func is None:
        emit({"ok": False, "exception_class": "ImportError", "message": "Failed to import task %s" % mode}, 1)
    context = {"result_id": args.result_id, "attempt": args.attempt}
    try:
        result = func(context, *(spec.get("args") or []), **kwargs)
        json.dumps(result)
    except Exception as error:
        emit({"ok": False, "exception_class": type(error).__name__, "message": str(error),
              "traceback": traceback.format_exc()}, 1)
    emit({"ok": True, "return": result}, 0)


if __name__ == "__main__":
    execute()
