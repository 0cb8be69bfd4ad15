// Preloaded by bunfig.toml for every `bun test` run: at the end, stops the embedded PostgreSQL that
// tests/helpers/db.ts starts when no DATABASE_URL / REPROQ_TEST_DSN is set. (The per-test timeout
// is `bun test --timeout 60000` in package.json: in Bun 1.4.4 neither bunfig's `timeout` nor a
// preloaded setDefaultTimeout reaches every file.)
import { afterAll } from "bun:test";
import { stopTestServer } from "./db.ts";

afterAll(stopTestServer);
