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

// Drops the database, disconnecting its sessions (PostgreSQL 13+). Idempotent.
export async function databaseDropForce(sql: Queryable, params: { name: string }): Promise<void> {
  await sql`drop database if exists ${sql(checked(params.name))} with (force)`;
}

// Read-only: whether the database exists.
export async function databaseExists(sql: Queryable, params: { name: string }): Promise<boolean> {
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${params.name}`;
  return (rows[0]?.n ?? 0) > 0;
}
