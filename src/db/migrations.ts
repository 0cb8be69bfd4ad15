// The migration files, imported as text so they are compiled into the binary (nothing reads SQL
// from disk at run time). Add a new file here, in order, with the next number.

import m0001 from "../../migrations/0001_tables.sql" with { type: "text" };
import m0002 from "../../migrations/0002_task_path.sql" with { type: "text" };
import m0003 from "../../migrations/0003_indexes.sql" with { type: "text" };
import m0004 from "../../migrations/0004_notify.sql" with { type: "text" };
import m0005 from "../../migrations/0005_lease_parent_indexes.sql" with { type: "text" };
import m0006 from "../../migrations/0006_finished_at_index.sql" with { type: "text" };
import m0007 from "../../migrations/0007_failed_queue_index.sql" with { type: "text" };
import m0008 from "../../migrations/0008_ready_concurrency_index.sql" with { type: "text" };
import m0009 from "../../migrations/0009_ready_run_after_index.sql" with { type: "text" };
import m0010 from "../../migrations/0010_worker_alive_until.sql" with { type: "text" };
import m0011 from "../../migrations/0011_leaner_task_indexes.sql" with { type: "text" };
import { isNoTransaction } from "./sql-split.ts";

export interface Migration {
  /** "0001" — the key recorded in reproq_schema_migrations.version. */
  version: string;
  /** "tables" */
  name: string;
  /** "0001_tables.sql" */
  file: string;
  text: string;
  /** sha256 of the file text, lowercase hex; recorded to notice edited files. */
  checksum: string;
  /** First line carries `-- reproq:no-transaction`: run statement by statement in autocommit. */
  noTransaction: boolean;
}

/** Builds a Migration from its file name (`NNNN_name.sql`) and text. */
export function defineMigration(file: string, text: string): Migration {
  const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
  if (!match) throw new Error(`bad migration file name ${file}`);
  return {
    version: match[1]!,
    name: match[2]!,
    file,
    text,
    checksum: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
    noTransaction: isNoTransaction(text),
  };
}

export const MIGRATIONS: readonly Migration[] = [
  defineMigration("0001_tables.sql", m0001),
  defineMigration("0002_task_path.sql", m0002),
  defineMigration("0003_indexes.sql", m0003),
  defineMigration("0004_notify.sql", m0004),
  defineMigration("0005_lease_parent_indexes.sql", m0005),
  defineMigration("0006_finished_at_index.sql", m0006),
  defineMigration("0007_failed_queue_index.sql", m0007),
  defineMigration("0008_ready_concurrency_index.sql", m0008),
  defineMigration("0009_ready_run_after_index.sql", m0009),
  defineMigration("0010_worker_alive_until.sql", m0010),
  defineMigration("0011_leaner_task_indexes.sql", m0011),
];
