# The most one persistent python-pool child can do per second: the unmodified
# reproq_django.executor run in a loop inside one warm process with a kept database connection,
# no worker, pool or pipes. Prints CPU and wall time per no-op task and the tasks/s that makes.
#
# Needs a Django project with reproq_django installed and a task_runs table; the djbench
# harness (../shared/djbench, after its setup.sh) provides both:
#   DJB_PROJECT=$DJB_HOME/project $DJB_HOME/venv/bin/python scripts/bench/executor-ceiling.py
# Options (env): N (1000 tasks per round), ROUNDS (3), TASK (benchapp.tasks.noop),
# DJANGO_SETTINGS_MODULE (djb.settings).
import io
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.environ["DJB_PROJECT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djb.settings")
os.environ.setdefault("DJB_SYSTEM", "reproq")

import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from reproq_django import executor  # noqa: E402

# A real row, so the executor's metadata SELECT finds it and its UPDATE writes it.
with connection.cursor() as cursor:
    cursor.execute("select result_id from task_runs order by result_id desc limit 1")
    row = cursor.fetchone()
if row is None:
    sys.exit("task_runs is empty: run a djbench burn-down first (the executor reads and writes one row)")
result_id = str(row[0])
spec = json.dumps({"task_path": os.environ.get("TASK", "benchapp.tasks.noop"), "args": [1], "kwargs": {}, "queue_name": "default"})
N = int(os.environ.get("N", "1000"))


def run_once() -> str:
    """One task through the executor as a persistent child runs it: argv, stdin, stdout, SystemExit."""
    sys.argv = ["reproq_django.executor", "--payload-stdin", "--result-id", result_id, "--attempt", "1"]
    sys.stdin = io.StringIO(spec)
    captured = io.StringIO()
    real_stdout = sys.stdout
    sys.stdout = captured
    try:
        executor.execute()
    except SystemExit:
        pass
    finally:
        sys.stdout = real_stdout
    return captured.getvalue().strip()


envelope = run_once()
if '"ok": true' not in envelope:
    sys.exit(f"the executor did not succeed: {envelope[:200]}")
for round_no in range(int(os.environ.get("ROUNDS", "3"))):
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for _ in range(N):
        run_once()
    wall_ms = (time.perf_counter() - started) / N * 1000
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / N * 1000
    print(f"round {round_no + 1}: {cpu_ms:.2f} ms CPU, {wall_ms:.2f} ms wall per task -> {1000 / wall_ms:.0f} tasks/s (one child, nothing else)", flush=True)
