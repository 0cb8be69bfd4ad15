# reproq python-pool zygote. Shipped inside the reproq binary (a text import) and started by the
# worker as `<python_bin> -c <this source> reproq-python-pool` with the executor's environment and
# working directory. It imports Django (and runs django.setup()), the executor module, the
# preload_modules and the backend (and driver) of every configured database, closes every database
# connection, then either forks one child per task (mode "fork"), or keeps `children` long-lived
# children that each run many tasks in sequence (mode "persistent"). Either way a task runs the
# executor module exactly as `python -m` would. Python standard library only.
#
# Persistent children: the pool keeps one SOCK_SEQPACKET socket per child. For each task it makes
# the stdout/stderr (and payload) pipes itself, exactly as in fork mode, and passes the child its
# ends with SCM_RIGHTS next to the request; the child puts them on fds 0/1/2, runs the module,
# puts /dev/null and its own stderr back (closing the pipes, so the pool sees end of file) and
# answers {code, retire, maxrss_kb}. Capture, caps, drain and kill logic are the fork mode's; a
# task "exits" when its answer arrives or its child dies. A child is replaced (a fresh fork from
# this pool) after max_tasks_per_child tasks, above max_child_rss_kb, when a task left a thread
# or an open transaction, was interrupted or stopped, or left processes holding its pipes.
# Between tasks a child restores what a task may change in its process (Baseline) and does what
# Django does between requests (django_connections). init adds {mode, children,
# max_tasks_per_child, max_child_rss_kb}. A run request that comes while all `children` children
# are busy waits (the worker queues one ahead while tasks are short) and goes to the first child
# that answers; killed or shut down before that, it is reported `unstarted`.
#
# Protocol: newline-delimited JSON. The pool's original stdin/stdout are moved to private fds at
# start-up; fd 0 becomes /dev/null and fd 1 points at stderr, so prints during imports cannot
# corrupt the protocol. The first request is `init`; then:
#   requests: run {id, argv, payload, timeout_s, grace_s} | kill {id, grace_s, reason} | ping |
#             check_stale | shutdown {drain}
#   events:   ready {pid, python, django, databases, database_errors, setup_ms, files} |
#             fatal {reason, message} | started {id, pid} | unstarted {id, reason} |
#             rejected {id, message, fatal} |
#             done {id, pid, exit_code, signal, killed, sent_signal, pipes_held_open, stdout,
#                   stdout_total, stdout_tail, stderr, stderr_total, stderr_tail, wall_ms, maxrss_kb} |
#             pong {rss, in_flight, served, children} | stale {changed}
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
import socket
import sys
import time

ZYGOTE_FILE = sys._getframe().f_code.co_filename  # "<string>" under -c
PR_SET_PDEATHSIG = 1
READ_CHUNK = 65536
READS_PER_WAKE = 16

# How the interpreter set up its standard streams (pipes, like a task's): persistent children
# build the same objects for every task.
STDIO_PARAMS = [(getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict")
                for stream in (sys.stdin, sys.stdout, sys.stderr)]

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


_title_area = None  # (arg_start, arg_end) of this process's command line
_setproctitle = None  # setproctitle.setproctitle, False when it is not installed, None: not looked up yet
FS_ENCODING = sys.getfilesystemencoding()
_title_dirty = None  # bytes of the area an earlier title may have left non-NUL; None: all of it


def set_title(argv):
    """Rewrites /proc/self/cmdline (what ps and pgrep -f show) in place.

    Uses setproctitle when it is importable; otherwise overwrites the original argv area, found
    through /proc/self/stat (arg_start, arg_end), with ctypes. The area is as large as this
    script (it came in with -c), so a full executor command line fits."""
    global _title_area, _setproctitle, _title_dirty
    if _setproctitle is None:
        try:
            import setproctitle  # type: ignore
            _setproctitle = setproctitle.setproctitle
        except Exception:
            _setproctitle = False  # not installed: not looked for again (persistent children retitle per task)
    if _setproctitle:
        try:
            _setproctitle(" ".join(argv))
            return True
        except Exception:
            pass
    try:
        import ctypes
        if _title_area is None:
            with open("/proc/self/stat", "rb") as handle:
                stat = handle.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            _title_area = (int(fields[45]), int(fields[46]))  # the same in forked children
        start, end = _title_area
        size = end - start
        if size <= 1:
            return False
        data = "\0".join(argv).encode(FS_ENCODING, "surrogateescape")[: size - 1]  # os.fsencode of each
        # NULs over what an earlier title left (the whole area the first time: it holds this
        # script), not the whole area every time: persistent children retitle twice per task.
        dirty = size if _title_dirty is None else _title_dirty
        span = max(len(data) + 1, min(dirty, size))
        ctypes.memmove(start, data + b"\0" * (span - len(data)), span)
        _title_dirty = len(data) + 1
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
        self.child = None  # persistent mode: the Child running it
        self.reported = None  # persistent mode: the child's answer {code, retire, maxrss_kb}


class Child:
    """A long-lived child (persistent mode), as the pool sees it."""

    def __init__(self, pid, sock):
        self.pid = pid
        self.sock = sock
        self.task = None
        self.served = 0
        self.retiring = False  # no more tasks; it exits (or was killed) and is reaped
        self.closed = False  # its end of the socket is closed: exiting or dead


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
        self.persistent = config.get("mode") == "persistent"
        # A SIGCHLD came in since poll_children last looked (persistent children are only asked
        # for their exit status then, or once their control socket closed).
        self.child_signal = True
        self.children_target = max(1, int(config.get("children") or 1))
        self.max_tasks_per_child = max(0, int(config.get("max_tasks_per_child") or 0))
        self.max_child_rss_kb = max(0, int(config.get("max_child_rss_kb") or 0))
        self.db_reuse = bool(config.get("db_reuse", True))
        self.children = {}  # pid -> Child, live and taking tasks
        self.by_sock = {}  # socket fd -> Child
        self.retired = {}  # pid -> Child: leaving (own exit or killed), not reaped yet
        self.replenish_after = 0.0
        # persistent: run requests that came while every child was busy (the worker sends one
        # task beyond the children, so a child that answers gets its next task at once).
        self.waiting = []

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
            else:
                self.unqueue(request.get("id"), request.get("reason") or "kill")
        elif op == "ping":
            emit("pong", rss=self.rss_kb(), in_flight=len(self.tasks) + len(self.waiting), served=self.served,
                 children=sorted(self.children))
        elif op == "check_stale":
            emit("stale", changed=self.changed_files())
        elif op == "shutdown":
            self.accepting = False
            if not request.get("drain", True):
                for waiting in list(self.waiting):
                    self.unqueue(waiting.get("id"), "shutdown")
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
        if self.persistent:
            self.run_persistent(request)
            return
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
        if in_r is not None:
            os.close(in_r)
        self.register(Task(request, pid, out_r, err_r, self.config), in_w, payload)

    def register(self, task, in_w, payload):
        """Watches a started task's pipes (its ends are closed here) and writes its payload."""
        self.tasks[task.id] = task
        self.served += 1
        out_r, err_r = task.out_r, task.err_r
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            self.by_fd[fd] = task
            self.selector.register(fd, selectors.EVENT_READ, "out")
        if in_w is not None:
            os.set_blocking(in_w, False)
            task.payload_fd = in_w
            task.payload = memoryview(payload.encode("utf-8"))
            self.by_fd[in_w] = task
            self.write_payload(task)
            if task.payload_fd is not None:
                self.selector.register(in_w, selectors.EVENT_WRITE, "in")
        emit("started", id=task.id, pid=task.pid)

    # ---- persistent children -------------------------------------------------------------
    def unqueue(self, task_id, reason):
        """A waiting request that is stopped before any child took it: it never runs."""
        for index, waiting in enumerate(self.waiting):
            if waiting.get("id") == task_id:
                del self.waiting[index]
                emit("unstarted", id=task_id, reason=reason)
                return

    def dispatch_waiting(self):
        """Hands waiting requests to idle children (or to children forked for them)."""
        while self.waiting:
            if not any(c.task is None for c in self.children.values()) and len(self.children) >= self.children_target:
                return
            self.run_persistent(self.waiting.pop(0), queued=True)

    def run_persistent(self, request, queued=False):
        task_id = request.get("id")
        if not self.accepting and not queued:
            emit("rejected", id=task_id, message="the pool is shutting down", fatal=False)
            return
        if not queued and self.waiting:
            self.waiting.append(request)  # behind the ones already waiting
            return
        payload = request.get("payload")
        argv = [str(arg) for arg in request.get("argv") or []]
        for _ in range(3):  # a child that died while idle is found out here; take another
            child = next((c for c in self.children.values() if c.task is None), None)
            if child is None and len(self.children) >= self.children_target:
                # Every child is busy: the request waits for the first child that answers.
                self.waiting.append(request)
                return
            if child is None:
                if thread_count() > 1:
                    emit("rejected", id=task_id, fatal=True,
                         message="a background thread appeared in the pool process; forking is unsafe")
                    return
                try:
                    child = self.fork_child()
                except OSError as error:
                    emit("rejected", id=task_id, message="fork failed: %s" % error, fatal=False)
                    return
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
                send = [out_w, err_w] + ([in_r] if in_r is not None else [])
                message = {"argv": argv, "stdin": in_r is not None}
                data = json.dumps(message).encode()
                if len(data) > 32768:  # large argv (payload_mode json): in a memfd, not the socket
                    memfd = os.memfd_create("reproq-task-argv", 0)
                    fds.append(memfd)
                    os.write(memfd, data)
                    send.append(memfd)
                    data = json.dumps({"argv_fd": True, "stdin": in_r is not None}).encode()
                socket.send_fds(child.sock, [data], send)
            except OSError as error:
                for fd in fds:
                    os.close(fd)
                if isinstance(error, (BrokenPipeError, ConnectionError)):
                    self.retire_child(child, kill=True)
                    continue
                emit("rejected", id=task_id, message="could not start the task: %s" % error, fatal=False)
                return
            for fd in send:
                os.close(fd)
            task = Task(request, child.pid, out_r, err_r, self.config)
            task.child = child
            child.task = task
            child.served += 1
            self.register(task, in_w, payload)
            return
        emit("rejected", id=task_id, message="python pool children keep dying", fatal=False)

    def fork_child(self):
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        try:
            pid = os.fork()
        except OSError:
            parent_sock.close()
            child_sock.close()
            raise
        if pid == 0:
            parent_sock.close()
            code = 70
            try:
                self.become_child({child_sock.fileno()})
                code = child_loop(child_sock, self.module, self.python_bin, self.max_child_rss_kb, self.db_reuse)
            except BaseException:
                try:
                    import traceback
                    traceback.print_exc()
                except BaseException:
                    pass
            finally:
                os._exit(code)
        child_sock.close()
        parent_sock.setblocking(False)
        child = Child(pid, parent_sock)
        self.children[pid] = child
        self.by_sock[parent_sock.fileno()] = child
        self.selector.register(parent_sock.fileno(), selectors.EVENT_READ, "ctl")
        return child

    def read_control(self, fd):
        child = self.by_sock.get(fd)
        if child is None:
            return
        try:
            data = child.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close_sock(child)
            if child.task is None:
                self.retire_child(child, kill=True)  # died (or left) while idle
            return  # a busy child's death is seen by poll_children
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            return
        if answer.get("retire"):
            child.retiring = True
        if child.task is not None and child.task.reported is None:
            child.task.reported = answer

    def close_sock(self, child):
        if child.closed:
            return
        child.closed = True
        fd = child.sock.fileno()
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        self.by_sock.pop(fd, None)
        child.sock.close()

    def retire_child(self, child, kill=False):
        """No more tasks for this child: closing its socket makes it exit (atexit handlers run);
        kill=True SIGKILLs its group. Reaped by reap_retired."""
        self.children.pop(child.pid, None)
        if kill:
            try:
                os.killpg(child.pid, signal.SIGKILL)  # not reaped yet: the group is still ours
            except OSError:
                pass
        self.close_sock(child)
        self.retired[child.pid] = child

    def reap_retired(self):
        for pid in list(self.retired):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                del self.retired[pid]

    def replenish(self, now):
        """Keeps `children` warm children while the pool takes tasks."""
        if not self.accepting or not self.input_open or now < self.replenish_after:
            return
        while len(self.children) < self.children_target:
            if thread_count() > 1:
                return  # the next run reports it
            try:
                self.fork_child()
            except OSError:
                self.replenish_after = now + 1.0
                return

    # ---- the child ---------------------------------------------------------------------
    def become_child(self, keep):
        """In a freshly forked child: own session, dies with the pool, the interpreter's start-up
        signal dispositions, none of the pool's descriptors except `keep`."""
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
        owned = {PROTO_IN, PROTO_OUT, self.wake_r, self.wake_w}
        owned.update(self.by_fd.keys())
        owned.update(self.by_sock.keys())
        try:
            owned.add(self.selector.fileno())
        except Exception:
            pass
        for fd in owned - set(keep):
            if fd > 2:
                try:
                    os.close(fd)
                except OSError:
                    pass
        import random
        random.seed()

    def child(self, request, in_r, out_w, err_w, parent_ends):
        code = 70
        try:
            self.become_child(())
            stdin_fd = in_r if in_r is not None else os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin_fd, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in {stdin_fd, out_w, err_w} | {fd for fd in parent_ends if fd is not None}:
                if fd > 2:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            argv = [str(arg) for arg in request.get("argv") or []]
            set_title([self.python_bin, "-m", self.module] + argv)
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
        if task.exited or task.kill_reason is not None or task.reported is not None:
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
        child_signal, self.child_signal = self.child_signal, False
        for task in list(self.tasks.values()):
            if not task.exited:
                if task.reported is not None:
                    info = True  # a persistent child answered: the task has ended
                elif task.child is not None and not task.child.closed and not child_signal:
                    # A persistent child that exits closes its control socket or sends SIGCHLD
                    # (or both): until one of them, it is running its task. Saves a waitid per
                    # task per loop turn.
                    info = None
                else:
                    try:
                        # WNOWAIT: notice the exit but leave the zombie, so the group stays ours.
                        info = os.waitid(os.P_PID, task.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                    except ChildProcessError:
                        info = True
                    if info is not None and task.child is not None and not task.child.closed:
                        # A persistent child answers before it exits: an answer still unread
                        # in its socket is the task's result, not the child's exit status.
                        self.read_control(task.child.sock.fileno())
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
        if self.waiting:
            self.dispatch_waiting()

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
        child = task.child
        if child is not None and task.reported is not None:
            # A persistent child answered; it lives on unless the task was stopped or left
            # processes holding its pipes (their group, the child's, was killed just now).
            status = (int(task.reported.get("code") or 0) & 0xFF) << 8
            maxrss = int(task.reported.get("maxrss_kb") or 0)
            child.task = None
            stopped = task.pipes_held_open or task.kill_reason is not None
            if stopped or child.retiring or child.closed or (
                    self.max_tasks_per_child and child.served >= self.max_tasks_per_child):
                self.retire_child(child, kill=stopped)
        else:
            try:
                _, status, usage = os.wait4(task.pid, 0)
                maxrss = usage.ru_maxrss
            except ChildProcessError:
                status, maxrss = 0, 0
            if child is not None:  # a persistent child that died running the task (reaped now)
                child.task = None
                self.children.pop(child.pid, None)
                self.close_sock(child)
                if child.served <= 1:
                    self.replenish_after = time.monotonic() + 0.2
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
        self.waiting.clear()  # the worker is gone: nobody to tell
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
        for child in list(self.children.values()):
            self.retire_child(child, kill=True)
        for pid in list(self.retired):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.retired.clear()

    def retire_all(self, timeout_s):
        """Idle persistent children exit (their atexit handlers run); SIGKILL after timeout_s."""
        for child in list(self.children.values()):
            self.retire_child(child)
        deadline = time.monotonic() + timeout_s
        while self.retired and time.monotonic() < deadline:
            self.reap_retired()
            if self.retired:
                time.sleep(0.01)
        for pid in list(self.retired):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.retired.clear()

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
            if not self.accepting and not self.tasks and not self.waiting:
                self.retire_all(2.0)
                return 0
            if self.persistent:
                self.reap_retired()
                self.replenish(now)
                if self.waiting:
                    self.dispatch_waiting()
            timeout = self.next_timeout(time.monotonic())
            if self.persistent and self.replenish_after > now and len(self.children) < self.children_target:
                wait = self.replenish_after - now
                timeout = wait if timeout is None else min(timeout, wait)
            for key, events in self.selector.select(timeout):
                kind = key.data
                if kind == "proto":
                    self.read_requests()
                elif kind == "wake":
                    try:
                        while True:
                            signums = os.read(self.wake_r, 4096)
                            if not signums:
                                break
                            if signal.SIGCHLD in signums:
                                self.child_signal = True
                    except (BlockingIOError, InterruptedError):
                        pass
                elif kind == "out":
                    self.read_output(key.fd)
                elif kind == "ctl":
                    self.read_control(key.fd)
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
    code, interrupted = run_module(module, argv)
    return finalize(code, interrupted)


def run_module(module, argv, code_cache=None):
    """Runs the module as `python -m` does, up to the end of its code: (exit code, interrupted).
    A persistent child passes `code_cache` (a dict): the module is found and compiled once, then
    its code object runs in a fresh __main__ for every task (the pool is replaced when the file
    changes, see check_stale)."""
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
        details = code_cache.get(module) if code_cache is not None else None
        if details is None and code_cache is not None and hasattr(runpy, "_run_code") and hasattr(runpy, "_Error"):
            try:
                details = code_cache[module] = runpy._get_module_details(module, runpy._Error)
            except Exception:
                details = None  # run() below reports it as `python -m` would
        if details is not None:
            # What runpy._run_module_as_main does after finding the module.
            _, spec, code = details
            sys.argv[0] = spec.origin
            runpy._run_code(code, main.__dict__, None, "__main__", spec)
        elif run is not None:
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
    return code, interrupted


def flush_stdio(code, streams=()):
    """Flushes sys.stdout/sys.stderr (and `streams`) as interpreter shutdown does: a stdout that
    cannot be flushed gives exit code 120."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BaseException:
        code = 120
    for stream in (sys.stderr,) + tuple(streams):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            pass
    return code


def finalize(code, interrupted, streams=()):
    """What interpreter shutdown does: join non-daemon threads, run atexit, flush stdio; a
    KeyboardInterrupt ends the process by SIGINT. Returns the exit code."""
    import atexit
    try:
        import threading
        threading._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    code = flush_stdio(code, streams)
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    return code


# ---- persistent children ------------------------------------------------------------------
def fresh_stdio():
    """New sys.stdin/stdout/stderr on fds 0/1/2, built as the interpreter builds them at start-up
    (nothing buffered from an earlier task). Returns them."""
    (in_enc, in_err), (out_enc, out_err), (err_enc, _) = STDIO_PARAMS
    streams = (open(0, "r", closefd=False, encoding=in_enc, errors=in_err),
               open(1, "w", closefd=False, encoding=out_enc, errors=out_err),
               open(2, "w", buffering=1, closefd=False, encoding=err_enc, errors="backslashreplace"))
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    return streams


def task_stdio(streams):
    """The standard streams for the next task. stdin is always new (fd 0 is the task's own pipe
    or /dev/null, and an old wrapper may hold read-ahead bytes); stdout and stderr are kept when
    the last task left them as fresh_stdio built them (flushed, open, in place, not reconfigured),
    which saves building two wrappers per task; otherwise all three are rebuilt."""
    if not stdio_intact(streams):
        return fresh_stdio()
    in_enc, in_err = STDIO_PARAMS[0]
    stdin = open(0, "r", closefd=False, encoding=in_enc, errors=in_err)
    sys.stdin = sys.__stdin__ = stdin
    return (stdin,) + tuple(streams[1:])


def stdio_intact(streams):
    """True when sys.stdout/sys.stderr are still the given fresh_stdio wrappers, open and
    configured as built."""
    if not streams:
        return False
    (_, (out_enc, out_err), (err_enc, _)) = STDIO_PARAMS
    out, err = streams[1], streams[2]
    if not (sys.stdout is out and sys.__stdout__ is out and sys.stderr is err and sys.__stderr__ is err):
        return False
    try:
        return (not out.closed and not err.closed
                and out.encoding == out_enc and out.errors == out_err and not out.line_buffering
                and err.encoding == err_enc and err.errors == "backslashreplace" and err.line_buffering
                and not out.write_through and not err.write_through
                and out.buffer.raw.fileno() == 1 and err.buffer.raw.fileno() == 2)
    except (ValueError, AttributeError):  # detached or closed underneath
        return False


def rss_kb():
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


try:
    import _signal as RAW_SIGNAL  # CPython: the signal module's C half, without the enum wrapping
except ImportError:  # pragma: no cover
    RAW_SIGNAL = signal


class Baseline:
    """Process state a task may change, as it was before the first task; restored after each."""

    def __init__(self):
        self.environ = dict(os.environ)
        # os.environ's encoded mapping (CPython): comparing it is a plain dict comparison, where
        # dict(os.environ) decodes every key and value (most of restore()'s cost per task).
        data = getattr(os.environ, "_data", None)
        self.environ_data = dict(data) if isinstance(data, dict) else None
        self.cwd = os.getcwd()
        self.path = list(sys.path)
        self.argv = list(sys.argv)
        self.main = sys.modules.get("__main__")
        self.excepthook = sys.excepthook
        self.handlers = {}
        for signum in signal.valid_signals():
            if signum in (signal.SIGKILL, signal.SIGSTOP):
                continue
            try:
                handler = RAW_SIGNAL.getsignal(int(signum))
            except (ValueError, OSError):
                continue
            if handler is not None:
                self.handlers[int(signum)] = handler

    def restore(self):
        # The raw getsignal: signal.getsignal wraps each answer in an enum, which was most of
        # this check's cost (~60 signals per task).
        getsignal = RAW_SIGNAL.getsignal
        for signum, handler in self.handlers.items():
            if getsignal(signum) is not handler:
                try:
                    signal.signal(signum, handler)
                except (ValueError, OSError):
                    pass
        if signal.getitimer(signal.ITIMER_REAL)[0]:
            signal.setitimer(signal.ITIMER_REAL, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        data = getattr(os.environ, "_data", None)
        same = data == self.environ_data if self.environ_data is not None else dict(os.environ) == self.environ
        if not same:
            for key in [key for key in os.environ if key not in self.environ]:
                del os.environ[key]
            for key, value in self.environ.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
        try:
            changed = os.getcwd() != self.cwd
        except OSError:
            changed = True  # it was deleted
        if changed:
            os.chdir(self.cwd)
        if sys.path != self.path:
            sys.path[:] = self.path
        sys.argv = list(self.argv)
        sys.modules["__main__"] = self.main
        sys.excepthook = self.excepthook


def django_connections(close_caches, reuse):
    """What Django does around a request (close_old_connections, reset_queries, close_caches):
    connections that are broken, in a transaction-mode mismatch or past CONN_MAX_AGE are closed,
    the others kept. With `reuse`, a connection of an alias with CONN_MAX_AGE = 0 (Django's
    default: close after every request) counts as having no age limit, so the child keeps it
    while it stays healthy, as a worker process keeps its connection (Celery's DB_REUSE_MAX).
    Returns False when a connection is still inside an atomic block (the child is then replaced)."""
    clean = True
    db = sys.modules.get("django.db")
    if db is not None:
        try:
            try:
                connections = db.connections.all(initialized_only=True)
            except TypeError:  # Django < 4.1
                connections = db.connections.all()
            for connection in connections:
                connection.queries_log.clear()
                if connection.in_atomic_block:
                    clean = False
                    continue
                if reuse and connection.settings_dict.get("CONN_MAX_AGE") == 0:
                    connection.close_at = None
                connection.close_if_unusable_or_obsolete()
        except Exception:
            clean = False
    cache = sys.modules.get("django.core.cache") if close_caches else None
    if cache is not None:
        try:
            try:
                caches = cache.caches.all(initialized_only=True)
            except TypeError:
                caches = cache.caches.all()
            for item in caches:
                item.close()
        except Exception:
            pass
    return clean


def setup_once_per_child():
    """In a persistent child, django.setup() (the executor calls it for every task) configures
    logging on its first call in the child only, as a Django web or Celery worker process does once
    at start-up: re-applying LOGGING (dictConfig of Django's defaults, then the project's) cost
    ~0.2-0.4 ms per no-op task, a fifth of the child's work. The first call still runs in full, so
    each child gets its own handlers rather than the pool's inherited ones; the script prefix is
    set and the app registry populated on every call, as before. Returns False without Django."""
    django = sys.modules.get("django")
    if django is None or not callable(getattr(django, "setup", None)):
        return False
    full_setup = django.setup
    done = []

    def setup(set_prefix=True):
        if not done:
            full_setup(set_prefix)
            done.append(True)
            return
        from django.apps import apps
        from django.conf import settings
        if set_prefix:
            from django.urls import set_script_prefix
            set_script_prefix("/" if settings.FORCE_SCRIPT_NAME is None else settings.FORCE_SCRIPT_NAME)
        apps.populate(settings.INSTALLED_APPS)

    setup.__doc__ = full_setup.__doc__
    setup.__wrapped__ = full_setup
    django.setup = setup
    return True


def memoize_gettext_find():
    """In a persistent child, gettext.find answers from a memo keyed by its arguments and the
    locale variables it reads (LANGUAGE, LC_ALL, LC_MESSAGES, LANG). argparse, which the executor
    runs for every task, translates its built-in messages through gettext, and each lookup stats
    the message-catalog paths of every candidate language: ~5-9% of a no-op task's child CPU. A
    catalog installed while the child runs is seen by the next child (children are recycled with
    pool_max_tasks, and the pool is replaced when loaded files change)."""
    import gettext
    find = getattr(gettext, "find", None)
    if find is None or getattr(find, "__wrapped__", None) is not None:
        return False
    memo = {}

    def memoized(domain, localedir=None, languages=None, all=False):
        environ = os.environ
        key = (domain, localedir, tuple(languages) if languages is not None else None, bool(all),
               environ.get("LANGUAGE"), environ.get("LC_ALL"), environ.get("LC_MESSAGES"), environ.get("LANG"))
        try:
            found = memo[key]
        except KeyError:
            found = memo[key] = find(domain, localedir, languages, all)
            if len(memo) > 256:  # unbounded keys only with changing environments: keep it small
                memo.clear()
        except TypeError:  # unhashable arguments: ask the real function
            return find(domain, localedir, languages, all)
        return list(found) if isinstance(found, list) else found

    memoized.__doc__ = find.__doc__
    memoized.__wrapped__ = find
    gettext.find = memoized
    return True


def receive_task(sock):
    """The next request and its fds; None when the pool closed the socket (time to exit)."""
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
            break
        except InterruptedError:
            continue
        except OSError:
            return None
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    request = json.loads(data)
    if request.get("argv_fd"):
        memfd = fds.pop()
        chunks = []
        offset = 0
        while True:
            chunk = os.pread(memfd, 1 << 20, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        os.close(memfd)
        request.update(json.loads(b"".join(chunks)))
    return request, fds


def child_loop(sock, module, python_bin, max_rss_kb, db_reuse):
    """A persistent child: runs tasks until the pool closes the socket or it retires; returns
    the exit code."""
    devnull = os.open(os.devnull, os.O_RDWR)
    home = os.dup(2)  # the pool's stderr: fds 1 and 2 between tasks
    os.set_inheritable(devnull, False)
    os.set_inheritable(home, False)
    os.dup2(devnull, 0)
    os.dup2(home, 1)
    streams = fresh_stdio()
    setup_once_per_child()
    memoize_gettext_find()
    baseline = Baseline()
    code_cache = {}
    idle_title = [python_bin, "-m", module, "(reproq python-pool child, idle)"]
    set_title(idle_title)
    code = 0
    while True:
        received = receive_task(sock)
        if received is None:
            break
        request, fds = received
        out_w, err_w = fds[0], fds[1]
        in_r = fds[2] if request.get("stdin") and len(fds) > 2 else None
        os.dup2(in_r if in_r is not None else devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in fds:
            os.close(fd)
        streams = task_stdio(streams)
        clean = django_connections(False, db_reuse)  # Django's request_started: drop broken/aged connections
        argv = [str(arg) for arg in request.get("argv") or []]
        set_title([python_bin, "-m", module] + argv)
        code, interrupted = run_module(module, argv, code_cache)
        try:
            # Threads left behind, or Ctrl-C: end like a fresh process would (join threads, atexit,
            # SIGINT) and let the pool fork a replacement.
            retire = interrupted or thread_count() > 1
            if retire:
                code = finalize(code, interrupted, streams[1:])
            else:
                code = flush_stdio(code, streams[1:])
            os.dup2(devnull, 0)
            os.dup2(home, 1)
            os.dup2(home, 2)  # the task's pipes are closed now: the pool sees their end
            if not stdio_intact(streams):
                streams = fresh_stdio()
            try:
                baseline.restore()
            except Exception:
                retire = True
            if max_rss_kb and rss_kb() > max_rss_kb:
                retire = True
            if not clean or not django_connections(True, db_reuse):  # Django's request_finished
                retire = True
            answer = {"code": code, "retire": retire,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
            try:
                sock.send(json.dumps(answer).encode())
            except OSError:
                os._exit(code)  # the pool reads the code from the exit status
        except BaseException:
            # The task broke what the child needs to carry on (closed its descriptors, a signal
            # handler raised after the module ended…): end with the task's code, which the pool
            # reads from the exit status.
            os._exit(code & 0xFF)
        if retire:
            break
        set_title(idle_title)
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    flush_stdio(0)
    return 0


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
