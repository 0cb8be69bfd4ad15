# The fake project's tasks: task_<mode>(context, *args, **kwargs), chosen by the executor from
# kwargs.mode. Return values are deterministic (no pids, no times) so spawn and pool runs can be
# compared byte for byte.
import os
import signal
import subprocess
import sys
import time

STATE = {"count": 0, "items": []}
LOADED_AT_IMPORT = "tasks module loaded"


def task_succeed(context, value=1):
    return {"value": value, "result_id": context["result_id"], "attempt": context["attempt"],
            "argv": sys.argv[1:], "main_file": os.path.basename(sys.argv[0]), "name": __name__}


def task_fail(context, message="boom"):
    raise ValueError(message)


def task_noisy(context):
    print("INFO task starting")
    print('{"level": "info", "msg": "a JSON log line without ok"}')
    sys.stdout.flush()
    os.write(1, b"raw write to fd 1\n")
    sys.stderr.write("warning on stderr\n")
    return {"noisy": True}


def task_binary(context, repeat=1):
    """Output that is not all UTF-8: multi-byte characters (split when the output is truncated),
    then bytes that are not UTF-8 at all, on stdout and stderr."""
    sys.stdout.write("h\u00e9llo \u2713 \U0001f389 " * int(repeat) + "\n")
    sys.stdout.flush()
    os.write(1, b"\xff\xfe not utf-8\n")
    os.write(2, b"\xc3 broken \xe2\x9c\n")
    return {"binary": True}


def task_chatter(context):
    """Writes to stdout without pause, forever (until stopped): the pool must still serve others."""
    line = (b"chatter " * 8 + b"\n") * 2000
    while True:
        os.write(1, line)


def task_mutate(context, item="x"):
    """Module globals: a fresh process (or a fresh fork) always starts from the imported state."""
    STATE["count"] += 1
    STATE["items"].append(item)
    globals()["MUTATED"] = True
    return {"count": STATE["count"], "items": list(STATE["items"])}


def task_db_write(context, dsn, marker):
    """A database side effect through psql (no Python driver here), like save_metadata()."""
    sql = "insert into fake_side_effects (marker, result_id) values ('%s', '%s')" % (marker.replace("'", "''"), context["result_id"])
    done = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("psql failed: %s" % done.stderr.strip())
    return {"written": marker}


def task_sleep(context, seconds=1):
    time.sleep(float(seconds))
    return {"slept": seconds}


def task_grandchild(context, seconds=60, wait=True, ignore_term=False, hold=False):
    """Starts `sleep` in our process group and reports its pid on stderr; `hold`: it keeps our
    stdout/stderr pipes open after we exit."""
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the grandchild across exec
    out = None if hold else subprocess.DEVNULL
    child = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    sys.stderr.write("grandchild pid %d\n" % child.pid)
    sys.stderr.flush()
    if wait:
        child.wait()
    return {"grandchild": True}


def task_exit(context, code=3):
    sys.exit(int(code))


def task_crash(context):
    os._exit(5)


def task_module_value(context, module, attribute="VALUE"):
    import importlib
    return {"value": getattr(importlib.import_module(module), attribute)}


def task_flood(context, size=300000, err_size=0):
    sys.stdout.write("y" * int(size) + "\n")
    if err_size:
        sys.stderr.write("first stderr line\n" + "e" * int(err_size) + "\nlast stderr line\n")
    return {"flooded": int(size)}


def task_identity(context):
    """What the process looks like from inside (its own group and session, its command line)."""
    with open("/proc/self/cmdline", "rb") as handle:
        parts = handle.read().rstrip(b"\0").split(b"\0")
    return {"pgid_is_pid": os.getpgid(0) == os.getpid(), "sid_is_pid": os.getsid(0) == os.getpid(),
            "cmdline": [part.decode() for part in parts], "path0": sys.path[0], "cwd": os.getcwd()}


def task_probe(context, set_env=None, chdir=None, handler=False, alarm=False):
    """What a task sees of the process (then, optionally, changes it): for persistent children,
    whose next task must see the original environment, directory and signal handlers."""
    seen = {"mark": os.environ.get("REPROQ_PROBE_MARK"), "cwd": os.getcwd(),
            "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
            "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            "alarm": signal.getitimer(signal.ITIMER_REAL)[0], "path0": sys.path[0]}
    if set_env:
        os.environ["REPROQ_PROBE_MARK"] = set_env
    if chdir:
        os.chdir(chdir)
        sys.path.insert(0, chdir)
    if handler:
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if alarm:
        signal.setitimer(signal.ITIMER_REAL, 3600)
    return seen


def task_thread(context):
    """Leaves a daemon thread running behind."""
    import threading
    threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="left-behind").start()
    return {"thread": True}


HOGGED = []


def task_hog(context, mb=50):
    """Keeps `mb` MiB alive in a module global (a leak in a long-lived process)."""
    HOGGED.append(bytearray(int(mb) * 1024 * 1024))
    return {"hogged": int(mb)}


def task_closefds(context):
    """Closes every descriptor above stderr (as daemonizing code does)."""
    os.closerange(3, 65536)
    return {"closed": True}


def task_streams(context, action=None, stderr_text=None):
    """The identity of the standard stream objects this task got (persistent children keep
    stdout/stderr between tasks when a task leaves them as built), then, optionally, changes them."""
    seen = {"stdout": id(sys.stdout), "stderr": id(sys.stderr), "stdin": id(sys.stdin),
            "dunder_stdout": sys.__stdout__ is sys.stdout, "line_buffering": sys.stdout.line_buffering}
    if stderr_text:
        sys.stderr.write(stderr_text)  # no newline: it stays buffered until the task ends
    if action == "reconfigure":
        sys.stdout.reconfigure(line_buffering=True)
    elif action == "detach_stderr":
        sys.stderr = open(os.dup(2), "w", buffering=1)
    return seen


def task_gettext(context, localedir, language):
    """gettext.find of a catalog that exists for one language only, under LANGUAGE=`language`
    (a persistent child memoizes find; its answers must follow the locale settings)."""
    import gettext
    os.environ["LANGUAGE"] = language
    return {"found": gettext.find("reproqtest", localedir), "all": gettext.find("reproqtest", localedir, all=True),
            "memoized": getattr(gettext.find, "__wrapped__", None) is not None}
