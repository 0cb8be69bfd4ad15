// `reproq top` as a user runs it: the compiled binary in a real terminal (tmux), against a seeded
// database reached through a TCP proxy the test can cut. Retry a failed task and pause/resume a
// queue through the confirmation dialogs (checked in the database), see "down" and recovery when
// the connection is cut and restored, refuse actions with --read-only, and quit back to the shell.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { cleanEnv, ensureBinary } from "../helpers/binary.ts";
import { baseConnection, buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { describeWithTools } from "../helpers/tools.ts";

setDefaultTimeout(60_000);

const TMUX = Bun.which("tmux");
// A tmux server of our own (not the user's), kept up by an idle session: when the last session is
// killed the server exits, and a new-session racing with that exit fails at once ("server exited
// unexpectedly").
const SOCKET = `reproq-e2e-${process.pid}`;
const PROMPT = "e2e-shell$";

let db: TestDatabase;
let seed: SeedInfo;
let proxy: TcpProxy;
let dsn: string;

function tmux(...args: string[]): string {
  const run = Bun.spawnSync([TMUX!, "-L", SOCKET, "-f", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

class Terminal {
  constructor(readonly name: string) {}
  static open(): Terminal {
    const name = `reproq-top-${crypto.randomUUID().slice(0, 8)}`;
    // The binary must not see the test runner's DATABASE_URL/REPROQ_*: the shell starts from a clean env.
    // CI=true always: CI systems set it, and top must still render live there (Ink would
    // otherwise write only the final frame).
    const env = cleanEnv({ TERM: "xterm-256color", CI: "true" });
    const exports = Object.entries(env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "40", `exec env -i ${exports} PS1='${PROMPT} ' bash --norc --noprofile`);
    return new Terminal(name);
  }
  keys(...keys: string[]): void {
    for (const key of keys) tmux("send-keys", "-t", this.name, key);
  }
  type(text: string): void {
    tmux("send-keys", "-t", this.name, "-l", text);
  }
  screen(): string {
    return tmux("capture-pane", "-p", "-t", this.name);
  }
  async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const screen = this.screen();
      if (predicate(screen)) return screen;
      await Bun.sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; screen:\n${this.screen()}`);
  }
  close(): void {
    Bun.spawnSync([TMUX!, "-L", SOCKET, "kill-session", "-t", this.name]);
  }
}

async function statusOf(id: string): Promise<string> {
  const [row] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${id}`;
  return row!.status;
}

async function startTop(extra = ""): Promise<Terminal> {
  const term = Terminal.open();
  await term.waitFor((s) => s.includes(PROMPT), "the shell prompt");
  term.type(`${ensureBinary()} top --dsn '${dsn}' --refresh 500ms ${extra}`);
  term.keys("Enter");
  await term.waitFor((s) => s.includes("● OK") && s.includes("reports"), "the overview");
  return term;
}

describeWithTools(["tmux"], "reproq top in tmux (compiled binary)", () => {
  beforeAll(async () => {
    tmux("new-session", "-d", "-s", "keepalive", "sleep 86400");
    ensureBinary();
    db = await createTestDatabase({ flavour: "reproq" });
    seed = await seedDashboard(db.sql);
    const base = await baseConnection();
    proxy = await startTcpProxy({ host: base.host, port: base.port });
    dsn = buildDsn({ ...base, host: "127.0.0.1", port: proxy.port, database: db.name, sslmode: "disable" });
  });

  afterAll(async () => {
    Bun.spawnSync([TMUX!, "-L", SOCKET, "kill-server"]);
    await proxy?.close();
    await db?.drop();
  });

  test("retry a failed task, pause and resume a queue, survive a cut connection, quit to the shell", async () => {
    const term = await startTop();
    // Failures → the group's tasks → detail of the first failed task.
    term.keys("4");
    await term.waitFor((s) => s.includes("8 FAILED in 4 groups"), "the failures view");
    term.keys("Enter");
    const list = await term.waitFor((s) => /› (\d+)\s+FAILED/.test(s), "the failed tasks of the group");
    const id = /› (\d+)\s+FAILED/.exec(list)![1]!;
    term.keys("Enter");
    await term.waitFor((s) => s.includes(`Task ${id}`) && s.includes("Status        FAILED"), "the task detail");
    term.keys("R");
    const dialog = await term.waitFor((s) => s.includes("rows affected: 1"), "the retry confirmation");
    expect(dialog).toContain(`Retry task ${id}`);
    expect(await statusOf(id)).toBe("FAILED");
    term.keys("y");
    await term.waitFor((s) => s.includes("retried 1"), "the retry result");
    expect(await statusOf(id)).toBe("READY");
    await term.waitFor((s) => s.includes("Status        READY"), "the refreshed detail");

    // Queues → emails → pause with a reason, then resume.
    term.keys("2", "j", "p");
    await term.waitFor((s) => s.includes("pause queue emails"), "the reason prompt");
    term.type("e2e maintenance");
    term.keys("Enter");
    await term.waitFor((s) => s.includes("Pause queue emails") && s.includes("rows affected"), "the pause confirmation");
    term.keys("y");
    await term.waitFor((s) => s.includes("paused: e2e maintenance"), "the paused queue");
    const [paused] = await db.sql<{ paused: boolean; reason: string }[]>`select paused, reason from reproq_queue_controls where queue_name = 'emails'`;
    expect(paused).toEqual({ paused: true, reason: "e2e maintenance" });
    term.keys("p");
    await term.waitFor((s) => s.includes("Resume queue emails") && s.includes("rows affected"), "the resume confirmation");
    term.keys("y");
    await term.waitFor((s) => s.includes("resumed queue emails"), "the resume result");
    const [resumed] = await db.sql<{ paused: boolean }[]>`select paused from reproq_queue_controls where queue_name = 'emails'`;
    expect(resumed!.paused).toBe(false);

    // Cut the database connection: "down" with the error, data kept; restore: OK again.
    proxy.cut();
    const down = await term.waitFor((s) => s.includes("● down"), "the down state");
    expect(down).toMatch(/emails\s+\d+/);
    expect(down).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    proxy.restore();
    await term.waitFor((s) => s.includes("● OK"), "recovery", 30_000);

    term.keys("q");
    const after = await term.waitFor((s) => s.trimEnd().endsWith(PROMPT), "the shell prompt after quitting");
    expect(after).not.toContain("● OK"); // the alternate screen is gone
    term.close();
  });

  test("--read-only hides and refuses actions; the database is unchanged", async () => {
    const term = await startTop("--read-only");
    expect(term.screen()).toContain("[read-only]");
    term.keys("4");
    await term.waitFor((s) => s.includes("groups"), "the failures view");
    term.keys("Enter");
    const list = await term.waitFor((s) => /› (\d+)\s+FAILED/.test(s), "the failed tasks");
    const id = /› (\d+)\s+FAILED/.exec(list)![1]!;
    expect(list).not.toContain("R retry");
    term.keys("R");
    await term.waitFor((s) => s.includes("read-only: actions are disabled"), "the refusal");
    term.keys("2", "p");
    await term.waitFor((s) => s.includes("read-only: actions are disabled"), "the refusal on a queue");
    expect(await statusOf(id)).toBe("FAILED");
    const [emails] = await db.sql<{ paused: boolean }[]>`select coalesce(bool_or(paused), false) as paused from reproq_queue_controls where queue_name = 'emails'`;
    expect(emails!.paused).toBe(false);
    term.keys("q");
    await term.waitFor((s) => s.trimEnd().endsWith(PROMPT), "the shell prompt");
    term.close();
  });
});
