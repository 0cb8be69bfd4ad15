// The executor layer's public surface: what the worker runtime (and doctor, via probe.ts) uses.
export { childEnvironment } from "./environment.ts";
export { parseEnvelope, type EnvelopeParse } from "./envelope.ts";
export { createExecutor } from "./executor.ts";
export { createPythonPoolExecutor, type PoolExecutor } from "./python-pool/executor.ts";
export { execOutput, runExecChild, type ExecChildOptions, type ExecPayloadSource } from "./bun-exec.ts";
export { isCompiledBinary, selfCommand } from "./self.ts";
export type { TaskContext, TaskFunction } from "./ts-invoke.ts";
export { resolveTaskModule } from "./ts-module.ts";
export {
  DEFAULT_ALLOWED_TASK_MODULES,
  allowListRejection,
  allowListWarning,
  effectiveAllowList,
  isTaskPathAllowed,
  resolveTaskPath,
  settingsModuleRefusal,
} from "./task-path.ts";
export { checkLogsDir, logsDirProblem, writeTaskLog } from "./task-log.ts";
export { truncationMarker } from "./capture.ts";
export { KillAtOnce } from "./types.ts";
export {
  type Envelope,
  type ExecutionOutcome,
  type ExecutionRequest,
  type ExecutionResult,
  type Executor,
  type ExecutorOptions,
  type PoolTiming,
} from "./types.ts";
