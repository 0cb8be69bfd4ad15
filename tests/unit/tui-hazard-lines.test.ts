// top's warning lines from hazard snapshots: each kind of xmin holder is named as an operator
// finds it, thresholds decide what shows, and nothing shows when all is well.
import { expect, test } from "bun:test";
import type { HorizonHolder } from "../../src/queue/hazards.ts";
import { hazardWarnings } from "../../src/tui/hazards.ts";

const backend: HorizonHolder = { kind: "backend", pid: 4242, application: "psql", state: "idle in transaction", user: "app", ageSeconds: 185, xidAge: 120_000, xactStart: null, queryStart: null, query: null };
const calm = { holder: null, vacuum: { liveTuples: 1000, deadTuples: 50, lastVacuum: null, lastAutovacuum: null, vacuumAgeSeconds: 30, autovacuumCount: 4 }, lockWait: null, horizonWarnSeconds: 60 };

test("nothing to say when no snapshot is old, dead rows are few and nobody waits", () => {
  expect(hazardWarnings(undefined)).toEqual([]);
  expect(hazardWarnings(calm)).toEqual([]);
  expect(hazardWarnings({ ...calm, holder: { ...backend, ageSeconds: 59 } })).toEqual([]);
});

test("each holder kind is named: a session, a prepared transaction, a replication slot (age in transactions)", () => {
  expect(hazardWarnings({ ...calm, holder: backend })).toEqual([`⚠ xmin horizon held 3m by pid 4242, application "psql", idle in transaction: VACUUM cannot clean task_runs`]);
  expect(hazardWarnings({ ...calm, holder: { ...backend, kind: "prepared_xact", pid: null, application: "tx-77", state: "prepared" } })).toEqual([`⚠ xmin horizon held 3m by prepared transaction "tx-77", prepared: VACUUM cannot clean task_runs`]);
  expect(hazardWarnings({ ...calm, holder: { ...backend, kind: "replication_slot", pid: null, application: "standby_b", state: "inactive", ageSeconds: null } })).toEqual([`⚠ xmin horizon held 120,000 transactions by replication slot "standby_b", inactive: VACUUM cannot clean task_runs`]);
});

test("dead rows warn from 10,000 and over 20% of live rows; a lock wait names its blocker", () => {
  const vacuum = { liveTuples: 1204, deadTuples: 79_620, lastVacuum: null, lastAutovacuum: null, vacuumAgeSeconds: 720, autovacuumCount: 9 };
  expect(hazardWarnings({ ...calm, vacuum })).toEqual(["⚠ task_runs has 79,620 dead rows (1,204 live), last vacuum 12m ago"]);
  expect(hazardWarnings({ ...calm, vacuum: { ...vacuum, liveTuples: 1_000_000 } })).toEqual([]);
  const lockWait = { waiting: 5, waiterPid: 1, wantedMode: "RowExclusiveLock", waitSeconds: 25, blockerPid: 16101, blockerApplication: "schema-migration", blockerState: "active", blockerMode: "AccessExclusiveLock", blockerAgeSeconds: 30 };
  expect(hazardWarnings({ ...calm, lockWait })).toEqual([`⚠ task_runs locked: 5 waiting up to 25s on pid 16101, application "schema-migration", active, AccessExclusiveLock`]);
});
