// First step of `bun run test`: makes sure the system tools the tests need are here
// (tests/helpers/tools.ts lists them). Missing ones are installed with apt-get when this runs as
// root on Debian, and the script says what it installs; otherwise it names what is missing and the
// tests that need it are skipped with that reason (under CI=true they fail instead).
// Never fails the test command itself: the tests report what is still missing.
// REPROQ_TEST_SETUP=skip leaves the machine alone.
import { TOOLS, type Tool } from "../tests/helpers/tools.ts";

function run(argv: string[]): boolean {
  const child = Bun.spawnSync(argv, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return child.exitCode === 0;
}

function missing(): Tool[] {
  return Object.values(TOOLS).filter((tool) => tool.check() !== null);
}

function main(): void {
  if (process.env.REPROQ_TEST_SETUP === "skip") return;
  const before = missing();
  if (before.length === 0) return;
  const packages = [...new Set(before.map((tool) => tool.debianPackage))];
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !Bun.which("apt-get")) {
    console.warn(`test setup: missing ${before.map((t) => t.name).join(", ")}; the tests that need them will be skipped.`);
    console.warn(`test setup: to run them: ${isRoot ? "" : "sudo "}apt-get install -y ${packages.join(" ")}`);
    return;
  }
  console.log(`test setup: installing ${packages.join(" ")} (apt-get, for ${before.map((t) => t.name).join(", ")})`);
  // A fresh machine has no package lists yet: update once, then install.
  if (!run(["apt-get", "update", "-qq"])) console.warn("test setup: apt-get update failed; trying the install anyway");
  if (!run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages])) console.warn("test setup: apt-get install failed");
  const after = missing();
  if (after.length > 0) {
    console.warn(`test setup: still missing ${after.map((t) => `${t.name} (${t.check()})`).join(", ")}; the tests that need them will be skipped (fail under CI).`);
  } else {
    console.log(`test setup: installed ${packages.join(" ")}`);
  }
}

main();
