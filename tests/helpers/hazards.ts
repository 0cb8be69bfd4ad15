// Sessions that create the database's hazards on purpose: a REPEATABLE READ snapshot left open (a
// read done, so it has an xmin) or a lock, each on its own connection with a chosen application_name.
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";

export interface HeldSnapshot {
  pid: number;
  release(): Promise<void>;
}

export class HazardSessions {
  private readonly pools: Sql[] = [];

  constructor(private readonly dsn: string) {}

  /** A one-connection pool whose sessions carry this application_name. */
  connect(applicationName: string): Sql {
    const sql = postgres(this.dsn, { max: 1, connection: { application_name: applicationName }, onnotice: () => {} });
    this.pools.push(sql);
    return sql;
  }

  /** A REPEATABLE READ transaction with a snapshot (one read of task_runs done), left open until released. */
  async holdSnapshot(applicationName: string): Promise<HeldSnapshot> {
    const reserved = await this.connect(applicationName).reserve();
    await reserved`begin isolation level repeatable read`;
    await reserved`select count(*) from task_runs`;
    const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    return {
      pid: row!.pid,
      release: async () => {
        await reserved`rollback`;
        reserved.release();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((sql) => sql.end({ timeout: 1 })));
  }
}
