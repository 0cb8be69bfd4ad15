// `reproq top`'s overview names the database's hazards (rendered with the real DashboardSource on
// a real database): a REPEATABLE READ snapshot held on another connection past --horizon-warn, and
// a write to task_runs waiting behind an ACCESS EXCLUSIVE lock; nothing is shown when all is well.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { TOP_SESSION_SETTINGS } from "../../src/cli/top.ts";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource } from "../../src/tui/data.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { renderSized } from "../helpers/fake-dashboard.ts";
import { HazardSessions } from "../helpers/hazards.ts";

setDefaultTimeout(60_000);

let db: TestDatabase;
let sessions: HazardSessions;
const SIZE = { columns: 140, rows: 40 };

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "tui_hazards" });
  sessions = new HazardSessions(db.dsn);
});
afterAll(async () => {
  await Promise.all(pools.map((sql) => closeDb(sql, 1)));
  await sessions.close();
  await db.drop();
});

const pools: Sql[] = [];

/** top's source over a pool with top's own session settings (statement and lock timeouts), as the command opens it. */
function open(horizonWarnSeconds: number) {
  const sql = createDb({ dsn: db.dsn, env: {}, poolSize: 3, connectTimeoutMs: 10_000, prepare: true, sessionSettings: TOP_SESSION_SETTINGS });
  pools.push(sql);
  const source = createDashboardSource(sql, { readOnly: true, ownsPool: false, horizonWarnSeconds });
  return renderSized(<App source={source} refreshMs={300} readOnly={true} colour={false} />, SIZE);
}

test("a snapshot held past --horizon-warn gets a warning line naming its pid, application, state and age", async () => {
  const quiet = open(60);
  const calm = await quiet.waitFor((f) => f.includes("Recent failures"));
  await Bun.sleep(1_200); // a hazard round too
  expect(calm).not.toContain("⚠");
  quiet.unmount();

  const holder = await sessions.holdSnapshot("tui-hazard-holder");
  const ui = open(1);
  try {
    const frame = await ui.waitFor((f) => f.includes("⚠ xmin horizon"), 10_000);
    const line = frame.split("\n").find((l) => l.includes("⚠ xmin horizon"))!;
    expect(line).toMatch(new RegExp(`⚠ xmin horizon held \\d+s by pid ${holder.pid}, application "tui-hazard-holder", idle in transaction: VACUUM cannot clean task_runs`));
    for (const l of frame.split("\n")) expect(Array.from(l).length).toBeLessThanOrEqual(SIZE.columns);
  } finally {
    ui.unmount();
    await holder.release();
  }
});

test("a write waiting for a lock on task_runs names the lock's holder", async () => {
  const locker = await sessions.connect("tui-hazard-locker").reserve();
  await locker`begin`;
  await locker`lock table task_runs in access exclusive mode`;
  const [row] = await locker<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const blocked = sessions.connect("tui-hazard-writer")`update task_runs set priority = priority where false`.catch(() => {});
  const ui = open(60);
  try {
    const frame = await ui.waitFor((f) => f.includes("⚠ task_runs locked"), 15_000);
    const line = frame.split("\n").find((l) => l.includes("⚠ task_runs locked"))!;
    expect(line).toContain(`on pid ${row!.pid}, application "tui-hazard-locker", idle in transaction, AccessExclusiveLock`);
  } finally {
    ui.unmount();
    await locker`rollback`;
    locker.release();
    await blocked;
  }
});
