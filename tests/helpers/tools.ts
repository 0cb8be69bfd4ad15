// The system tools some tests need, how to tell whether each is here, and the Debian package that
// provides it. `bun run test` runs scripts/test-setup.ts first, which installs the missing ones when
// it runs as root (and says what it installs). A test that needs a missing tool goes through
// `describeWithTools`: skipped with the reason printed — except under CI (CI=true), where a skip
// would hide a test that CI can run, so it fails instead.
import { describe, test } from "bun:test";
import { existsSync } from "node:fs";

export interface Tool {
  /** What the tests call it (and what a message names). */
  name: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** Null when the tool is usable; else why not. */
  check(): string | null;
}

/** Debian's interpreter: python3-django and python3-psycopg2 install for it (not for pyenv's python3). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

const onPath = (command: string) => (): string | null => (Bun.which(command) ? null : `${command} is not on PATH`);

function pythonModule(module: string) {
  return (): string | null => {
    if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} does not exist`;
    const probe = Bun.spawnSync([SYSTEM_PYTHON, "-c", `import ${module}`], { stdout: "ignore", stderr: "pipe" });
    return probe.exitCode === 0 ? null : `${SYSTEM_PYTHON} cannot import ${module}`;
  };
}

export const TOOLS = {
  python3: { name: "python3", debianPackage: "python3", check: onPath("python3") },
  tmux: { name: "tmux", debianPackage: "tmux", check: onPath("tmux") },
  shellcheck: { name: "shellcheck", debianPackage: "shellcheck", check: onPath("shellcheck") },
  psql: { name: "psql", debianPackage: "postgresql-client", check: onPath("psql") },
  pgbouncer: { name: "pgbouncer", debianPackage: "pgbouncer", check: onPath("pgbouncer") },
  openssl: { name: "openssl", debianPackage: "openssl", check: onPath("openssl") },
  django: { name: "Django (python3-django)", debianPackage: "python3-django", check: pythonModule("django") },
  psycopg2: { name: "psycopg2 (python3-psycopg2)", debianPackage: "python3-psycopg2", check: pythonModule("psycopg2") },
} as const satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

const checked = new Map<ToolName, string | null>();

/** Null when every named tool is usable; else one line saying what is missing and how to get it. */
export function missingTools(names: readonly ToolName[]): string | null {
  const missing = names.flatMap((name) => {
    if (!checked.has(name)) checked.set(name, TOOLS[name].check());
    const why = checked.get(name);
    return why ? [{ why, pkg: TOOLS[name].debianPackage }] : [];
  });
  if (missing.length === 0) return null;
  const packages = [...new Set(missing.map((m) => m.pkg))].join(" ");
  return `${missing.map((m) => m.why).join("; ")} (as root, \`bun run test\` installs it; or: apt-get install -y ${packages})`;
}

/** True when the run must not skip tests for a missing tool (CI=true, as CI systems set it). */
export function skipsAreFailures(): boolean {
  const ci = process.env.CI?.toLowerCase();
  return ci !== undefined && ci !== "" && ci !== "0" && ci !== "false";
}

type TestBody = () => void | Promise<unknown>;

/**
 * `test` when the tools are here; otherwise a test that fails under CI and is skipped elsewhere
 * (the reason printed once), like `describeWithTools` for single tests.
 */
export function testWithTools(tools: readonly ToolName[]): (title: string, body: TestBody, timeoutMs?: number) => void {
  const missing = missingTools(tools);
  if (missing === null) return (title, body, timeoutMs) => test(title, body, timeoutMs);
  if (skipsAreFailures()) {
    return (title) =>
      test(title, () => {
        throw new Error(`${title}: ${missing}. CI must run this test, not skip it.`);
      });
  }
  let warned = false;
  return (title, body) => {
    if (!warned) console.warn(`skipped tests that need ${tools.join(", ")}: ${missing}`);
    warned = true;
    test.skip(title, body);
  };
}

/**
 * `describe` when the tools are here. Otherwise: under CI, one failing test that names what is
 * missing; elsewhere the block is skipped and the reason printed once.
 */
export function describeWithTools(tools: readonly ToolName[], title: string, body: () => void): void {
  const missing = missingTools(tools);
  if (missing === null) {
    describe(title, body);
    return;
  }
  if (skipsAreFailures()) {
    describe(title, () => {
      test(`needs ${tools.join(", ")}`, () => {
        throw new Error(`${title}: ${missing}. CI must run these tests, not skip them.`);
      });
    });
    return;
  }
  console.warn(`skipped "${title}": ${missing}`);
  describe.skip(title, body);
}
