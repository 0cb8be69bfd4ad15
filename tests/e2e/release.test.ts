// The release assets (`bun run release` → dist/release/, SPEC §12): the five names
// `manage.py reproq install` downloads, their checksum files, and the asset for this machine run
// as a user runs it. dist/release/ is rebuilt only when the sources changed since it was built
// (scripts/build-release.ts fingerprints them), so a test run pays for the cross-compile once.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { darwinSignatureProblems, ensureRelease, hostAsset, machoSignatureProblem, RELEASE_ASSETS, sha256File } from "../../scripts/build-release.ts";
import { cleanEnv, runBinary } from "../helpers/binary.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let releaseDir = "";
let workDir = "";
beforeAll(async () => {
  releaseDir = await ensureRelease();
  workDir = mkdtempSync(join(tmpdir(), "reproq-release-"));
}, 300_000);
afterAll(() => rmSync(workDir, { recursive: true, force: true })); // a cold build downloads four Bun runtimes (~5 s here; allow for a slow network)

const host = hostAsset();

async function runAsset(args: string[]): Promise<{ exitCode: number; output: string; stdout: string }> {
  const child = Bun.spawn([join(releaseDir, host!.name), ...args], {
    cwd: workDir,
    env: cleanEnv(),
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    timeout: 30_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, output: stdout + stderr };
}

describe("release assets", () => {
  test("the five assets manage.py reproq install expects, each with a correct <asset>.sha256", () => {
    expect(RELEASE_ASSETS.map((asset) => asset.name)).toEqual([
      "reproq-linux-amd64", "reproq-linux-arm64", "reproq-darwin-amd64", "reproq-darwin-arm64", "reproq-windows-amd64.exe",
    ]);
    for (const asset of RELEASE_ASSETS) {
      const path = join(releaseDir, asset.name);
      expect(existsSync(path)).toBe(true);
      // Lowercase hex, two spaces, the file name: what sha256sum prints and Django compares.
      expect(readFileSync(`${path}.sha256`, "utf8")).toBe(`${sha256File(path)}  ${asset.name}\n`);
    }
  });

  test("SHA256SUMS lists all five, in the format sha256sum -c reads", () => {
    const lines = readFileSync(join(releaseDir, "SHA256SUMS"), "utf8").trimEnd().split("\n");
    expect(lines).toEqual(RELEASE_ASSETS.map((asset) => readFileSync(join(releaseDir, `${asset.name}.sha256`), "utf8").trimEnd()));
    // The real tool on one asset (the smallest; all lines have the same shape, checked above).
    if (Bun.which("sha256sum")) {
      const check = Bun.spawnSync(["sha256sum", "-c", "reproq-darwin-arm64.sha256"], { cwd: releaseDir, stdout: "pipe", stderr: "pipe" });
      expect(check.stdout.toString()).toBe("reproq-darwin-arm64: OK\n");
      expect(check.exitCode).toBe(0);
    }
  });

  test("each asset is an executable for its platform and CPU", () => {
    const formatOf = (path: string): string => {
      const head = Buffer.alloc(4096);
      const fd = openSync(path, "r");
      readSync(fd, head, 0, head.length, 0);
      closeSync(fd);
      if (head.readUInt32BE(0) === 0x7f454c46) return `elf-${({ 0x3e: "x64", 0xb7: "arm64" } as Record<number, string>)[head.readUInt16LE(18)]}`;
      if (head.readUInt32LE(0) === 0xfeedfacf) return `macho-${({ 0x01000007: "x64", 0x0100000c: "arm64" } as Record<number, string>)[head.readUInt32LE(4)]}`;
      if (head.toString("latin1", 0, 2) === "MZ") {
        const pe = head.readUInt32LE(0x3c);
        return `pe-${({ 0x8664: "x64", 0xaa64: "arm64" } as Record<number, string>)[head.readUInt16LE(pe + 4)]}`;
      }
      return "unknown";
    };
    const expected = { linux: "elf", darwin: "macho", win32: "pe" } as Record<string, string>;
    for (const asset of RELEASE_ASSETS) expect(`${asset.name}: ${formatOf(join(releaseDir, asset.name))}`).toBe(`${asset.name}: ${expected[asset.platform]}-${asset.arch}`);
  });

  test("the darwin-arm64 asset carries a code signature that matches its bytes (Apple Silicon kills it otherwise)", () => {
    expect(machoSignatureProblem(join(releaseDir, "reproq-darwin-arm64"))).toBeUndefined();
    // Bun 1.4.4 leaves a stale signature on darwin-x64 output; release.yml re-signs both darwin
    // assets on macOS and runs --verify-signatures before publishing (docs/releasing.md).
    expect(darwinSignatureProblems(releaseDir).every((problem) => problem.startsWith("reproq-darwin-amd64:"))).toBe(true);
  });
});

describe.skipIf(!host)(`the ${host?.name ?? "host"} asset, run like a user`, () => {
  test("--version prints the baked-in package.json version", async () => {
    const result = await runAsset(["--version"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`reproq version ${pkg.version}\n`);
  });

  test("worker --help and top --help (when this build has top) exit 0", async () => {
    const worker = await runAsset(["worker", "--help"]);
    expect(worker.exitCode).toBe(0);
    expect(worker.stdout).toContain("reproq worker");
    expect(worker.stdout).toContain("--concurrency");

    // `reproq top` is asserted once the command exists (dist/reproq --help lists it).
    const commands = (await runBinary(["--help"])).stdout;
    if (/^ {2}top\b/m.test(commands)) {
      const top = await runAsset(["top", "--help"]);
      expect(top.exitCode).toBe(0);
      expect(top.stdout).toContain("reproq top");
    }
  });

  test("is a release-channel build: refuses payload_mode inline before touching the database", async () => {
    const result = await runAsset(["worker", "--payload-mode", "inline", "--dsn", "postgres://nobody@127.0.0.1:9/none"]);
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain("Payload mode inline disabled in production builds");
    expect(result.output).not.toContain("cannot connect");
  });
});
