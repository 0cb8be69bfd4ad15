// The worker's /healthz and /metrics as a scraper and an operator see them: the compiled binary,
// real HTTP on 127.0.0.1, a real database, real executor processes. Covers the Go worker's HTTP
// scenarios (auth, limiter, allow-list, JWT) and every reproq_* series.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SignJWT } from "jose";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { freePort } from "../helpers/net.ts";
import { parsePrometheusText, sampleValue, type Family } from "../helpers/prom.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test`

const TOKEN = "s3cret-metrics-token";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "http_metrics" });
});
afterAll(async () => {
  await db.drop();
});

async function startServing(extra: string[], env: Record<string, string> = {}): Promise<{ worker: WorkerProcess; base: string }> {
  const port = await freePort();
  const worker = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, ...extra], env);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => worker.logs.some((line) => line.msg === "Serving health and metrics"), { what: "the HTTP server", timeoutMs: 20_000 });
  return { worker, base };
}

const bearer = (credential: string) => ({ headers: { Authorization: `Bearer ${credential}` } });

function base64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString("base64url");
}

async function djangoToken(claims: Record<string, unknown>, secret = TOKEN): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: "1", username: "admin", superuser: true, iat: now, exp: now + 300, iss: "reproq-django", aud: "reproq-tui", jti: "0123456789abcdef", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

describe("auth on a worker with a token", () => {
  let served: { worker: WorkerProcess; base: string };
  beforeAll(async () => {
    served = await startServing(["--metrics-auth-token", TOKEN, "--metrics-auth-limit", "1000"]);
  });
  afterAll(async () => {
    expect(await stopWorker(served.worker)).toBe(0);
  });

  test("a request without Authorization gets 401 [auth-missing]", async () => {
    const response = await fetch(`${served.base}/healthz`);
    expect(response.status).toBe(401);
    expect(await response.text()).toBe("unauthorized\n");
    expect(response.headers.get("www-authenticate")).toBeNull();
  });

  test("Bearer <token> is authorised on every endpoint [auth-ok]", async () => {
    for (const path of ["/healthz", "/metrics"]) expect((await fetch(`${served.base}${path}`, bearer(TOKEN))).status).toBe(200);
    expect((await fetch(`${served.base}/metrics`, { headers: { Authorization: `bearer   ${TOKEN}  ` } })).status).toBe(200);
    expect((await fetch(`${served.base}/metrics`, bearer(`${TOKEN}x`))).status).toBe(401);
  });

  test("a Django-issued HS256 JWT signed with the token is authorised [auth-jwt]", async () => {
    const token = await djangoToken({});
    expect((await fetch(`${served.base}/healthz`, bearer(token))).status).toBe(200);
    expect((await fetch(`${served.base}/metrics`, bearer(await djangoToken({ aud: ["other", "reproq-worker"] })))).status).toBe(200);
  });

  test("tampered, wrong aud, expired, missing exp, superuser false, wrong iss and alg none are rejected", async () => {
    const good = await djangoToken({});
    const [header, payload, signature] = good.split(".") as [string, string, string];
    const tamperedPayload = base64url(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "2" }));
    const flipped = signature.slice(0, -2) + (signature.endsWith("AA") ? "BB" : "AA");
    const now = Math.floor(Date.now() / 1000);
    const noneHeader = base64url(JSON.stringify({ alg: "none", typ: "JWT" }));
    const rejected: Record<string, string> = {
      "tampered payload": `${header}.${tamperedPayload}.${signature}`,
      "tampered signature": `${header}.${payload}.${flipped}`,
      "wrong aud": await djangoToken({ aud: "reproq-admin" }),
      expired: await djangoToken({ exp: now - 3600 }),
      "missing exp": await djangoToken({ exp: undefined }),
      "superuser false": await djangoToken({ superuser: false }),
      "superuser truthy string": await djangoToken({ superuser: "yes" }),
      "wrong iss": await djangoToken({ iss: "someone-else" }),
      "alg none": `${noneHeader}.${payload}.`,
      "signed with another secret": await djangoToken({}, "not-the-token"),
    };
    const statuses: Record<string, number> = {};
    for (const [name, token] of Object.entries(rejected)) statuses[name] = (await fetch(`${served.base}/healthz`, bearer(token))).status;
    expect(statuses).toEqual(Object.fromEntries(Object.keys(rejected).map((name) => [name, 401])));
  });

  test("routing: exact paths, 404 elsewhere, 405 for other methods (before auth), HEAD without a body", async () => {
    for (const path of ["/", "/healthz/", "/metrics/x", "/nope"]) {
      const response = await fetch(`${served.base}${path}`, bearer(TOKEN));
      expect(response.status).toBe(404);
      expect(await response.text()).toBe("404 page not found\n");
    }
    const post = await fetch(`${served.base}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    const head = await fetch(`${served.base}/healthz`, { method: "HEAD", ...bearer(TOKEN) });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const headMetrics = await fetch(`${served.base}/metrics`, { method: "HEAD", ...bearer(TOKEN) });
    expect(headMetrics.status).toBe(200);
    expect(headMetrics.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  });

  test("/healthz?verbose=1 reports the database and the worker loop", async () => {
    const response = await fetch(`${served.base}/healthz?verbose=1`, bearer(TOKEN));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ok", database: { ok: true }, worker_loop: { ok: true }, running: 0, concurrency: 10 });
    expect(typeof (body.database as { latency_ms: unknown }).latency_ms).toBe("number");
    expect(JSON.stringify(body)).not.toContain(db.dsn);
  });
});

describe("open endpoints, the limiter and the allow-list", () => {
  test("with no token any request is authorised [auth-open]", async () => {
    const { worker, base } = await startServing([]);
    try {
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("ok");
      // Listening on loopback only: no exposure warning.
      expect(worker.logs.some((line) => String(line.msg).startsWith("Metrics endpoint has no auth"))).toBe(false);
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
  });

  test("limit 1 per window: the first unauthorized request gets 401, the next 429 [auth-ratelimit]", async () => {
    const { worker, base } = await startServing(["--metrics-auth-token", TOKEN, "--metrics-auth-limit", "1", "--metrics-auth-window", "1m"]);
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(401);
      const limited = await fetch(`${base}/metrics`);
      expect(limited.status).toBe(429);
      expect(await limited.text()).toBe("rate limited\n");
      // The right token still works: only unauthorized attempts are limited.
      expect((await fetch(`${base}/healthz`, bearer(TOKEN))).status).toBe(200);
      const denials = worker.logs.filter((line) => line.msg === "Unauthorized request");
      expect(denials.map((line) => line.rate_limited)).toEqual([false, true]);
      expect(JSON.stringify(worker.logs)).not.toContain(TOKEN);
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
  });

  test("an allow-list that excludes the client gets 403, then 429 past the limit [auth-allowlist]", async () => {
    const { worker, base } = await startServing(["--metrics-allow-cidrs", "192.0.2.0/24", "--metrics-auth-limit", "2"]);
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(403);
      expect((await fetch(`${base}/healthz`)).status).toBe(403);
      expect((await fetch(`${base}/healthz`)).status).toBe(429);
      expect(worker.logs.filter((line) => line.msg === "Denied request").every((line) => line.reason === "allowlist" && line.remote_host === "127.0.0.1")).toBe(true);
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
    const allowed = await startServing(["--metrics-allow-cidrs", "192.0.2.0/24, localhost"]);
    try {
      expect((await fetch(`${allowed.base}/healthz`)).status).toBe(200);
    } finally {
      expect(await stopWorker(allowed.worker)).toBe(0);
    }
  });

  test("a bad allow-list entry or address is a usage error naming it (exit 2)", async () => {
    const port = await freePort();
    const bad = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, "--metrics-allow-cidrs", "not-a-cidr"]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('invalid metrics allowlist address "not-a-cidr"');
    const badAddr = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", "localhost"]);
    expect(await badAddr.exited).toBe(2);
    expect(badAddr.stderr()).toContain("metrics.addr must be host:port");
  });
});

describe("/metrics after running tasks", () => {
  let families: Map<string, Family>;
  const SUCCEEDED = 5;

  beforeAll(async () => {
    await enqueue(db.sql, [
      ...Array.from({ length: SUCCEEDED }, () => ({ kwargs: { mode: "success" } })),
      { kwargs: { mode: "raise", message: "boom" }, maxAttempts: 1 },
      { kwargs: { mode: "success" }, queue: "emails" },
    ]);
    const { worker, base } = await startServing(["--queues", "default,emails", "--metrics-collect-interval", "200ms"]);
    try {
      await waitFor(async () => {
        const counts = await statusCounts(db.sql);
        return !counts.READY && !counts.RUNNING;
      }, { what: "tasks to finish" });
      // One more collector round after the last task, so the database-wide gauges are current.
      await Bun.sleep(600);
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      families = parsePrometheusText(await response.text());
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
  });

  test("every reproq_* series exists with the Go worker's name and type", () => {
    const expected: Record<string, string> = {
      reproq_tasks_processed_total: "counter",
      reproq_tasks_claimed_total: "counter",
      reproq_tasks_completed_total: "counter",
      reproq_claim_duration_seconds: "histogram",
      reproq_exec_duration_seconds: "histogram",
      reproq_queue_wait_duration_seconds: "histogram",
      reproq_db_operation_duration_seconds: "histogram",
      reproq_worker_cpu_usage_percent: "gauge",
      reproq_worker_mem_usage_bytes: "gauge",
      reproq_db_pool_connections_in_use: "gauge",
      reproq_db_pool_wait_count_total: "counter",
      reproq_queue_depth: "gauge",
      reproq_tasks_running: "gauge",
      reproq_concurrency_in_use: "gauge",
      reproq_workers: "gauge",
      reproq_concurrency_limit: "gauge",
      reproq_queues_paused: "gauge",
      reproq_concurrency_blocked_tasks: "gauge",
    };
    // Beyond the Go worker: the database's hazards and cost per task (docs/observability.md).
    const hazards: Record<string, string> = {
      reproq_db_xmin_horizon_age_seconds: "gauge",
      reproq_db_xmin_horizon_age_xids: "gauge",
      reproq_db_xmin_horizon_holder_info: "gauge",
      reproq_task_runs_dead_tuples: "gauge",
      reproq_task_runs_live_tuples: "gauge",
      reproq_task_runs_last_vacuum_age_seconds: "gauge",
      reproq_task_runs_lock_waiters: "gauge",
      reproq_task_runs_lock_wait_seconds: "gauge",
      reproq_db_hazards_collect_success: "gauge",
      reproq_worker_db_operations_per_task: "gauge",
      reproq_database_role_statements_per_task: "gauge",
      reproq_database_commits_per_task: "gauge",
      reproq_database_wal_bytes_per_task: "gauge",
    };
    const found = Object.fromEntries([...families.values()].filter((f) => f.name.startsWith("reproq_")).map((f) => [f.name, f.type]));
    expect(found).toEqual({ ...expected, ...hazards });
    for (const name of Object.keys(expected)) expect(families.get(name)?.samples.length ?? 0).toBeGreaterThan(0);
    // prom-client's process metrics stand in for the Go runtime's.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"]) {
      expect(families.has(name)).toBe(true);
    }
  });

  test("task counters equal the tasks run, with the Go label sets", () => {
    expect(sampleValue(families, "reproq_tasks_claimed_total", { queue: "default" })).toBe(SUCCEEDED + 1);
    expect(sampleValue(families, "reproq_tasks_claimed_total", { queue: "emails" })).toBe(1);
    expect(sampleValue(families, "reproq_tasks_processed_total", { status: "success", queue: "default" })).toBe(SUCCEEDED);
    expect(sampleValue(families, "reproq_tasks_processed_total", { status: "failure", queue: "default" })).toBe(1);
    expect(sampleValue(families, "reproq_tasks_completed_total", { queue: "default", status: "success" })).toBe(SUCCEEDED);
    expect(sampleValue(families, "reproq_tasks_completed_total", { queue: "emails", status: "success" })).toBe(1);
    for (const family of ["reproq_tasks_processed_total", "reproq_tasks_completed_total"]) {
      for (const sample of families.get(family)?.samples ?? []) expect(Object.keys(sample.labels).sort()).toEqual(["queue", "status"]);
    }
    expect(sampleValue(families, "reproq_exec_duration_seconds_count", { queue: "default" })).toBe(SUCCEEDED + 1);
    expect(sampleValue(families, "reproq_queue_wait_duration_seconds_count", { queue: "default" })).toBe(SUCCEEDED + 1);
    expect(sampleValue(families, "reproq_db_pool_wait_count_total")).toBeGreaterThanOrEqual(0);
  });

  test("histograms have the Go buckets", () => {
    const buckets = (name: string, labels: Record<string, string>) =>
      (families.get(name)?.samples ?? [])
        .filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .map((s) => s.labels.le);
    const defaults = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    expect(buckets("reproq_exec_duration_seconds", { queue: "default" })).toEqual(defaults);
    expect(buckets("reproq_claim_duration_seconds", { queue: "default,emails" })).toEqual(defaults);
    expect(buckets("reproq_queue_wait_duration_seconds", { queue: "default" })).toEqual(["1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "+Inf"]);
    const operations = new Set((families.get("reproq_db_operation_duration_seconds")?.samples ?? []).map((s) => s.labels.operation));
    for (const operation of ["claim", "complete_success", "complete_failure", "reclaim"]) expect(operations.has(operation)).toBe(true);
  });

  test("gauges: this process and the database-wide counts", () => {
    expect(sampleValue(families, "reproq_worker_mem_usage_bytes")).toBeGreaterThan(1_000_000);
    expect(sampleValue(families, "reproq_worker_cpu_usage_percent")).toBeGreaterThan(0);
    expect(sampleValue(families, "reproq_workers")).toBe(1);
    expect(sampleValue(families, "reproq_concurrency_limit")).toBe(10);
    expect(sampleValue(families, "reproq_queue_depth")).toBe(0);
    expect(sampleValue(families, "reproq_tasks_running")).toBe(0);
    expect(sampleValue(families, "reproq_concurrency_in_use")).toBe(0);
    expect(sampleValue(families, "reproq_queues_paused")).toBe(0);
    expect(sampleValue(families, "reproq_concurrency_blocked_tasks")).toBe(0);
    expect(sampleValue(families, "reproq_db_pool_connections_in_use")).toBeGreaterThanOrEqual(0);
  });
});
