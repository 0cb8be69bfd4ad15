#!/usr/bin/env python3
# A stand-in for `python -m reproq_django.executor` in tests: same argv (--result-id, --attempt,
# --payload-stdin | --payload-file F | --payload-json J), same envelope protocol. What it does is
# chosen by the payload's kwargs, e.g. {"task_path": "tasks.x", "kwargs": {"mode": "sleep", "seconds": 3}}.
import hashlib
import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import traceback


def parse_args(argv):
    args = {"result_id": None, "attempt": None, "flag": None, "file": None, "inline": None}
    i = 0
    while i < len(argv):
        name = argv[i]
        if name == "--result-id":
            args["result_id"] = argv[i + 1]; i += 2
        elif name == "--attempt":
            args["attempt"] = int(argv[i + 1]); i += 2
        elif name == "--payload-stdin":
            args["flag"] = name; i += 1
        elif name == "--payload-file":
            args["flag"] = name; args["file"] = argv[i + 1]; i += 2
        elif name == "--payload-json":
            args["flag"] = name; args["inline"] = argv[i + 1]; i += 2
        else:
            sys.stderr.write("fake executor: unknown argument %r\n" % name)
            sys.exit(2)
    return args


def read_payload(args):
    """The payload bytes, plus the temp file's mode when it came from a file."""
    if args["flag"] == "--payload-stdin":
        return sys.stdin.buffer.read(), None
    if args["flag"] == "--payload-file":
        mode = stat.S_IMODE(os.stat(args["file"]).st_mode)
        with open(args["file"], "rb") as handle:
            return handle.read(), "%o" % mode
    if args["flag"] == "--payload-json":
        return os.fsencode(args["inline"]), None
    sys.stderr.write("fake executor: no payload flag\n")
    sys.exit(2)


def emit(envelope, code=0):
    sys.stdout.write(json.dumps(envelope) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def success(args, payload, file_mode, spec, **extra):
    emit({"ok": True, "return": dict({
        "result_id": args["result_id"],
        "attempt": args["attempt"],
        "payload_flag": args["flag"],
        "payload_file": args["file"],
        "payload_file_mode": file_mode,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "task_path": spec.get("task_path"),
    }, **extra)})


def record_run(args, spec):
    """With FAKE_EXECUTOR_RECORD set, appends one JSON line per run: proof of what actually ran."""
    path = os.environ.get("FAKE_EXECUTOR_RECORD")
    if not path:
        return
    task_path = spec.get("task_path") if isinstance(spec, dict) else None
    entry = {"result_id": args["result_id"], "task_path": task_path}
    settings_module = spec_settings_module(spec)
    if settings_module:
        entry["settings_module"] = settings_module
    with open(path, "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def spec_settings_module(spec):
    django = spec.get("django") if isinstance(spec, dict) else None
    return (django or {}).get("settings_module") if isinstance(django, dict) else None


def apply_settings(spec):
    """As reproq_django.executor does before django.setup(): a spec's django.settings_module
    becomes DJANGO_SETTINGS_MODULE and is imported (setup imports the settings module)."""
    settings_module = spec_settings_module(spec)
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        importlib.import_module(settings_module)


def spawn_sleeper(seconds, hold_pipes):
    """A grandchild in our process group; it inherits our signal dispositions."""
    out = None if hold_pipes else subprocess.DEVNULL
    child = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    sys.stderr.write("grandchild pid %d\n" % child.pid)
    sys.stderr.flush()
    return child


def ledger_task(args, payload, file_mode, spec, kwargs):
    """Appends `start|child|end <result_id> <attempt> <pid> <epoch seconds> <ppid> <monotonic seconds>`
    lines to $LEDGER_FILE (tests/helpers/ledger.ts reads them)
    around a `sleep` grandchild: first_seconds on attempt 1 (long enough to be killed there),
    later_seconds on later attempts. Tests read the ledger to see what ran when, and which
    processes to look for after a worker died."""
    path = os.environ["LEDGER_FILE"]

    def note(word, pid):
        with open(path, "a") as handle:
            handle.write("%s %s %s %d %.6f %d %.6f\n" % (word, args["result_id"], args["attempt"], pid, time.time(),
                                                       os.getppid(), time.monotonic()))

    note("start", os.getpid())
    seconds = kwargs.get("first_seconds", 30) if args["attempt"] == 1 else kwargs.get("later_seconds", 0.3)
    child = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    note("child", child.pid)
    child.wait()
    note("end", os.getpid())
    success(args, payload, file_mode, spec)


def main():
    args = parse_args(sys.argv[1:])
    payload, file_mode = read_payload(args)
    spec = json.loads(payload)
    record_run(args, spec)
    apply_settings(spec)
    kwargs = spec.get("kwargs") or {}
    mode = kwargs.get("mode", "success")

    if mode == "success":
        success(args, payload, file_mode, spec)
    elif mode == "raise":
        try:
            raise ValueError(kwargs.get("message", "boom"))
        except ValueError as error:
            emit({"ok": False, "exception_class": type(error).__name__, "message": str(error),
                  "traceback": traceback.format_exc()}, 1)
    elif mode == "noise":
        print("INFO starting task")
        print('{"level": "info", "msg": "a JSON log line without ok"}')
        print('{"ok": "yes", "note": "ok is not a boolean"}')
        print("[1, 2, 3]")
        sys.stdout.flush()
        emit({"ok": True, "return": {"noise": True}})
    elif mode == "nan":
        emit({"ok": True, "return": {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
                                     "text": "NaN and Infinity stay in strings"}})
    elif mode == "sleep":
        time.sleep(float(kwargs.get("seconds", 1)))
        if kwargs.get("then") == "raise":
            emit({"ok": False, "exception_class": "ValueError", "message": "failed after sleeping", "traceback": ""}, 1)
        success(args, payload, file_mode, spec, slept=kwargs.get("seconds", 1))
    elif mode == "hang":
        # Never exits on its own and ignores SIGTERM, as does its grandchild (SIG_IGN survives exec).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        spawn_sleeper(300, hold_pipes=False)
        while True:
            time.sleep(1)
    elif mode == "trap":
        # Prints an envelope when terminated, like reproq_django's handler outside the task body.
        def on_term(signum, frame):
            emit({"ok": False, "exception_class": "Terminated", "message": "Task terminated by signal %d" % signum}, 1)
        signal.signal(signal.SIGTERM, on_term)
        sys.stderr.write("trap ready\n")
        sys.stderr.flush()
        while True:
            time.sleep(1)
    elif mode == "grandchild":
        spawn_sleeper(int(kwargs.get("seconds", 60)), hold_pipes=True)
        success(args, payload, file_mode, spec)
    elif mode == "flood":
        # Optional: "head" text first, "tail" text after the flood, "pad" bytes in the envelope's
        # return, "code" as the exit status when there is no envelope.
        stream = sys.stderr.buffer if kwargs.get("stream") == "stderr" else sys.stdout.buffer
        chunk = b"x" * 65536
        remaining = int(kwargs.get("bytes", 10 * 1024 * 1024))
        try:
            stream.write(kwargs.get("head", "").encode())
            while remaining > 0:
                stream.write(chunk[:remaining])
                remaining -= len(chunk)
            stream.write(b"\n")
            stream.write(kwargs.get("tail", "").encode())
            stream.flush()
        except BrokenPipeError:
            os._exit(3)
        if kwargs.get("envelope", True):
            result = {"flooded": int(kwargs.get("bytes", 10 * 1024 * 1024))}
            if kwargs.get("pad"):
                result["pad"] = "y" * int(kwargs["pad"])
            emit({"ok": True, "return": result})
        sys.exit(int(kwargs.get("code", 0)))
    elif mode == "ledger":
        ledger_task(args, payload, file_mode, spec, kwargs)
    elif mode == "big_return":
        emit({"ok": True, "return": "y" * int(kwargs.get("bytes", 5000))})
    elif mode == "exit":
        sys.exit(int(kwargs.get("code", 3)))
    elif mode == "ok_exit":
        emit({"ok": True, "return": None}, int(kwargs.get("code", 2)))
    elif mode == "garbage":
        print("this is not json")
        print("{broken")
        sys.exit(0)
    elif mode == "leak":
        # A careless task: prints its credentials, then fails with them (and an API key from
        # the environment, not from the payload) in the exception message.
        password = kwargs["auth"]["password"]
        print("connecting with password %s" % password)
        sys.stdout.flush()
        try:
            raise RuntimeError("billing API refused the login (HTTP 401): password %r rejected; api_key=%s"
                               % (password, os.environ.get("FAKE_LEAK_API_KEY", "")))
        except RuntimeError as error:
            emit({"ok": False, "exception_class": type(error).__name__, "message": str(error),
                  "traceback": traceback.format_exc()}, 1)
    elif mode == "leak_no_envelope":
        # Exits without an envelope; the last line of stdout carries the secrets.
        print('login refused for {"password": "%s"} session=%s (HTTP 401)'
              % (kwargs["auth"]["password"], os.environ.get("FAKE_LEAK_SESSION", "")))
        sys.exit(1)
    elif mode == "env":
        emit({"ok": True, "return": {"env": sorted(os.environ.keys())}})
    else:
        emit({"ok": False, "exception_class": "ValueError", "message": "unknown mode %r" % mode}, 1)


if __name__ == "__main__":
    main()
