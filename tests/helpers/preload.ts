// Preloaded by bunfig.toml for every `bun test` run: a generous default timeout (creating a
// database or starting the embedded server can take seconds) and, at the end, stopping the
// embedded PostgreSQL that tests/helpers/db.ts starts when no DATABASE_URL / REPROQ_TEST_DSN is set.
import { afterAll, setDefaultTimeout } from "bun:test";
import { stopTestServer } from "./db.ts";

setDefaultTimeout(60_000);
afterAll(stopTestServer);
