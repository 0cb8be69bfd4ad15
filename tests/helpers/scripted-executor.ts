// An executor that does what the test says, in-process (no process): every task returns 1 at
// once, except those whose kwargs say `block`, which wait for release() (or their abort signal).
import type { ExecutionRequest, ExecutionResult, Executor } from "../../src/executor/index.ts";

/** Runs every task at once, except those whose kwargs say `block`: they wait for release(). */
export class ScriptedExecutor implements Executor {
  readonly started: string[] = [];
  private readonly gates = new Map<string, () => void>();

  async run(request: ExecutionRequest): Promise<ExecutionResult> {
    this.started.push(request.resultId);
    const kwargs = (request.spec?.kwargs ?? {}) as { block?: boolean };
    if (kwargs.block) {
      await new Promise<void>((resolve) => {
        this.gates.set(request.resultId, resolve);
        request.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    const envelope = { ok: true, returnJson: "1", exceptionClass: "", message: "", traceback: "" };
    return {
      outcome: request.signal.aborted ? "aborted" : "exited", message: "", exitCode: 0, signal: null, envelope, envelopeProblem: null,
      stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 1, pid: null,
    };
  }

  release(resultId: string): void {
    this.gates.get(resultId)?.();
  }
}
