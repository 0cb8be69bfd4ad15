// The per-file database fixture (tests/helpers/db.ts): schema flavours are copies of template
// databases made once per schema version; many files may create databases at once; a wait that
// cannot finish fails with what it waited for.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import { bounded, createTestDatabase, prepareTemplates, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function create(flavour: Parameters<typeof createTestDatabase>[0]) {
  const db = await createTestDatabase(flavour);
  databases.push(db);
  return db;
}

describe("template databases", () => {
  test("a reproq database is a migrated copy; the template refuses connections", async () => {
    const templates = await prepareTemplates();
    expect(templates).toHaveLength(4);
    const db = await create({ flavour: "reproq" });
    const [applied] = await db.sql<{ n: number }[]>`select count(*)::int as n from reproq_schema_migrations`;
    expect(applied!.n).toBe(MIGRATIONS.length);
    const rows = await db.sql<{ datname: string; datistemplate: boolean; datallowconn: boolean }[]>`
      select datname, datistemplate, datallowconn from pg_database where datname in ${db.sql(templates)} order by datname`;
    expect(rows.map((row) => row.datname)).toEqual([...templates].sort());
    for (const row of rows) expect(row).toMatchObject({ datistemplate: true, datallowconn: false });
    expect(templates.every((name) => /^reproq_tpl_[a-z_]+_[0-9a-f]{12}$/.test(name))).toBe(true);
  });

  test("django-migrated has Django's tables and reproq's additions", async () => {
    const db = await create({ flavour: "django-migrated" });
    const tables = await db.sql<{ name: string }[]>`
      select table_name as name from information_schema.tables where table_schema = 'public' and table_name in ('task_runs', 'workflow_runs', 'reproq_schema_migrations')`;
    expect(tables.map((t) => t.name).sort()).toEqual(["reproq_schema_migrations", "task_runs", "workflow_runs"]);
  });

  test("twelve databases of every flavour created at once, each its own", async () => {
    const flavours = ["empty", "reproq", "django", "django-migrated", "go"] as const;
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => create({ flavour: flavours[i % flavours.length]!, label: `burst_${i}` })));
    expect(new Set(made.map((db) => db.name)).size).toBe(12);
    await made[1]!.sql`insert into reproq_schema_migrations (version, name, checksum) values ('9999', 'marker', 'x')`;
    const [other] = await made[6]!.sql<{ n: number }[]>`select count(*)::int as n from reproq_schema_migrations where version = '9999'`;
    expect(other!.n).toBe(0); // a copy, not a shared database
  });
});

test("a wait that cannot finish fails with what it waited for", async () => {
  let cancelled = false;
  const never = new Promise<never>(() => {});
  const error = await bounded(never, "the moon", 50, () => (cancelled = true)).catch((e: unknown) => e as Error);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toBe("test database: gave up after 0.05 s waiting for the moon");
  expect(cancelled).toBe(true);
});
