// A real terminal for e2e tests of interactive commands: a detached tmux session running a clean
// bash (no DATABASE_URL/REPROQ_* from the test runner), driven with send-keys and read with
// capture-pane. A tmux server of our own (not the user's), kept up by an idle session: when the
// last session is killed the server exits, and a new-session racing with that exit fails at once
// ("server exited unexpectedly").
import { cleanEnv } from "./binary.ts";

export const TMUX = Bun.which("tmux");
export const PROMPT = "e2e-shell$";
const SOCKET = `reproq-e2e-${process.pid}`;
const sessions: string[] = [];
let serverUp = false;

function tmux(...args: string[]): string {
  const run = Bun.spawnSync([TMUX!, "-L", SOCKET, "-f", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export class Terminal {
  constructor(readonly name: string) {}
  static open(size: { columns: number; rows: number } = { columns: 140, rows: 40 }): Terminal {
    if (!serverUp) {
      tmux("new-session", "-d", "-s", "keepalive", "sleep 86400");
      serverUp = true;
    }
    const name = `reproq-top-${crypto.randomUUID().slice(0, 8)}`;
    // CI=true always: CI systems set it, and top must still render live there (Ink would
    // otherwise write only the final frame).
    const env = cleanEnv({ TERM: "xterm-256color", CI: "true" });
    const exports = Object.entries(env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    tmux("new-session", "-d", "-s", name, "-x", String(size.columns), "-y", String(size.rows), `exec env -i ${exports} PS1='${PROMPT} ' bash --norc --noprofile`);
    sessions.push(name);
    return new Terminal(name);
  }
  keys(...keys: string[]): void {
    for (const key of keys) tmux("send-keys", "-t", this.name, key);
  }
  type(text: string): void {
    tmux("send-keys", "-t", this.name, "-l", text);
  }
  screen(): string {
    return tmux("capture-pane", "-p", "-t", this.name);
  }
  async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const screen = this.screen();
      if (predicate(screen)) return screen;
      await Bun.sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; screen:\n${this.screen()}`);
  }
  close(): void {
    Bun.spawnSync([TMUX!, "-L", SOCKET, "kill-session", "-t", this.name]);
  }
}

/** Kills every session opened so far, and our tmux server with them (afterAll). */
export function closeAllTerminals(): void {
  sessions.splice(0);
  if (serverUp) Bun.spawnSync([TMUX!, "-L", SOCKET, "kill-server"]);
  serverUp = false;
}
