# reproq python-pool zygote. Shipped inside the reproq binary (a text import) and started by the
# worker as `<python_bin> -c <this source> reproq-python-pool` with the executor's environment and
# working directory. It imports Django (and runs django.setup()), the executor module, the
# preload_modules and the backend (and driver) of every configured database, closes every database
# connection, then forks one child per task; each child runs the executor module exactly as
# `python -m` would. Python standard library only.
#
# Protocol: newline-delimited JSON. The pool's original stdin/stdout are moved to private fds at
# start-up; fd 0 becomes /dev/null and fd 1 points at stderr, so prints during imports cannot
# corrupt the protocol. The first request is `init`; then:
#   requests: run {id, argv, payload, timeout_s, grace_s} | kill {id, grace_s, reason} | ping |
#             check_stale | shutdown {drain}
#   events:   ready {pid, python, django, databases, database_errors, setup_ms, files} |
#             fatal {reason, message} | started {id, pid} | rejected {id, message, fatal} |
#             done {id, pid, exit_code, signal, killed, sent_signal, pipes_held_open, stdout,
#                   stdout_total, stdout_tail, stderr, stderr_total, stderr_tail, wall_ms, maxrss_kb} |
#             pong {rss, in_flight, served} | stale {changed}
# Output: the first max bytes of each stream and, when it went over, its last stdout_tail /
# stderr_tail bytes (the worker shows head and tail; the envelope is the last line of stdout), as
# text when they are UTF-8, else base64 in <name>_b64 instead; *_total counts every byte the task
# wrote. Events are written once per loop iteration, together.
# End of input means the worker is gone: every child's process group is killed and the pool exits.
import base64
import gc
import json
import os
import resource
import select
import selectors
import signal
import sys
import time

ZYGOTE_FILE = sys._getframe().f_code.co_filename  # "<string>" under -c
PR_SET_PDEATHSIG = 1
READ_CHUNK = 65536
READS_PER_WAKE = 16

PROTO_IN = os.dup(0)
PROTO_OUT = os.dup(1)
_devnull = os.open(os.devnull, os.O_RDWR)
os.dup2(_devnull, 0)
os.dup2(2, 1)
os.close(_devnull)
os.set_inheritable(PROTO_IN, False)
os.set_inheritable(PROTO_OUT, False)

# `python -m` puts the working directory (as a full path) first on sys.path; `-c` puts "".
if sys.path and sys.path[0] == "":
    sys.path[0] = os.getcwd()


_outbox = []  # encoded events not yet written


def emit(event, **fields):
    """Queues one event; flush_events() writes the queue (once per loop iteration)."""
    fields["event"] = event
    _outbox.append(json.dumps(fields, separators=(",", ":")))


def flush_events():
    if not _outbox:
        return
    data = ("\n".join(_outbox) + "\n").encode()
    del _outbox[:]
    view = memoryview(data)
    while view:
        try:
            written = os.write(PROTO_OUT, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            select.select([], [PROTO_OUT], [], 1.0)
            continue
        except OSError:
            return  # EPIPE: the worker is gone (end of input follows)
        view = view[written:]


def read_line_blocking():
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(PROTO_IN, 65536)
        if not chunk:
            return None, b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


_libc = None


def prctl(option, value):
    global _libc
    try:
        if _libc is None:
            import ctypes
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def set_title(argv):
    """Rewrites /proc/self/cmdline (what ps and pgrep -f show) in place.

    Uses setproctitle when it is importable; otherwise overwrites the original argv area, found
    through /proc/self/stat (arg_start, arg_end), with ctypes. The area is as large as this
    script (it came in with -c), so a full executor command line fits."""
    try:
        import setproctitle  # type: ignore
        setproctitle.setproctitle(" ".join(argv))
        return True
    except Exception:
        pass
    try:
        import ctypes
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        start, end = int(fields[45]), int(fields[46])
        size = end - start
        if size <= 1:
            return False
        data = b"\0".join(os.fsencode(arg) for arg in argv)[: size - 1]
        ctypes.memmove(start, data + b"\0" * (size - len(data)), size)
        return True
    except Exception:
        return False


def thread_count():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading
        return threading.active_count()


def stdlib_dirs():
    import sysconfig
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[name]) for name in ("stdlib", "platstdlib") if paths.get(name)}
    site = {os.path.realpath(paths[name]) for name in ("purelib", "platlib") if paths.get(name)}
    return tuple(d + os.sep for d in dirs), tuple(d + os.sep for d in site)


def loaded_files():
    """Source files of loaded modules (outside the standard library) → (mtime_ns, size)."""
    stdlib, site = stdlib_dirs()
    files = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        real = os.path.realpath(path)
        if real.startswith(stdlib) and not real.startswith(site):
            continue
        try:
            st = os.stat(real)
        except OSError:
            continue
        files[real] = (st.st_mtime_ns, st.st_size)
    return files


def import_database_backends():
    """Imports the backend of every configured database alias, and so its driver, without
    connecting. Django loads a backend on the first use of its connection, which in a pool that
    never queried would be in every child (psycopg and Django's postgresql backend: ~100 modules).
    A backend that fails to import is reported, not fatal: a task that uses it imports it itself
    and gets the real error. Returns (aliases imported, [{alias, engine, error}])."""
    import importlib
    imported, errors = [], []
    try:
        from django.db import connections
        from django.db.utils import load_backend
        aliases = list(connections)  # the keys of settings.DATABASES
    except Exception as error:
        return imported, [{"alias": None, "engine": None, "error": "%s: %s" % (type(error).__name__, error)}]
    for alias in aliases:
        engine = None
        try:
            engine = connections.databases[alias].get("ENGINE")
            backend = load_backend(engine)
            # The SQL compiler module, which Django imports on the first ORM query.
            operations = getattr(getattr(backend, "DatabaseWrapper", None), "ops_class", None)
            compiler = getattr(operations, "compiler_module", None)
            if isinstance(compiler, str):
                importlib.import_module(compiler)
            imported.append(alias)
        except Exception as error:
            errors.append({"alias": alias, "engine": engine, "error": "%s: %s" % (type(error).__name__, error)})
    return imported, errors


class Capture:
    """The first `limit` bytes, the last `tail_limit` bytes, and a count of all of them."""

    def __init__(self, limit, tail_limit):
        self.limit = limit
        self.tail_limit = tail_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def push(self, chunk):
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
        if self.tail_limit > 0:
            self.tail += chunk
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def fields(self, name):
        tail = bytes(self.tail[-self.tail_limit:]) if self.tail_limit > 0 and self.total > self.limit else b""
        fields = {name + "_total": self.total}
        put_bytes(fields, name, bytes(self.head))
        if self.tail_limit > 0:
            put_bytes(fields, name + "_tail", tail)
        return fields


def put_bytes(fields, name, data):
    """`name` as text when the bytes are UTF-8 (the usual case: no encoding work on either side),
    else `name`_b64; the worker turns either back into the same bytes."""
    try:
        fields[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        fields[name + "_b64"] = base64.b64encode(data).decode("ascii")


class Task:
    def __init__(self, request, pid, out_r, err_r, config):
        self.id = request["id"]
        self.pid = pid
        self.streams = {out_r: Capture(config["max_stdout"], config["stdout_tail"]),
                        err_r: Capture(config["max_stderr"], config.get("stderr_tail", 0))}
        self.out_r, self.err_r = out_r, err_r
        self.stdout, self.stderr = self.streams[out_r], self.streams[err_r]
        self.payload_fd = None
        self.payload = b""
        self.started = time.monotonic()
        self.exited = False
        self.kill_reason = None
        self.sent_signal = None
        self.signal_before_exit = None
        self.grace_s = float(request.get("grace_s") or 5)
        self.kill_at = None
        timeout = float(request.get("timeout_s") or 0)
        self.timeout_at = self.started + timeout if timeout > 0 else None
        self.drain_at = None
        self.pipes_held_open = False


class Zygote:
    def __init__(self, config, pending):
        self.config = config
        self.module = config["executor_module"]
        self.python_bin = config.get("python_bin") or "python3"
        self.drain_s = max(0.0, float(config.get("drain_ms", 2000)) / 1000)
        self.selector = selectors.DefaultSelector()
        self.tasks = {}  # id -> Task
        self.by_fd = {}  # fd -> Task
        self.served = 0
        self.accepting = True
        self.input_open = True
        self.buffer = pending
        self.files = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    # ---- start-up ----------------------------------------------------------------------
    def preload(self):
        import importlib
        info = {"django": False}
        started = time.monotonic()
        django = None
        try:
            import django  # noqa: F811
        except ImportError:
            django = None
        if django is not None and os.environ.get("DJANGO_SETTINGS_MODULE"):
            django.setup()
            info["django"] = True
        importlib.import_module(self.module)
        for name in self.config.get("preload") or []:
            importlib.import_module(name)
        if info["django"]:
            info["databases"], info["database_errors"] = import_database_backends()
            from django.db import connections
            connections.close_all()  # ready() or a preload module may have connected
        info["setup_ms"] = round((time.monotonic() - started) * 1000)
        return info

    def baseline(self):
        self.files = loaded_files()
        return len(self.files)

    # ---- requests ----------------------------------------------------------------------
    def handle(self, request):
        op = request.get("op")
        if op == "run":
            self.run(request)
        elif op == "kill":
            task = self.tasks.get(request.get("id"))
            if task is not None:
                self.stop(task, request.get("reason") or "kill", request.get("grace_s"))
        elif op == "ping":
            emit("pong", rss=self.rss_kb(), in_flight=len(self.tasks), served=self.served)
        elif op == "check_stale":
            emit("stale", changed=self.changed_files())
        elif op == "shutdown":
            self.accepting = False
            if not request.get("drain", True):
                for task in list(self.tasks.values()):
                    self.stop(task, "shutdown", request.get("grace_s"))

    def rss_kb(self):
        try:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def changed_files(self):
        changed = []
        for path, before in self.files.items():
            try:
                st = os.stat(path)
                now = (st.st_mtime_ns, st.st_size)
            except OSError:
                now = None
            if now != before:
                changed.append(path)
        return changed

    def run(self, request):
        task_id = request.get("id")
        if not self.accepting:
            emit("rejected", id=task_id, message="the pool is shutting down", fatal=False)
            return
        if thread_count() > 1:
            emit("rejected", id=task_id, fatal=True,
                 message="a background thread appeared in the pool process; forking is unsafe")
            return
        payload = request.get("payload")
        fds = []
        try:
            out_r, out_w = os.pipe()
            fds += [out_r, out_w]
            err_r, err_w = os.pipe()
            fds += [err_r, err_w]
            in_r = in_w = None
            if payload is not None:
                in_r, in_w = os.pipe()
                fds += [in_r, in_w]
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            pid = os.fork()
        except OSError as error:
            for fd in fds:
                os.close(fd)
            emit("rejected", id=task_id, message="fork failed: %s" % error, fatal=False)
            return
        if pid == 0:
            self.child(request, in_r, out_w, err_w, (out_r, err_r, in_w))  # never returns
        os.close(out_w)
        os.close(err_w)
        task = Task(request, pid, out_r, err_r, self.config)
        self.tasks[task_id] = task
        self.served += 1
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            self.by_fd[fd] = task
            self.selector.register(fd, selectors.EVENT_READ, "out")
        if in_r is not None:
            os.close(in_r)
            os.set_blocking(in_w, False)
            task.payload_fd = in_w
            task.payload = memoryview(payload.encode("utf-8"))
            self.by_fd[in_w] = task
            self.write_payload(task)
            if task.payload_fd is not None:
                self.selector.register(in_w, selectors.EVENT_WRITE, "in")
        emit("started", id=task_id, pid=pid)

    # ---- the child ---------------------------------------------------------------------
    def child(self, request, in_r, out_w, err_w, parent_ends):
        code = 70
        try:
            del _outbox[:]  # the pool's events are the pool's to write
            os.setsid()
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != ZYGOTE_PID:
                os._exit(1)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter sets it at start-up
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            stdin_fd = in_r if in_r is not None else os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin_fd, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            owned = {PROTO_IN, PROTO_OUT, self.wake_r, self.wake_w, stdin_fd, out_w, err_w}
            owned.update(fd for fd in parent_ends if fd is not None)
            owned.update(self.by_fd.keys())
            try:
                owned.add(self.selector.fileno())
            except Exception:
                pass
            for fd in owned:
                if fd > 2:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            argv = [str(arg) for arg in request.get("argv") or []]
            set_title([self.python_bin, "-m", self.module] + argv)
            import random
            random.seed()
            gc.unfreeze()
            code = run_as_main(self.module, argv)
        except BaseException:
            try:
                import traceback
                traceback.print_exc()
            except BaseException:
                pass
        finally:
            os._exit(code)

    # ---- supervision -------------------------------------------------------------------
    def signal_group(self, task, signum):
        # Only while the child is unreaped: its pid (= process group id) cannot be reused yet.
        try:
            os.killpg(task.pid, signum)
        except OSError:
            pass

    def stop(self, task, reason, grace_s=None):
        if task.exited or task.kill_reason is not None:
            return
        task.kill_reason = reason
        task.sent_signal = "SIGTERM"
        self.signal_group(task, signal.SIGTERM)
        grace = task.grace_s if grace_s is None else float(grace_s)
        task.kill_at = time.monotonic() + max(0.0, grace)

    def write_payload(self, task):
        try:
            while task.payload:
                written = os.write(task.payload_fd, task.payload)
                task.payload = task.payload[written:]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            task.payload = b""  # EPIPE: the child exited or closed stdin
        self.close_fd(task.payload_fd)
        task.payload_fd = None

    def close_fd(self, fd):
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        self.by_fd.pop(fd, None)
        try:
            os.close(fd)
        except OSError:
            pass

    def read_output(self, fd):
        task = self.by_fd.get(fd)
        if task is None:
            return
        try:
            # Until the pipe is empty or closed (an exited child's end of file then comes in the
            # same wake-up), but bounded, so a task that writes without pause cannot stall the loop.
            for _ in range(READS_PER_WAKE):
                chunk = os.read(fd, READ_CHUNK)
                if not chunk:
                    self.close_fd(fd)
                    return
                task.streams[fd].push(chunk)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close_fd(fd)

    def poll_children(self, now):
        for task in list(self.tasks.values()):
            if not task.exited:
                try:
                    # WNOWAIT: notice the exit but leave the zombie, so the group stays ours.
                    info = os.waitid(os.P_PID, task.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:
                    info = True
                if info is not None:
                    task.exited = True
                    task.signal_before_exit = task.sent_signal
                    task.drain_at = now + self.drain_s
            if task.exited:
                open_pipes = task.out_r in self.by_fd or task.err_r in self.by_fd
                if open_pipes and now < task.drain_at:
                    continue
                if open_pipes:
                    task.pipes_held_open = True
                self.finish(task)
            else:
                if task.kill_at is not None and now >= task.kill_at:
                    task.kill_at = None
                    task.sent_signal = "SIGKILL"
                    self.signal_group(task, signal.SIGKILL)
                if task.timeout_at is not None and now >= task.timeout_at:
                    task.timeout_at = None
                    self.stop(task, "timeout")

    def finish(self, task):
        if task.pipes_held_open or task.kill_reason is not None:
            self.signal_group(task, signal.SIGKILL)  # leftovers of a stopped group, or pipe holders
        for fd in (task.out_r, task.err_r):
            if fd in self.by_fd:
                self.read_output(fd)
                self.close_fd(fd)
        if task.payload_fd is not None:
            self.close_fd(task.payload_fd)
            task.payload_fd = None
        try:
            _, status, usage = os.wait4(task.pid, 0)
            maxrss = usage.ru_maxrss
        except ChildProcessError:
            status, maxrss = 0, 0
        del self.tasks[task.id]
        exit_code = None
        signal_name = None
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            try:
                signal_name = signal.Signals(signum).name
            except ValueError:
                signal_name = "signal %d" % signum
        else:
            exit_code = os.WEXITSTATUS(status)
        fields = {}
        fields.update(task.stdout.fields("stdout"))
        fields.update(task.stderr.fields("stderr"))
        emit("done", id=task.id, pid=task.pid, exit_code=exit_code, signal=signal_name,
             killed=task.kill_reason, sent_signal=task.signal_before_exit,
             pipes_held_open=task.pipes_held_open,
             wall_ms=round((time.monotonic() - task.started) * 1000, 1), maxrss_kb=maxrss, **fields)

    def next_timeout(self, now):
        deadlines = []
        for task in self.tasks.values():
            for at in (task.kill_at, task.timeout_at, task.drain_at if task.exited else None):
                if at is not None:
                    deadlines.append(at)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def read_requests(self):
        try:
            chunk = os.read(PROTO_IN, 65536)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            self.input_open = False
            self.selector.unregister(PROTO_IN)
            return
        self.buffer += chunk
        self.dispatch_buffered()

    def dispatch_buffered(self):
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                sys.stderr.write("reproq pool: ignoring a malformed request\n")
                continue
            self.handle(request)

    def kill_all(self):
        for task in list(self.tasks.values()):
            if not task.exited:
                self.signal_group(task, signal.SIGKILL)
            task.kill_reason = task.kill_reason or "worker_gone"
        for task in list(self.tasks.values()):
            try:
                os.waitid(os.P_PID, task.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass
            task.exited = True
            self.signal_group(task, signal.SIGKILL)
            try:
                os.wait4(task.pid, 0)
            except ChildProcessError:
                pass
            del self.tasks[task.id]

    def serve(self):
        os.set_blocking(PROTO_IN, False)
        self.selector.register(PROTO_IN, selectors.EVENT_READ, "proto")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.dispatch_buffered()
        while True:
            now = time.monotonic()
            self.poll_children(now)
            flush_events()
            if not self.input_open:
                self.kill_all()
                return 0
            if not self.accepting and not self.tasks:
                return 0
            timeout = self.next_timeout(time.monotonic())
            for key, events in self.selector.select(timeout):
                kind = key.data
                if kind == "proto":
                    self.read_requests()
                elif kind == "wake":
                    try:
                        while os.read(self.wake_r, 4096):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass
                elif kind == "out":
                    self.read_output(key.fd)
                elif kind == "in":
                    task = self.by_fd.get(key.fd)
                    if task is not None:
                        self.write_payload(task)


def exit_code_of(error):
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def run_as_main(module, argv):
    """`python -m module argv…` inside this (forked) interpreter; returns the exit code."""
    import atexit
    import runpy
    import types
    import builtins
    sys.modules.pop(module, None)  # under -m the module only exists as __main__
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    sys.argv = ["-m"] + argv
    interrupted = False
    try:
        run = getattr(runpy, "_run_module_as_main", None)
        if run is not None:
            run(module, True)  # what `python -m` itself calls
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as error:
        code = exit_code_of(error)
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt)
        trace = error.__traceback__
        while trace is not None and trace.tb_frame.f_code.co_filename == ZYGOTE_FILE:
            trace = trace.tb_next
        try:
            sys.excepthook(type(error), error, trace)
        except BaseException:
            pass
        code = 1
    # What interpreter shutdown does: join non-daemon threads, run atexit, flush stdio.
    try:
        import threading
        threading._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BaseException:
        code = 120
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except BaseException:
        pass
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    return code


ZYGOTE_PID = os.getpid()


def main():
    line, rest = read_line_blocking()
    if line is None:
        return 0
    config = json.loads(line)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when the pool stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    set_title(["reproq-python-pool", config.get("python_bin") or "python3", "-m", config["executor_module"]])
    zygote = Zygote(config, rest)
    try:
        info = zygote.preload()
    except BaseException as error:
        import traceback
        emit("fatal", reason="preload", message="%s: %s" % (type(error).__name__, error),
             traceback=traceback.format_exc())
        flush_events()
        return 1
    threads = thread_count()
    if threads > 1:
        import threading
        names = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
        emit("fatal", reason="threads",
             message="%d background thread(s) in the pool process after imports (%s); forking is unsafe"
             % (threads - 1, ", ".join(names) or "not started from Python"))
        flush_events()
        return 1
    files = zygote.baseline()
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(zygote.wake_w)
    signal.signal(signal.SIGTERM, lambda signum, frame: setattr(zygote, "input_open", False))
    gc.collect()
    gc.freeze()  # objects shared with the children stay out of their collections (fewer copied pages)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    emit("ready", pid=os.getpid(), python=sys.version.split()[0], files=files, **info)
    flush_events()
    return zygote.serve()


if __name__ == "__main__":
    sys.exit(main())
