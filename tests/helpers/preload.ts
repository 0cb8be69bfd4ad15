// Preloaded by bunfig.toml for every `bun test` run: gives the run its id (tests/helpers/processes.ts)
// and, at the end, waits for the background DROP DATABASEs and stops the embedded PostgreSQL that
// tests/helpers/db.ts starts when no DATABASE_URL / REPROQ_TEST_DSN is set. (Slow test files call
// setDefaultTimeout themselves: in Bun 1.4.4 neither bunfig's `timeout` nor a preloaded or imported
// setDefaultTimeout reaches every file; scripts/test.ts passes --timeout=60000 for the rest.)
import { afterAll } from "bun:test";
import { stopTestServer } from "./db.ts";
import { markTestRun } from "./processes.ts";

markTestRun(); // tests/helpers/processes.ts: pgrep sees only this run's processes

// Waits for the last background DROP DATABASEs: give it longer than Bun's 5 s default.
afterAll(stopTestServer, 120_000);
