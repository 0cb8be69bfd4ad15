// Start-up checks of the executor command, for `reproq doctor`: is the program on PATH, and (for
// the Django executor) can Python import the executor module? (bun kinds: is tasks_dir there?)
import { statSync } from "node:fs";
import type { WorkerConfig } from "../config/index.ts";
import { absoluteTasksDir } from "./ts-module.ts";

export type ProbeStatus = "ok" | "warn" | "fail";

export interface ExecutorProbe {
  name: string;
  status: ProbeStatus;
  detail: string;
}

const IMPORT_TIMEOUT_MS = 15_000;

function which(program: string, path: string | undefined): string | null {
  return Bun.which(program, path === undefined ? {} : { PATH: path });
}

export async function probeExecutor(worker: WorkerConfig, env: Readonly<Record<string, string>>): Promise<ExecutorProbe[]> {
  if (worker.executor === "bun" || worker.executor === "bun-inprocess") {
    const dir = absoluteTasksDir(worker.tasksDir);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // missing: reported below
    }
    return [{
      name: "executor tasks_dir",
      status: isDir ? "ok" : "fail",
      detail: isDir ? `${worker.executor} tasks from ${dir}` : `${dir} is not a directory (worker.tasks_dir, --tasks-dir, REPROQ_TASKS_DIR)`,
    }];
  }
  if (worker.executor === "command") {
    const program = worker.executorCommand[0] ?? "";
    const found = program === "" ? null : which(program, env.PATH);
    return [{
      name: "executor command",
      status: found ? "ok" : "fail",
      detail: found ? `${worker.executorCommand.join(" ")} (${found})` : `${program || "(empty)"} not found on PATH`,
    }];
  }
  const python = which(worker.pythonBin, env.PATH);
  if (!python) {
    return [{ name: "executor command", status: "fail", detail: `${worker.pythonBin} not found on PATH (worker.python_bin)` }];
  }
  const probes: ExecutorProbe[] = [{ name: "executor command", status: "ok", detail: `${worker.pythonBin} -m ${worker.executorModule} (${python})` }];
  const child = Bun.spawn([python, "-c", `import importlib; importlib.import_module(${JSON.stringify(worker.executorModule)})`], {
    env: { ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    timeout: IMPORT_TIMEOUT_MS,
  });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  const lastLine = stderr.trim().split("\n").at(-1) ?? "";
  probes.push(exitCode === 0
    ? { name: "executor module", status: "ok", detail: `${worker.executorModule} imports` }
    : { name: "executor module", status: "warn", detail: `${worker.executorModule} does not import here${lastLine ? ` (${lastLine})` : ""}; run reproq from the Django project's environment` });
  return probes;
}
