// `reproq top` as a user runs it: the compiled binary in a real terminal (tmux), against a seeded
// database reached through a TCP proxy the test can cut. Retry a failed task and pause/resume a
// queue through the confirmation dialogs (checked in the database), see "down" and recovery when
// the connection is cut and restored, refuse actions with --read-only, and quit back to the shell.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { baseConnection, buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { HazardSessions } from "../helpers/hazards.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { closeAllTerminals, PROMPT, Terminal } from "../helpers/tmux.ts";
import { describeWithTools } from "../helpers/tools.ts";
import { insertRows } from "../integration/claim-fixtures.ts";

setDefaultTimeout(60_000);

let db: TestDatabase;
let seed: SeedInfo;
let proxy: TcpProxy;
let dsn: string;

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
    ensureBinary();
    db = await createTestDatabase({ flavour: "reproq" });
    seed = await seedDashboard(db.sql);
    const base = await baseConnection();
    proxy = await startTcpProxy({ host: base.host, port: base.port });
    dsn = buildDsn({ ...base, host: "127.0.0.1", port: proxy.port, database: db.name, sslmode: "disable" });
  });

  afterAll(async () => {
    closeAllTerminals();
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

  test("a snapshot held past --horizon-warn shows a warning line naming its pid, application, state and age", async () => {
    const sessions = new HazardSessions(db.dsn);
    const holder = await sessions.holdSnapshot("top-tmux-holder");
    try {
      const term = await startTop("--horizon-warn 1s --read-only");
      const screen = await term.waitFor((s) => s.includes("⚠ xmin horizon"), "the horizon warning");
      const line = screen.split("\n").find((l) => l.includes("⚠ xmin horizon"))!;
      expect(line).toMatch(new RegExp(`⚠ xmin horizon held \\d+s by pid ${holder.pid}, application "top-tmux-holder", idle in transaction`));
      await holder.release();
      await term.waitFor((s) => !s.includes("⚠ xmin horizon"), "the warning to go once the snapshot ends");
      term.keys("q");
      await term.waitFor((s) => s.trimEnd().endsWith(PROMPT), "the shell prompt");
      term.close();
    } finally {
      await holder.release().catch(() => {});
      await sessions.close();
    }
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

  test("READY in claim order with long paths cut in the middle, a SCHEDULED tab, and a cancel dialog that keeps the task", async () => {
    const long = "myproject.billing.invoicing.reminders.tasks.send_overdue_reminder";
    const [longId] = await insertRows(db.sql, [{ queue: "default", priority: 100, ageSeconds: 5, taskPath: long }]);
    const term = await startTop();
    // default: 6 seeded due READY + this one, 1 scheduled (run_after in an hour), 4 RUNNING, 1 WAITING, 3 FAILED.
    await term.waitFor((s) => /QUEUE\s+READY\s+SCHEDULED/.test(s) && /› default\s+7\s+1\s+4\s+1\s+3\s/.test(s), "default's due and scheduled counts");
    term.keys("Enter");
    await term.waitFor((s) => s.includes("[ALL]"), "the tasks of default");
    term.keys("l");
    // The next task to run is on top, its path cut in the middle so the function name shows.
    const ready = await term.waitFor((s) => s.includes("[READY]") && new RegExp(`› ${longId}\\s+READY`).test(s), "the READY tab in claim order");
    expect(ready).toMatch(new RegExp(`› ${longId}\\s+READY\\s+my\\S*…\\S*send_overdue_reminder\\s`));
    expect(ready).not.toMatch(new RegExp(`^[ ›] ${seed.ids.readyFuture}\\s`, "m"));
    term.keys("l");
    const scheduled = await term.waitFor((s) => s.includes("[SCHEDULED]") && s.includes(`› ${seed.ids.readyFuture} `), "the SCHEDULED tab");
    expect(scheduled).toMatch(new RegExp(`› ${seed.ids.readyFuture}\\s+SCHEDULED`));
    expect(scheduled).toMatch(/in (59m|1h)/);
    term.keys("C");
    const dialog = await term.waitFor((s) => s.includes("rows affected: 1"), "the cancel confirmation");
    expect(dialog).toContain(`Cancel task ${seed.ids.readyFuture}?`);
    expect(dialog).toContain("n / esc: no, keep it");
    expect(dialog).not.toMatch(/esc: cancel/);
    term.keys("n");
    await term.waitFor((s) => s.includes("nothing changed") && !s.includes("rows affected"), "the dialog closed");
    expect(await statusOf(seed.ids.readyFuture)).toBe("READY");
    term.keys("q");
    await term.waitFor((s) => s.trimEnd().endsWith(PROMPT), "the shell prompt");
    term.close();
  });
});
