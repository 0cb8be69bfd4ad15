// Access control for the worker's HTTP endpoints (/healthz, /metrics, /events): an optional CIDR
// allow-list, a static bearer token or a Django-issued HS256 JWT signed with that same token, and
// a per-host limiter on denied requests. Every branch denies unless it positively allows.
import { createHash, timingSafeEqual } from "node:crypto";
import { jwtVerify } from "jose";
import { ReproqError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

// ---------------------------------------------------------------------------------------------
// IP addresses and prefixes, parsed by hand so the accepted syntax is exactly the Go worker's
// (no IPv4 leading zeros, no zones in prefixes) and IPv4-mapped addresses are under our control.

interface Addr {
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

interface Prefix {
  readonly addr: Addr;
  readonly bits: number;
}

function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? "";
    // Leading zeros are rejected: some parsers read them as octal.
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part.startsWith("0"))) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/** Hex groups of one side of an IPv6 address; a trailing dotted IPv4 counts as two groups. */
function parseIPv6Groups(text: string, allowTrailingV4: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (allowTrailingV4 && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (v4 === null) return null;
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
    groups.push(parseInt(part, 16));
  }
  return groups;
}

function parseIPv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  let groups: number[];
  if (halves.length === 1) {
    const all = parseIPv6Groups(text, true);
    if (all === null || all.length !== 8) return null;
    groups = all;
  } else {
    const head = parseIPv6Groups(halves[0] ?? "", false);
    const tail = parseIPv6Groups(halves[1] ?? "", true);
    // "::" stands for at least one zero group.
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/** A bare IP without zone; null when it does not parse. */
function parseAddr(text: string): Addr | null {
  const bytes = text.includes(":") ? parseIPv6(text) : parseIPv4(text);
  return bytes === null ? null : { bytes };
}

/** `::ffff:a.b.c.d` (IPv4 client on a dual-stack socket) becomes the plain IPv4 address. */
function unmapAddr(addr: Addr): Addr {
  const b = addr.bytes;
  if (b.length !== 16) return addr;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return addr;
  if (b[10] !== 0xff || b[11] !== 0xff) return addr;
  return { bytes: b.slice(12) };
}

function prefixContains(prefix: Prefix, addr: Addr): boolean {
  const want = prefix.addr.bytes;
  const got = addr.bytes;
  if (want.length !== got.length) return false;
  const fullBytes = Math.floor(prefix.bits / 8);
  for (let i = 0; i < fullBytes; i++) if (want[i] !== got[i]) return false;
  const rest = prefix.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((want[fullBytes] ?? 0) & mask) === ((got[fullBytes] ?? 0) & mask);
}

function parsePrefix(entry: string): Prefix | null {
  const slash = entry.lastIndexOf("/");
  const addrText = entry.slice(0, slash);
  const bitsText = entry.slice(slash + 1);
  if (addrText.includes("%")) return null;
  const addr = parseAddr(addrText);
  if (addr === null) return null;
  if (!/^(0|[1-9]\d{0,2})$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  if (bits > addr.bytes.length * 8) return null;
  return { addr, bits };
}

function stripZone(ip: string): string {
  const percent = ip.indexOf("%");
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** The IP as the allow-list and the limiter see it: zone stripped, IPv4-mapped unmapped. */
export function normalizeRemoteIp(ip: string): string {
  const addr = parseAddr(stripZone(ip.trim()));
  if (addr === null) return ip;
  const plain = unmapAddr(addr);
  return plain.bytes.length === 4 ? plain.bytes.join(".") : ip;
}

export interface AllowList {
  /** True when `ip` (bare address, no port) falls in one of the prefixes. */
  allows(ip: string): boolean;
  /** Number of prefixes (localhost counts as two), for start-up logging. */
  readonly size: number;
}

const LOOPBACK_PREFIXES: readonly string[] = ["127.0.0.1/32", "::1/128"];

/**
 * Parses the metrics allow-list (a comma-separated string or a list of entries). Returns null
 * when nothing but separators was given: no allow-list, which is not an error.
 */
export function parseAllowList(entries: readonly string[] | string): AllowList | null {
  const raw = typeof entries === "string" ? entries.split(",") : entries.flatMap((entry) => entry.split(","));
  const prefixes: Prefix[] = [];
  for (const item of raw) {
    const entry = item.trim();
    if (entry === "") continue;
    if (entry.toLowerCase() === "localhost") {
      for (const loopback of LOOPBACK_PREFIXES) {
        const prefix = parsePrefix(loopback);
        if (prefix !== null) prefixes.push(prefix);
      }
      continue;
    }
    if (entry.includes("/")) {
      const prefix = parsePrefix(entry);
      if (prefix === null) throw new ReproqError("config", `invalid metrics allowlist prefix "${entry}"`);
      prefixes.push(prefix);
      continue;
    }
    const addr = parseAddr(stripZone(entry));
    if (addr === null) throw new ReproqError("config", `invalid metrics allowlist address "${entry}"`);
    prefixes.push({ addr, bits: addr.bytes.length * 8 });
  }
  if (prefixes.length === 0) return null;
  return {
    size: prefixes.length,
    allows(ip: string): boolean {
      const addr = parseAddr(stripZone(ip.trim()));
      if (addr === null) return false;
      const plain = unmapAddr(addr);
      return prefixes.some((prefix) => prefixContains(prefix, plain));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Credentials

/** Constant-time string comparison; hashing first keeps the lengths from leaking as well. */
export function tokensEqual(a: string, b: string): boolean {
  const left = createHash("sha256").update(a, "utf8").digest();
  const right = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(left, right);
}

const JWT_AUDIENCES = ["reproq-tui", "reproq-worker"];
const JWT_ISSUER = "reproq-django";
/** Seconds of clock skew tolerated between Django and the worker for `exp` and `nbf`. */
const JWT_LEEWAY_SECONDS = 30;

/**
 * Verifies a Django-issued HS256 token signed with `secret` (UTF-8). Requires `exp`, an accepted
 * `aud`, `superuser: true`, and `iss` reproq-django when present. Never throws.
 */
export async function verifyJwt(token: string, secret: string, nowSeconds?: number): Promise<boolean> {
  if (secret === "" || token.split(".").length !== 3) return false;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ["HS256"],
      audience: JWT_AUDIENCES,
      requiredClaims: ["exp"],
      clockTolerance: JWT_LEEWAY_SECONDS,
      currentDate: nowSeconds === undefined ? undefined : new Date(nowSeconds * 1000),
    });
    if (protectedHeader.alg !== "HS256" || typeof payload.exp !== "number") return false;
    // jose checks `iss` only when told to require it; here it is optional but must be exact.
    if ("iss" in payload && payload.iss !== JWT_ISSUER) return false;
    return payload["superuser"] === true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Limiter for denied requests

export const DEFAULT_UNAUTHORIZED_LIMIT = 30;
export const DEFAULT_UNAUTHORIZED_WINDOW_MS = 60_000;
export const DEFAULT_UNAUTHORIZED_MAX_ENTRIES = 1000;

interface LimiterEntry {
  windowStart: number;
  count: number;
  last: number;
}

/**
 * Fixed window per host, started at the host's first denial. Memory is bounded: idle hosts are
 * swept once per window and, past `maxEntries`, the least recently charged hosts go first (the
 * Map keeps hosts in order of their last charge).
 */
export class UnauthorizedLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, LimiterEntry>();
  private lastSweep: number | null = null;

  constructor(limit: number, windowMs: number, maxEntries: number, now: () => number = () => Date.now()) {
    // Non-positive values fall back to the defaults, as the Go worker did.
    this.limit = limit > 0 ? limit : DEFAULT_UNAUTHORIZED_LIMIT;
    this.windowMs = windowMs > 0 ? windowMs : DEFAULT_UNAUTHORIZED_WINDOW_MS;
    this.maxEntries = maxEntries > 0 ? Math.floor(maxEntries) : DEFAULT_UNAUTHORIZED_MAX_ENTRIES;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records one denial; true while the host is within its limit (401/403), false → 429. */
  charge(host: string): boolean {
    const key = host === "" ? "unknown" : host;
    const now = this.now();
    this.sweepIdle(now);
    let entry = this.entries.get(key);
    if (entry === undefined || now - entry.windowStart >= this.windowMs) {
      entry = { windowStart: now, count: 0, last: now };
    }
    entry.count++;
    entry.last = now;
    this.entries.delete(key);
    this.entries.set(key, entry);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
    return entry.count <= this.limit;
  }

  private sweepIdle(now: number): void {
    if (this.lastSweep !== null && now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, entry] of this.entries) {
      if (now - entry.last >= 2 * this.windowMs) this.entries.delete(key);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The authorize step

export interface AuthRequest {
  method: string;
  path: string;
  /** Bare client IP, no port. */
  remoteAddr: string;
  authorization: string | null;
}

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403 | 429; body: string };

export interface AuthorizerOptions {
  /** Static bearer token; also the HS256 secret for Django-issued JWTs. Empty = no token auth. */
  token: string;
  allowList: AllowList | null;
  limiter: UnauthorizedLimiter;
  logger: Logger;
}

const BEARER_PREFIX = "bearer ";

export class Authorizer {
  private readonly options: AuthorizerOptions;

  constructor(options: AuthorizerOptions) {
    this.options = options;
  }

  async check(req: AuthRequest): Promise<AuthResult> {
    const { token, allowList, limiter, logger } = this.options;
    const remoteHost = normalizeRemoteIp(req.remoteAddr);
    const attrs = { path: req.path, method: req.method, remote_addr: req.remoteAddr, remote_host: remoteHost };

    if (allowList !== null && !allowList.allows(req.remoteAddr)) {
      const withinLimit = limiter.charge(remoteHost);
      logger.warn("Denied request", { ...attrs, reason: "allowlist", rate_limited: !withinLimit });
      return withinLimit ? { ok: false, status: 403, body: "forbidden" } : { ok: false, status: 429, body: "rate limited" };
    }
    if (token === "") return { ok: true };

    const header = req.authorization ?? "";
    if (header.slice(0, BEARER_PREFIX.length).toLowerCase() === BEARER_PREFIX) {
      const credential = header.slice(BEARER_PREFIX.length).trim();
      if (credential !== "" && (tokensEqual(credential, token) || (await verifyJwt(credential, token)))) {
        return { ok: true };
      }
    }

    const withinLimit = limiter.charge(remoteHost);
    logger.warn("Unauthorized request", { ...attrs, rate_limited: !withinLimit });
    return withinLimit ? { ok: false, status: 401, body: "unauthorized" } : { ok: false, status: 429, body: "rate limited" };
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up exposure check

/** True for `localhost`, 127.0.0.0/8 and ::1 (brackets and IPv4-mapped forms accepted). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().replace(/^\[(.*)\]$/, "$1");
  if (bare.toLowerCase() === "localhost") return true;
  const addr = parseAddr(stripZone(bare));
  if (addr === null) return false;
  const b = unmapAddr(addr).bytes;
  if (b.length === 4) return b[0] === 127;
  return b.every((byte, i) => byte === (i === 15 ? 1 : 0));
}

export interface ExposureInput {
  listenHost: string;
  tokenSet: boolean;
  allowListSet: boolean;
  clientCaSet: boolean;
}

/** The start-up warning when the endpoints are reachable beyond loopback with no protection. */
export function describeExposure(input: ExposureInput): string | null {
  if (input.tokenSet || input.allowListSet || input.clientCaSet) return null;
  if (input.listenHost !== "" && isLoopbackHost(input.listenHost)) return null;
  const where = input.listenHost === "" ? "all interfaces" : input.listenHost;
  return (
    `metrics endpoint listens on ${where} (reachable beyond loopback) with no auth token, allow-list or client CA; ` +
    "set metrics.auth_token, metrics.allow_cidrs or metrics.tls_client_ca, or listen on 127.0.0.1"
  );
}
