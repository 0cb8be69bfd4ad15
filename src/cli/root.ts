// The command tree. Commands are imported lazily so `reproq --version` loads almost nothing.
import { defineCommand } from "citty";
import { VERSION } from "../version.ts";

export const rootCommand = defineCommand({
  meta: { name: "reproq", version: VERSION, description: "Postgres-backed background-task worker for Django (reproq-django)" },
  subCommands: {
    worker: () => import("./worker.ts").then((m) => m.default),
    beat: () => import("./beat.ts").then((m) => m.default),
    enqueue: () => import("./enqueue.ts").then((m) => m.default),
    triage: () => import("./triage.ts").then((m) => m.default),
    replay: () => import("./replay.ts").then((m) => m.default),
    cancel: () => import("./cancel.ts").then((m) => m.default),
    prune: () => import("./prune.ts").then((m) => m.default),
    top: () => import("./top.ts").then((m) => m.default),
    limit: () => import("./limit.ts").then((m) => m.default),
    queue: () => import("./queue.ts").then((m) => m.default),
    migrate: () => import("./migrate.ts").then((m) => m.default),
    doctor: () => import("./doctor.ts").then((m) => m.default),
    config: () => import("./config.ts").then((m) => m.default),
    version: () => import("./version.ts").then((m) => m.default),
    demo: () => import("./demo.ts").then((m) => m.default),
    help: () => import("./help.ts").then((m) => m.default),
    exec: () => import("./exec.ts").then((m) => m.default), // hidden: the bun executor's child
  },
});
