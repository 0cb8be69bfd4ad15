// scripts/install.sh (SPEC §12) run through `sh` (dash on Debian) the way `curl … | sh` runs it,
// against dist/release/ served from 127.0.0.1 (REPROQ_DOWNLOAD_BASE). dist/release/ is built
// first when it is missing or older than the sources (scripts/build-release.ts).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { ensureRelease, hostAsset } from "../../scripts/build-release.ts";
import { ROOT } from "../helpers/binary.ts";
import { testWithTools } from "../helpers/tools.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const INSTALL_SH = join(ROOT, "scripts", "install.sh");
const SH = Bun.which("sh") ?? "/bin/sh"; // dash on Debian
const host = hostAsset();
// The installer only supports Linux and macOS; elsewhere (Windows) only the static checks run.
const canInstall = host !== undefined && (host.platform === "linux" || host.platform === "darwin");

let releaseDir = "";
let server: ReturnType<typeof Bun.serve> | undefined;
let base = "";
let corrupted: Uint8Array | undefined;

beforeAll(async () => {
  if (!canInstall) return;
  releaseDir = await ensureRelease();
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      // /corrupt/<asset>: the asset with one byte flipped, next to its genuine .sha256.
      // /nosum/<asset>: the asset, but no .sha256 published.
      const [, prefix, name] = path.match(/^\/(ok|corrupt|nosum)\/([A-Za-z0-9.-]+)$/) ?? [];
      if (!prefix || !name) return new Response("not found", { status: 404 });
      const file = Bun.file(join(releaseDir, name));
      if (!(await file.exists())) return new Response("not found", { status: 404 });
      if (prefix === "nosum" && name.endsWith(".sha256")) return new Response("not found", { status: 404 });
      if (prefix === "corrupt" && !name.endsWith(".sha256")) {
        corrupted ??= (() => {
          const bytes = new Uint8Array(readFileSync(join(releaseDir, name)));
          bytes[bytes.length >> 1]! ^= 0xff;
          return bytes;
        })();
        return new Response(corrupted);
      }
      return new Response(file);
    },
  });
  base = `http://127.0.0.1:${server.port}`;
}, 300_000); // a cold release build downloads four Bun runtimes

const tempDirs: string[] = [];
afterAll(() => {
  server?.stop(true);
  // Each install leaves a ~100 MB binary behind.
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

interface InstallRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Pipes install.sh into `sh` (no file argument), exactly as `curl -fsSL …/install.sh | sh` does. */
async function runInstaller(options: { cwd: string; env: Record<string, string> }): Promise<InstallRun> {
  const child = Bun.spawn([SH], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env },
    stdin: Bun.file(INSTALL_SH),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
}

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `reproq-install-${label}-`));
  tempDirs.push(dir);
  return dir;
}

function versionOf(binary: string): string {
  const run = Bun.spawnSync([binary, "--version"], { stdout: "pipe", stderr: "pipe" });
  expect(run.exitCode).toBe(0);
  return run.stdout.toString();
}

describe("install.sh static checks", () => {
  testWithTools(["shellcheck"])("shellcheck reports nothing (install.sh, and .ci/run)", () => {
    const shellcheck = Bun.which("shellcheck")!;
    const run = Bun.spawnSync([shellcheck, "--shell=sh", INSTALL_SH], { stdout: "pipe", stderr: "pipe" });
    expect(run.stdout.toString() + run.stderr.toString()).toBe("");
    expect(run.exitCode).toBe(0);
    // The CI entry point too (bash).
    const ci = Bun.spawnSync([shellcheck, join(import.meta.dir, "..", "..", ".ci", "run")], { stdout: "pipe", stderr: "pipe" });
    expect(ci.stdout.toString() + ci.stderr.toString()).toBe("");
    expect(ci.exitCode).toBe(0);
  });

  test("parses as POSIX sh (dash when available) and names the release URL in one place", () => {
    for (const shell of ["sh", "dash"].filter((name) => Bun.which(name))) {
      expect(Bun.spawnSync([shell, "-n", INSTALL_SH]).exitCode).toBe(0);
    }
    const script = readFileSync(INSTALL_SH, "utf8");
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("set -eu");
    // Only the comments and the one assignment mention the project's GitHub address.
    const code = script.split("\n").filter((line) => !line.trimStart().startsWith("#"));
    expect(code.filter((line) => line.includes("github.com"))).toEqual(['REPROQ_RELEASES_URL="https://github.com/reproq/reproq/releases"']);
  });
});

describe.skipIf(!canInstall)("install.sh against a local release server", () => {
  test("(a) in a Django project (manage.py present): installs ./.reproq/bin/reproq, piped through sh", async () => {
    const project = tempDir("django");
    const home = tempDir("home");
    writeFileSync(join(project, "manage.py"), "# Django\n");
    const result = await runInstaller({ cwd: project, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok` } });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const installed = join(project, ".reproq", "bin", "reproq");
    expect(versionOf(installed)).toBe(`reproq version ${pkg.version}\n`);
    expect(result.stdout).toContain(`reproq version ${pkg.version}`); // the installer ran it too
    expect(result.stdout).toContain("checksum verified");
    expect(result.stdout).toContain("manage.py reproq upgrade"); // the warning about the Go binary
    expect(readdirSync(join(project, ".reproq", "bin"))).toEqual(["reproq"]); // no temporary files left
    expect(readdirSync(home)).toEqual([]); // nothing under HOME
  });

  test("(b) outside a Django project: installs $HOME/.local/bin/reproq and explains PATH", async () => {
    const cwd = tempDir("plain");
    const home = tempDir("home");
    const result = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok/` } });
    expect(result.exitCode).toBe(0);
    const installed = join(home, ".local", "bin", "reproq");
    expect(versionOf(installed)).toBe(`reproq version ${pkg.version}\n`);
    expect(result.stdout).toContain(`export PATH="${join(home, ".local", "bin")}:$PATH"`);
    expect(readdirSync(cwd)).toEqual([]);

    // Already on PATH: no advice. Re-running replaces the binary in place (an upgrade).
    writeFileSync(installed, "#!/bin/sh\necho old\n");
    const again = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok`, PATH: `${join(home, ".local", "bin")}:${process.env.PATH}` } });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).not.toContain("export PATH");
    expect(versionOf(installed)).toBe(`reproq version ${pkg.version}\n`);
    expect(readdirSync(join(home, ".local", "bin"))).toEqual(["reproq"]);
  });

  test("REPROQ_INSTALL_DIR overrides both defaults, even in a Django project", async () => {
    const project = tempDir("override");
    writeFileSync(join(project, "manage.py"), "");
    const target = join(tempDir("target"), "nested", "bin");
    const result = await runInstaller({ cwd: project, env: { HOME: tempDir("home"), REPROQ_INSTALL_DIR: target, REPROQ_DOWNLOAD_BASE: `${base}/ok` } });
    expect(result.exitCode).toBe(0);
    expect(versionOf(join(target, "reproq"))).toBe(`reproq version ${pkg.version}\n`);
    expect(existsSync(join(project, ".reproq"))).toBe(false);
  });

  test("(c) a corrupted asset is refused: exit non-zero, nothing installed, nothing left behind", async () => {
    const project = tempDir("corrupt");
    writeFileSync(join(project, "manage.py"), "");
    const result = await runInstaller({ cwd: project, env: { HOME: tempDir("home"), REPROQ_DOWNLOAD_BASE: `${base}/corrupt` } });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`checksum mismatch for ${host!.name}`);
    expect(result.stderr).toContain("nothing was installed");
    expect(result.stdout).not.toContain("installed ");
    // Not even the directory it would have created, nor a temporary file.
    expect(readdirSync(project)).toEqual(["manage.py"]);
  });

  test("an existing binary survives a refused install untouched", async () => {
    const dir = tempDir("keep");
    writeFileSync(join(dir, "reproq"), "previous");
    const result = await runInstaller({ cwd: dir, env: { HOME: tempDir("home"), REPROQ_INSTALL_DIR: dir, REPROQ_DOWNLOAD_BASE: `${base}/corrupt` } });
    expect(result.exitCode).not.toBe(0);
    expect(readFileSync(join(dir, "reproq"), "utf8")).toBe("previous");
    expect(readdirSync(dir)).toEqual(["reproq"]);
  });

  test("a missing .sha256 is refused (never installs unverified)", async () => {
    const cwd = tempDir("nosum");
    const home = tempDir("home");
    const result = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/nosum` } });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`${host!.name}.sha256`);
    expect(result.stderr).toContain("refusing to install without a checksum");
    expect(readdirSync(home)).toEqual([]);
  });

  test("(d) an unsupported architecture or OS is a clear error naming it and what is supported", async () => {
    const cwd = tempDir("arch");
    const home = tempDir("home");
    for (const arch of ["armv7l", "i686", "riscv64"]) {
      const result = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok`, REPROQ_UNAME_M: arch } });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(`reproq-install: error: unsupported architecture: ${arch} (supported: x86_64/amd64, aarch64/arm64)\n`);
    }
    const bsd = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok`, REPROQ_UNAME_S: "FreeBSD" } });
    expect(bsd.exitCode).toBe(1);
    expect(bsd.stderr).toContain("unsupported operating system: FreeBSD");
    const windows = await runInstaller({ cwd, env: { HOME: home, REPROQ_DOWNLOAD_BASE: `${base}/ok`, REPROQ_UNAME_S: "MINGW64_NT-10.0-19045" } });
    expect(windows.exitCode).toBe(1);
    expect(windows.stderr).toContain("download reproq-windows-amd64.exe");
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("uname spellings map to the asset names manage.py reproq install uses", async () => {
    // A curl stand-in records the URLs instead of downloading, so no asset is needed.
    const shims = tempDir("shims");
    const log = join(shims, "urls.log");
    writeFileSync(join(shims, "curl"), `#!/bin/sh\nfor last; do :; done\nprintf '%s\\n' "$last" >>"${log}"\nexit 22\n`);
    chmodSync(join(shims, "curl"), 0o755);
    const cases: [string, string, string][] = [
      ["Linux", "x86_64", "reproq-linux-amd64"], ["Linux", "amd64", "reproq-linux-amd64"],
      ["Linux", "aarch64", "reproq-linux-arm64"], ["Linux", "arm64", "reproq-linux-arm64"],
      ["Darwin", "x86_64", "reproq-darwin-amd64"], ["Darwin", "arm64", "reproq-darwin-arm64"],
    ];
    for (const [os, arch, asset] of cases) {
      const result = await runInstaller({ cwd: tempDir("names"), env: { HOME: tempDir("home"), PATH: `${shims}:${process.env.PATH}`, REPROQ_DOWNLOAD_BASE: "http://127.0.0.1:9/x", REPROQ_UNAME_S: os, REPROQ_UNAME_M: arch } });
      expect(result.exitCode).not.toBe(0);
      expect(readFileSync(log, "utf8").trimEnd().split("\n").pop()).toBe(`http://127.0.0.1:9/x/${asset}`);
    }
  });

  test("default download URLs: this project's GitHub releases, latest or REPROQ_VERSION", async () => {
    const shims = tempDir("shims");
    const log = join(shims, "urls.log");
    writeFileSync(join(shims, "curl"), `#!/bin/sh\nfor last; do :; done\nprintf '%s\\n' "$last" >>"${log}"\nexit 22\n`);
    chmodSync(join(shims, "curl"), 0o755);
    const env = { HOME: tempDir("home"), PATH: `${shims}:${process.env.PATH}`, REPROQ_UNAME_S: "Linux", REPROQ_UNAME_M: "x86_64" };
    for (const [version, url] of [
      [undefined, "https://github.com/reproq/reproq/releases/latest/download/reproq-linux-amd64"],
      ["1.2.3", "https://github.com/reproq/reproq/releases/download/v1.2.3/reproq-linux-amd64"],
      ["v1.2.3", "https://github.com/reproq/reproq/releases/download/v1.2.3/reproq-linux-amd64"],
    ] as const) {
      const result = await runInstaller({ cwd: tempDir("url"), env: version ? { ...env, REPROQ_VERSION: version } : env });
      expect(result.exitCode).not.toBe(0);
      expect(readFileSync(log, "utf8").trimEnd().split("\n").pop()).toBe(url);
    }
  });

  test.skipIf(!Bun.which("wget"))("works with wget when curl is missing (wget -qO- … | sh)", async () => {
    // A PATH with the tools the installer needs, minus curl.
    const bin = tempDir("nocurl");
    for (const tool of ["wget", "uname", "mkdir", "mktemp", "dirname", "rm", "rmdir", "tr", "awk", "cut", "head", "sha256sum", "shasum", "chmod", "mv", "cat"]) {
      const path = Bun.which(tool);
      if (path) symlinkSync(path, join(bin, tool));
    }
    const home = tempDir("home");
    const cwd = tempDir("wget");
    const result = await runInstaller({ cwd, env: { HOME: home, PATH: bin, REPROQ_DOWNLOAD_BASE: `${base}/ok` } });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(versionOf(join(home, ".local", "bin", "reproq"))).toBe(`reproq version ${pkg.version}\n`);
  });
});
