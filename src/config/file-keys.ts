// Flattening a parsed config document into `section.key → value`, with warnings for keys we
// do not know (typo protection that never breaks a config written for the Go worker).

import { ConfigError } from "../errors.ts";
import { showValue } from "./kinds.ts";
import type { Problem } from "./resolve.ts";
import { KNOWN_FILE_KEYS, SECTIONS } from "./settings.ts";

export interface FileValues {
  readonly values: Map<string, unknown>;
  readonly warnings: string[];
  readonly problems: Problem[];
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);

/** Classic edit distance (insert, delete, substitute), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

const leaf = (key: string): string => key.slice(key.lastIndexOf(".") + 1);

/** The known key closest to `key`: within 2 edits, or the same name in another section. */
export function suggestKey(key: string): string | null {
  let best: { key: string; distance: number } | null = null;
  for (const known of KNOWN_FILE_KEYS) {
    const distance = editDistance(key, known);
    if (distance <= 2 && (best === null || distance < best.distance)) best = { key: known, distance };
  }
  if (best) return best.key;
  for (const known of KNOWN_FILE_KEYS) if (leaf(known) === leaf(key)) return known;
  return null;
}

function unknownKeyWarning(key: string, path: string): string {
  const suggestion = suggestKey(key);
  const hint = suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : "";
  return `unknown key ${JSON.stringify(key)} in ${path} (ignored)${hint}`;
}

export function flattenConfigFile(document: unknown, path: string): FileValues {
  const values = new Map<string, unknown>();
  const warnings: string[] = [];
  const problems: Problem[] = [];
  if (document === null || document === undefined) return { values, warnings, problems }; // empty file
  if (!isTable(document)) {
    throw new ConfigError([`${path} must hold a table of settings at the top level, got ${showValue(document, false)}`]);
  }

  const sections: ReadonlySet<string> = new Set(SECTIONS);
  for (const [key, value] of Object.entries(document)) {
    if (!sections.has(key)) {
      if (KNOWN_FILE_KEYS.has(key)) values.set(key, value);
      else warnings.push(unknownKeyWarning(key, path));
      continue;
    }
    if (value === null || value === undefined) continue; // `worker:` with nothing under it
    if (!isTable(value)) {
      problems.push({ key, message: `${key} must be a table of settings, got ${showValue(value, false)} (from ${path})` });
      continue;
    }
    for (const [innerKey, innerValue] of Object.entries(value)) {
      const fullKey = `${key}.${innerKey}`;
      if (KNOWN_FILE_KEYS.has(fullKey)) values.set(fullKey, innerValue);
      else warnings.push(unknownKeyWarning(fullKey, path));
    }
  }
  return { values, warnings, problems };
}
