// Throw-away databases on an existing server (reproq demo): create one with a unique name, drop
// it afterwards. Names are checked against a strict pattern; they are identifiers, not values.
import type { Queryable } from "./client.ts";

const SCRATCH_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checked(name: string): string {
  if (!SCRATCH_NAME.test(name)) throw new Error(`refusing database name ${JSON.stringify(name)}`);
  return name;
}

// Creates the database; fails if it exists. Not idempotent.
export async function databaseCreate(sql: Queryable, params: { name: string }): Promise<void> {
  await sql`create database ${sql(checked(params.name))}`;
}

// Drops the database, disconnecting its sessions. Idempotent. `with (force)` needs PostgreSQL 13+;
// on 12 the other sessions are terminated first and a plain DROP DATABASE follows.
export async function databaseDropForce(sql: Queryable, params: { name: string }): Promise<void> {
  const name = checked(params.name);
  const version = await sql<{ n: number }[]>`select current_setting('server_version_num')::int as n`;
  if ((version[0]?.n ?? 0) >= 130000) {
    await sql`drop database if exists ${sql(name)} with (force)`;
    return;
  }
  await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
  await sql`drop database if exists ${sql(name)}`;
}

// Read-only: whether the database exists.
export async function databaseExists(sql: Queryable, params: { name: string }): Promise<boolean> {
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${params.name}`;
  return (rows[0]?.n ?? 0) > 0;
}
