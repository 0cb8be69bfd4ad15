// bun run release → dist/release/: the five release assets, named exactly as `manage.py reproq
// install` expects (docs/releasing.md), each with `<asset>.sha256`, plus SHA256SUMS. Every asset is
// a release-channel build (scripts/build.ts compile(), `--release`) with the package.json version
// baked in. Bun downloads the runtime of each foreign target from the npm registry once and caches
// it in ~/.bun/install/cache.
//
//   bun run release                                    build all five (always)
//   bun run scripts/build-release.ts --if-stale        build only when the sources changed since
//                                                      the last release build (used by the tests)
//   bun run scripts/build-release.ts --checksums-only  rewrite the checksums of the assets in
//                                                      dist/release (after re-signing on macOS)
//   bun run scripts/build-release.ts --verify-signatures  fail unless both darwin assets carry a
//                                                      code signature that matches their bytes
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { compile, ROOT } from "./build.ts";

export const VERSION: string = pkg.version;
export const RELEASE_DIR = join(ROOT, "dist", "release");
/** What the last release build was built from (outside dist/release, so it is never published). */
export const STAMP_FILE = join(ROOT, "dist", "release.stamp.json");

export interface ReleaseAsset {
  /** The file name users and `manage.py reproq install` download. */
  name: string;
  /** The Bun compile target. */
  target: string;
  /** The machine that can run it (process.platform / process.arch). */
  platform: NodeJS.Platform;
  arch: string;
}

// x64 Linux and Windows use Bun's "baseline" runtime (no AVX2 needed), so the asset runs on every
// x86-64 machine the Go binary ran on; start-up is ~1 ms slower. Every Mac that runs a supported
// macOS has AVX2.
export const RELEASE_ASSETS: readonly ReleaseAsset[] = [
  { name: "reproq-linux-amd64", target: "bun-linux-x64-baseline", platform: "linux", arch: "x64" },
  { name: "reproq-linux-arm64", target: "bun-linux-arm64", platform: "linux", arch: "arm64" },
  { name: "reproq-darwin-amd64", target: "bun-darwin-x64", platform: "darwin", arch: "x64" },
  { name: "reproq-darwin-arm64", target: "bun-darwin-arm64", platform: "darwin", arch: "arm64" },
  { name: "reproq-windows-amd64.exe", target: "bun-windows-x64-baseline", platform: "win32", arch: "x64" },
];

/**
 * The files a release build depends on (sources, embedded SQL, dependency lock, build scripts),
 * hashed with the Bun version: equal fingerprints, equal assets. Content, not mtimes, so a fresh
 * checkout with a kept dist/ is not rebuilt for nothing and an edit is never missed.
 */
export function sourceFingerprint(): string {
  const files = ["package.json", "bun.lock", "tsconfig.json", "scripts/build.ts", "scripts/build-release.ts"];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  walk("src");
  walk("migrations"); // bundled as text by src/db/migrations.ts
  if (existsSync(join(ROOT, "patches"))) walk("patches"); // patched dependencies (bun patch)
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(`bun ${Bun.version}\n`);
  for (const file of files.sort()) {
    const path = join(ROOT, file);
    if (!existsSync(path)) continue;
    hasher.update(`${file}\n`);
    hasher.update(readFileSync(path));
  }
  return hasher.digest("hex");
}

export function sha256File(path: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(readFileSync(path));
  return hasher.digest("hex");
}

/** `<hex>  <name>\n`, the format sha256sum prints and `sha256sum -c` reads. */
export function checksumLine(hex: string, name: string): string {
  return `${hex}  ${name}\n`;
}

/** Writes `<asset>.sha256` for every asset and the combined SHA256SUMS into dir. */
export function writeChecksums(dir: string): Record<string, string> {
  const sums: Record<string, string> = {};
  let combined = "";
  for (const asset of RELEASE_ASSETS) {
    const hex = sha256File(join(dir, asset.name));
    sums[asset.name] = hex;
    writeFileSync(join(dir, `${asset.name}.sha256`), checksumLine(hex, asset.name));
    combined += checksumLine(hex, asset.name);
  }
  writeFileSync(join(dir, "SHA256SUMS"), combined);
  return sums;
}

interface Stamp {
  version: string;
  fingerprint: string;
  sha256: Record<string, string>;
}

/** True when dist/release holds all assets built from the current sources (sizes and checksum files checked). */
export function releaseIsFresh(): boolean {
  if (!existsSync(STAMP_FILE)) return false;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(STAMP_FILE, "utf8")) as Stamp;
  } catch {
    return false;
  }
  if (stamp.version !== VERSION || stamp.fingerprint !== sourceFingerprint()) return false;
  for (const asset of RELEASE_ASSETS) {
    const path = join(RELEASE_DIR, asset.name);
    const sumPath = `${path}.sha256`;
    if (!existsSync(path) || !existsSync(sumPath)) return false;
    if (readFileSync(sumPath, "utf8") !== checksumLine(stamp.sha256[asset.name] ?? "", asset.name)) return false;
  }
  return existsSync(join(RELEASE_DIR, "SHA256SUMS"));
}

/**
 * Why macOS would refuse this Mach-O executable's embedded code signature, or undefined when every
 * page hash matches. Apple Silicon kills a binary whose signature does not match its bytes, and
 * Bun 1.4.4 leaves a stale signature on cross-compiled darwin-x64 output, so release.yml re-signs
 * the darwin assets on a macOS runner and this check keeps a broken one from being published.
 */
export function machoSignatureProblem(path: string): string | undefined {
  const data = readFileSync(path);
  if (data.length < 32 || data.readUInt32LE(0) !== 0xfeedfacf) return "not a 64-bit Mach-O executable";
  const commands = data.readUInt32LE(16);
  let offset = 32;
  let signature: { offset: number; size: number } | undefined;
  for (let i = 0; i < commands; i++) {
    const command = data.readUInt32LE(offset);
    if (command === 0x1d) signature = { offset: data.readUInt32LE(offset + 8), size: data.readUInt32LE(offset + 12) }; // LC_CODE_SIGNATURE
    offset += data.readUInt32LE(offset + 4);
  }
  if (!signature) return "not signed";
  const blob = data.subarray(signature.offset, signature.offset + signature.size);
  if (blob.readUInt32BE(0) !== 0xfade0cc0) return "no embedded signature superblob";
  for (let i = 0; i < blob.readUInt32BE(8); i++) {
    const at = blob.readUInt32BE(12 + 8 * i + 4);
    if (blob.readUInt32BE(at) !== 0xfade0c02) continue; // not the CodeDirectory
    const hashOffset = blob.readUInt32BE(at + 16);
    const codeSlots = blob.readUInt32BE(at + 28);
    const codeLimit = blob.readUInt32BE(at + 32);
    const hashSize = blob.readUInt8(at + 36);
    const hashType = blob.readUInt8(at + 37);
    const pageSize = 2 ** blob.readUInt8(at + 39);
    if (hashType !== 2 || hashSize !== 32) return `unexpected hash type ${hashType}`;
    if (codeLimit !== signature.offset) return `signature covers ${codeLimit} bytes but the code is ${signature.offset} bytes`;
    let mismatched = 0;
    for (let slot = 0; slot < codeSlots; slot++) {
      const page = data.subarray(slot * pageSize, Math.min((slot + 1) * pageSize, codeLimit));
      const expected = blob.subarray(at + hashOffset + slot * hashSize, at + hashOffset + (slot + 1) * hashSize);
      if (!new Bun.CryptoHasher("sha256").update(page).digest().equals(expected)) mismatched++;
    }
    return mismatched === 0 ? undefined : `${mismatched} of ${codeSlots} page hashes do not match`;
  }
  return "no code directory";
}

/** The darwin assets in dir whose signature macOS would reject, with the reason. */
export function darwinSignatureProblems(dir: string): string[] {
  return RELEASE_ASSETS.filter((asset) => asset.platform === "darwin")
    .map((asset) => [asset.name, machoSignatureProblem(join(dir, asset.name))] as const)
    .filter(([, problem]) => problem !== undefined)
    .map(([name, problem]) => `${name}: ${problem}`);
}

/** The asset this machine can run, if any. */
export function hostAsset(): ReleaseAsset | undefined {
  return RELEASE_ASSETS.find((asset) => asset.platform === process.platform && asset.arch === process.arch);
}

function checkVersion(path: string): void {
  const run = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  const stdout = run.stdout.toString();
  if (run.exitCode !== 0 || stdout !== `reproq version ${VERSION}\n`) {
    throw new Error(`${relative(ROOT, path)} --version: exit ${run.exitCode}, printed ${JSON.stringify(stdout)} ${run.stderr.toString()}; expected "reproq version ${VERSION}"`);
  }
}

/**
 * Builds all five assets into a scratch directory, checks the version of the one this machine can
 * run, writes the checksums and only then replaces dist/release, so a reader never sees a half-built
 * release.
 */
export async function buildRelease(log: (line: string) => void = console.log, quiet = false): Promise<void> {
  const scratch = join(ROOT, "dist", `release.tmp-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    const fingerprint = sourceFingerprint();
    const started = performance.now();
    // In parallel: the work is mostly downloading (first time) and writing ~100 MB per target.
    const results = await Promise.all(RELEASE_ASSETS.map(async (asset) => ({ asset, exitCode: await compile({ release: true, target: asset.target, outfile: join(scratch, asset.name) }, quiet) })));
    const failed = results.filter((result) => result.exitCode !== 0 || !existsSync(join(scratch, result.asset.name)));
    if (failed.length > 0) throw new Error(`bun build failed for ${failed.map((result) => result.asset.name).join(", ")}`);

    const host = hostAsset();
    if (host) {
      checkVersion(join(scratch, host.name));
      log(`${host.name} --version: reproq version ${VERSION}`);
    } else {
      log(`no release asset runs on ${process.platform}-${process.arch}; --version not checked`);
    }

    for (const problem of darwinSignatureProblems(scratch)) {
      log(`warning: ${problem}; re-sign it on macOS before publishing (docs/releasing.md)`);
    }
    const sums = writeChecksums(scratch);
    rmSync(RELEASE_DIR, { recursive: true, force: true });
    renameSync(scratch, RELEASE_DIR);
    writeFileSync(STAMP_FILE, `${JSON.stringify({ version: VERSION, fingerprint, sha256: sums } satisfies Stamp, null, 2)}\n`);
    for (const asset of RELEASE_ASSETS) {
      const size = statSync(join(RELEASE_DIR, asset.name)).size;
      log(`${sums[asset.name]}  ${asset.name} (${(size / 1024 / 1024).toFixed(1)} MiB, ${asset.target})`);
    }
    log(`built reproq ${VERSION} (release) for ${RELEASE_ASSETS.length} targets into ${relative(ROOT, RELEASE_DIR)}/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** dist/release, built first (quietly: bun build's output only on failure) unless it is already up to date with the sources. */
export async function ensureRelease(log: (line: string) => void = () => {}): Promise<string> {
  if (!releaseIsFresh()) await buildRelease(log, true);
  return RELEASE_DIR;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      "if-stale": { type: "boolean", default: false },
      "checksums-only": { type: "boolean", default: false },
      "verify-signatures": { type: "boolean", default: false },
    },
  });
  try {
    if (values["verify-signatures"]) {
      const problems = darwinSignatureProblems(RELEASE_DIR);
      if (problems.length > 0) throw new Error(`macOS would refuse: ${problems.join("; ")}`);
      console.log("darwin signatures: valid");
    } else if (values["checksums-only"]) {
      for (const [name, hex] of Object.entries(writeChecksums(RELEASE_DIR))) console.log(`${hex}  ${name}`);
      // The assets changed (re-signed), so the stamp no longer describes them.
      rmSync(STAMP_FILE, { force: true });
    } else if (values["if-stale"] && releaseIsFresh()) {
      console.log(`${relative(ROOT, RELEASE_DIR)}/ is up to date (reproq ${VERSION})`);
    } else {
      await buildRelease();
    }
  } catch (error) {
    console.error(`release failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
