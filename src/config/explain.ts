// The effective configuration as people read it (`reproq config`): every setting in scope with
// its value and where it came from. Secrets never appear: the DSN password and the metrics token
// are masked.
import { defaultText } from "./args.ts";
import { inScope, SETTINGS, type Setting } from "./settings.ts";
import type { Config, ConfigScope } from "./types.ts";

export interface ExplainedSetting {
  key: string;
  /** Display text: durations as Go text, lists comma-joined, secrets masked. */
  value: string;
  source: string;
  env: readonly string[];
  flag: string;
}

const SECRET_KEYS = new Set(["metrics.auth_token"]);

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; key=value passwords too. */
export function maskDsn(dsn: string): string {
  if (/^postgres(ql)?:\/\//i.test(dsn)) {
    const at = dsn.lastIndexOf("@");
    const schemeEnd = dsn.indexOf("//") + 2;
    if (at === -1) return dsn;
    const userinfo = dsn.slice(schemeEnd, at);
    const colon = userinfo.indexOf(":");
    return colon === -1 ? dsn : `${dsn.slice(0, schemeEnd)}${userinfo.slice(0, colon)}:***${dsn.slice(at)}`;
  }
  return dsn.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***");
}

function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${Number(rest.toFixed(3))}ms`);
  return parts.join("");
}

function display(setting: Setting, value: unknown): string {
  if (value === undefined) return defaultText(setting);
  if (setting.key === "dsn") return maskDsn(String(value));
  if (SECRET_KEYS.has(setting.key)) return value === "" ? "" : "<redacted>";
  if (Array.isArray(value)) return value.join(",");
  if ((setting.kind === "duration" || setting.kind === "seconds-or-duration") && typeof value === "number") return formatDuration(value);
  return String(value);
}

export function explainConfig(config: Config, scope: ConfigScope): ExplainedSetting[] {
  return SETTINGS.filter((setting) => inScope(setting, scope)).map((setting) => ({
    key: setting.key,
    value: display(setting, config.settings[setting.key]),
    source: config.sources[setting.key] ?? "default",
    env: setting.env,
    flag: setting.flag,
  }));
}

/** Where a setting's value came from, as messages say it: "(from --logs-dir)", "(from REPROQ_LOGS_DIR)", "(default)". */
export function sourcePhrase(config: Config, key: string): string {
  const source = config.sources[key] ?? "default";
  return source.startsWith("default") ? `(${source})` : `(from ${source.replace(/^(flag|env|file) /, "")})`;
}
