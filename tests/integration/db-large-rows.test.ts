// A large row (a big payload) must not stay in memory after it was read: postgres.js kept each
// connection's last network buffer until that connection received more data, so an idle pool
// connection held its largest message (a 30 MB spec) for as long as it stayed idle.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, createDb } from "../../src/db/client.ts";
import { createTestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase();
afterAll(() => db.drop());

const MB = 1024 * 1024;

/** Memory held by ArrayBuffers (network buffers among them) after a full collection. */
function arrayBufferBytes(): number {
  Bun.gc(true);
  return process.memoryUsage().arrayBuffers;
}

test("after a 30 MB row is read and dropped, its connection holds no copy of it", async () => {
  const sql = createDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 5_000, prepare: true });
  try {
    await sql`select 1`;
    const before = arrayBufferBytes();
    let rows: { text: string }[] | null = await sql<{ text: string }[]>`select repeat('x', ${30 * MB}::int) as text`;
    expect(rows[0]?.text.length).toBe(30 * MB);
    rows = null;
    await Bun.sleep(50);
    const held = arrayBufferBytes() - before;
    expect({ heldMb: Math.round(held / MB), under5Mb: held < 5 * MB }).toMatchObject({ under5Mb: true });
  } finally {
    await closeDb(sql);
  }
});
