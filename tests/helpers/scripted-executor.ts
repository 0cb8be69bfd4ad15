// An executor that does what the test says, in-process (no process): every task returns 1 (or
// kwargs.returns) at once, except those whose kwargs say `block`, which wait for release() (or
// their abort signal).
import type { ExecutionRequest, ExecutionResult, Executor } from "../../src/executor/index.ts";

/** Runs every task at once, except those whose kwargs say `block`: they wait for release(). */
export class ScriptedExecutor implements Executor {
  readonly started: string[] = [];
  /** Runs whose abort signal fired (stopped by the worker), in order. */
  readonly aborted: string[] = [];
  private readonly gates = new Map<string, () => void>();

  async run(request: ExecutionRequest): Promise<ExecutionResult> {
    this.started.push(request.resultId);
    request.signal.addEventListener("abort", () => this.aborted.push(request.resultId), { once: true });
    const kwargs = (request.spec?.kwargs ?? {}) as { block?: boolean; returns?: unknown };
    if (kwargs.block) {
      await new Promise<void>((resolve) => {
        this.gates.set(request.resultId, resolve);
        request.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    const returnJson = kwargs.returns === undefined ? "1" : JSON.stringify(kwargs.returns);
    const envelope = { ok: true, returnJson, exceptionClass: "", message: "", traceback: "" };
    return {
      outcome: request.signal.aborted ? "aborted" : "exited", message: "", exitCode: 0, signal: null, envelope, envelopeProblem: null,
      stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 1, pid: null,
    };
  }

  release(resultId: string): void {
    this.gates.get(resultId)?.();
  }
}
