import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { SignJWT } from "jose";
import {
  Authorizer,
  describeExposure,
  isLoopbackHost,
  parseAllowList,
  tokensEqual,
  UnauthorizedLimiter,
  verifyJwt,
  type AllowList,
} from "../../src/http/auth.ts";
import { ReproqError } from "../../src/errors.ts";
import type { LogAttrs, Logger } from "../../src/observability/logger.ts";

interface LogLine {
  level: string;
  msg: string;
  attrs: LogAttrs;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (msg: string, attrs: LogAttrs = {}) => void lines.push({ level, msg, attrs });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => logger };
  return logger;
}

const TOKEN = "s3cret-token";

function authorizer(options: { token?: string; allowList?: AllowList | null; limit?: number; lines?: LogLine[] } = {}): Authorizer {
  return new Authorizer({
    token: options.token ?? TOKEN,
    allowList: options.allowList ?? null,
    limiter: new UnauthorizedLimiter(options.limit ?? 30, 60_000, 1000),
    logger: recordingLogger(options.lines ?? []),
  });
}

function request(authorization: string | null, remoteAddr = "127.0.0.1") {
  return { method: "GET", path: "/metrics", remoteAddr, authorization };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function djangoToken(claims: Record<string, unknown>, secret = TOKEN): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

const validClaims = () => ({ aud: "reproq-tui", exp: nowSeconds() + 300, iss: "reproq-django", superuser: true, sub: "1" });

const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** A token built by hand, so the header can say anything. */
function handToken(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string | null): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = secret === null ? "" : createHmac("sha256", secret).update(input).digest("base64url");
  return `${input}.${signature}`;
}

describe("Authorizer (Go scenarios)", () => {
  test("with a token, a request without Authorization gets 401 unauthorized", async () => {
    const lines: LogLine[] = [];
    const result = await authorizer({ lines }).check(request(null));
    expect(result).toEqual({ ok: false, status: 401, body: "unauthorized" });
    expect(lines).toEqual([
      {
        level: "warn",
        msg: "Unauthorized request",
        attrs: { path: "/metrics", method: "GET", remote_addr: "127.0.0.1", remote_host: "127.0.0.1", rate_limited: false },
      },
    ]);
  });

  test("Bearer <token> is allowed, with a case-insensitive prefix and a trimmed credential", async () => {
    const auth = authorizer();
    expect(await auth.check(request(`Bearer ${TOKEN}`))).toEqual({ ok: true });
    expect(await auth.check(request(`bEaReR   ${TOKEN}  `))).toEqual({ ok: true });
  });

  test("a wrong token, another scheme or an empty bearer credential is refused", async () => {
    const auth = authorizer();
    expect(await auth.check(request(`Bearer ${TOKEN}x`))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check(request(`Basic ${TOKEN}`))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check(request(`Bearer${TOKEN}`))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check(request("Bearer   "))).toMatchObject({ ok: false, status: 401 });
  });

  test("no token configured: allowed", async () => {
    expect(await authorizer({ token: "" }).check(request(null))).toEqual({ ok: true });
  });

  test("limiter limit 1: first unauthorized request 401, second 429", async () => {
    const lines: LogLine[] = [];
    const auth = authorizer({ limit: 1, lines });
    expect(await auth.check(request(null))).toEqual({ ok: false, status: 401, body: "unauthorized" });
    expect(await auth.check(request(null))).toEqual({ ok: false, status: 429, body: "rate limited" });
    expect(lines.map((line) => line.attrs["rate_limited"])).toEqual([false, true]);
  });

  test("allow-list 192.0.2.0/24 without token: 198.51.100.10 gets 403, 192.0.2.10 is allowed", async () => {
    const lines: LogLine[] = [];
    const auth = authorizer({ token: "", allowList: parseAllowList("192.0.2.0/24"), lines });
    expect(await auth.check(request(null, "198.51.100.10"))).toEqual({ ok: false, status: 403, body: "forbidden" });
    expect(await auth.check(request(null, "192.0.2.10"))).toEqual({ ok: true });
    expect(lines).toEqual([
      {
        level: "warn",
        msg: "Denied request",
        attrs: { path: "/metrics", method: "GET", remote_addr: "198.51.100.10", remote_host: "198.51.100.10", reason: "allowlist", rate_limited: false },
      },
    ]);
  });

  test("allow-list denials are rate limited too (403 then 429)", async () => {
    const auth = authorizer({ token: "", allowList: parseAllowList("192.0.2.0/24"), limit: 1 });
    expect(await auth.check(request(null, "198.51.100.10"))).toMatchObject({ status: 403 });
    expect(await auth.check(request(null, "198.51.100.10"))).toEqual({ ok: false, status: 429, body: "rate limited" });
  });

  test("allow-list and token both apply: an allowed address still needs the token", async () => {
    const auth = authorizer({ allowList: parseAllowList("192.0.2.0/24") });
    expect(await auth.check(request(null, "192.0.2.10"))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check(request(`Bearer ${TOKEN}`, "192.0.2.10"))).toEqual({ ok: true });
    expect(await auth.check(request(`Bearer ${TOKEN}`, "198.51.100.10"))).toMatchObject({ ok: false, status: 403 });
  });

  test("an IPv4-mapped client is logged with its unmapped remote_host", async () => {
    const lines: LogLine[] = [];
    await authorizer({ lines }).check(request(null, "::ffff:192.0.2.7"));
    expect(lines[0]?.attrs).toMatchObject({ remote_addr: "::ffff:192.0.2.7", remote_host: "192.0.2.7" });
  });

  test("the Authorization header is never logged", async () => {
    const lines: LogLine[] = [];
    await authorizer({ lines }).check(request("Bearer wrong-secret-value"));
    expect(JSON.stringify(lines)).not.toContain("wrong-secret-value");
  });

  test("a Django JWT signed with the configured token is allowed", async () => {
    const jwt = await djangoToken(validClaims());
    expect(await authorizer().check(request(`Bearer ${jwt}`))).toEqual({ ok: true });
  });

  test("a JWT signed with another secret is refused", async () => {
    const jwt = await djangoToken(validClaims(), "other-secret");
    expect(await authorizer().check(request(`Bearer ${jwt}`))).toMatchObject({ ok: false, status: 401 });
  });
});

describe("verifyJwt", () => {
  test("valid token: aud reproq-tui, exp now+5m, iss reproq-django, superuser true", async () => {
    expect(await verifyJwt(await djangoToken(validClaims()), TOKEN)).toBe(true);
  });

  test("aud reproq-worker, an aud array containing one, and a missing iss are accepted", async () => {
    expect(await verifyJwt(await djangoToken({ ...validClaims(), aud: "reproq-worker" }), TOKEN)).toBe(true);
    expect(await verifyJwt(await djangoToken({ ...validClaims(), aud: ["other", "reproq-tui"] }), TOKEN)).toBe(true);
    const { iss: _iss, ...withoutIss } = validClaims();
    expect(await verifyJwt(await djangoToken(withoutIss), TOKEN)).toBe(true);
  });

  test("a hand-built token as Django serialises it is accepted", async () => {
    const token = handToken({ alg: "HS256", typ: "JWT" }, validClaims(), TOKEN);
    expect(await verifyJwt(token, TOKEN)).toBe(true);
  });

  test("tampered signature is rejected", async () => {
    const [header, payload, signature = ""] = (await djangoToken(validClaims())).split(".");
    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await verifyJwt(`${header}.${payload}.${flipped}`, TOKEN)).toBe(false);
  });

  test("tampered payload (superuser granted after signing) is rejected", async () => {
    const [header, , signature] = (await djangoToken({ ...validClaims(), superuser: false })).split(".");
    const forged = b64url(JSON.stringify(validClaims()));
    expect(await verifyJwt(`${header}.${forged}.${signature}`, TOKEN)).toBe(false);
  });

  test("wrong aud is rejected, also as an array without an accepted value", async () => {
    expect(await verifyJwt(await djangoToken({ ...validClaims(), aud: "someone-else" }), TOKEN)).toBe(false);
    expect(await verifyJwt(await djangoToken({ ...validClaims(), aud: ["a", "b"] }), TOKEN)).toBe(false);
    const { aud: _aud, ...withoutAud } = validClaims();
    expect(await verifyJwt(await djangoToken(withoutAud), TOKEN)).toBe(false);
  });

  test("expired exp is rejected; within the 30 s leeway it is accepted", async () => {
    const now = nowSeconds();
    expect(await verifyJwt(await djangoToken({ ...validClaims(), exp: now - 120 }), TOKEN)).toBe(false);
    const token = await djangoToken({ ...validClaims(), exp: now - 10 });
    expect(await verifyJwt(token, TOKEN, now)).toBe(true);
    expect(await verifyJwt(token, TOKEN, now + 31)).toBe(false);
  });

  test("missing exp is rejected, and a non-numeric exp too", async () => {
    const { exp: _exp, ...withoutExp } = validClaims();
    expect(await verifyJwt(await djangoToken(withoutExp), TOKEN)).toBe(false);
    expect(await verifyJwt(handToken({ alg: "HS256", typ: "JWT" }, { ...validClaims(), exp: "tomorrow" }, TOKEN), TOKEN)).toBe(false);
  });

  test("nbf in the future is rejected beyond the leeway", async () => {
    const now = nowSeconds();
    const token = await djangoToken({ ...validClaims(), nbf: now + 120 });
    expect(await verifyJwt(token, TOKEN, now)).toBe(false);
    expect(await verifyJwt(token, TOKEN, now + 100)).toBe(true);
  });

  test("superuser false, missing or truthy-but-not-true is rejected", async () => {
    expect(await verifyJwt(await djangoToken({ ...validClaims(), superuser: false }), TOKEN)).toBe(false);
    expect(await verifyJwt(await djangoToken({ ...validClaims(), superuser: "true" }), TOKEN)).toBe(false);
    expect(await verifyJwt(await djangoToken({ ...validClaims(), superuser: 1 }), TOKEN)).toBe(false);
    const { superuser: _superuser, ...withoutSuperuser } = validClaims();
    expect(await verifyJwt(await djangoToken(withoutSuperuser), TOKEN)).toBe(false);
  });

  test("wrong iss is rejected, and a non-string iss too", async () => {
    expect(await verifyJwt(await djangoToken({ ...validClaims(), iss: "evil" }), TOKEN)).toBe(false);
    expect(await verifyJwt(handToken({ alg: "HS256", typ: "JWT" }, { ...validClaims(), iss: 42 }, TOKEN), TOKEN)).toBe(false);
  });

  test("alg none is rejected, with or without a signature part", async () => {
    expect(await verifyJwt(handToken({ alg: "none", typ: "JWT" }, validClaims(), null), TOKEN)).toBe(false);
    expect(await verifyJwt(handToken({ alg: "none", typ: "JWT" }, validClaims(), TOKEN), TOKEN)).toBe(false);
    expect(await authorizer().check(request(`Bearer ${handToken({ alg: "none" }, validClaims(), null)}`))).toMatchObject({ status: 401 });
  });

  test("another algorithm (HS512) with a valid signature is rejected", async () => {
    const token = await new SignJWT(validClaims()).setProtectedHeader({ alg: "HS512" }).sign(new TextEncoder().encode(TOKEN));
    expect(await verifyJwt(token, TOKEN)).toBe(false);
  });

  test("malformed input never throws", async () => {
    for (const token of ["", "a.b", "a.b.c.d", "...", "not a jwt", "e30.e30.e30"]) expect(await verifyJwt(token, TOKEN)).toBe(false);
    expect(await verifyJwt(await djangoToken(validClaims()), "")).toBe(false);
  });
});

describe("parseAllowList", () => {
  test('"192.0.2.0/24, 2001:db8::/32, 127.0.0.1, localhost" allows and denies like the Go worker', () => {
    const list = parseAllowList("192.0.2.0/24, 2001:db8::/32, 127.0.0.1, localhost");
    expect(list).not.toBeNull();
    for (const ip of ["192.0.2.10", "2001:db8::1", "127.0.0.1", "::1", "::ffff:192.0.2.10", "::ffff:c000:20a", "2001:db8::1%eth0"]) {
      expect([ip, list?.allows(ip)]).toEqual([ip, true]);
    }
    for (const ip of ["198.51.100.1", "2001:db9::1", "127.0.0.2", "::2", "::ffff:198.51.100.1", "", "garbage", "192.0.2.300", "192.0.2.010"]) {
      expect([ip, list?.allows(ip)]).toEqual([ip, false]);
    }
  });

  test("a list of entries works like the comma string; entries may themselves hold commas", () => {
    const list = parseAllowList(["10.0.0.0/8", " ", "192.0.2.1, 2001:db8::/32"]);
    expect(list?.allows("10.1.2.3")).toBe(true);
    expect(list?.allows("192.0.2.1")).toBe(true);
    expect(list?.allows("2001:db8:ffff::1")).toBe(true);
    expect(list?.allows("192.0.2.2")).toBe(false);
  });

  test("host bits may be set in a prefix; odd prefix lengths match bit by bit", () => {
    const list = parseAllowList("192.0.2.10/24, 10.0.0.0/9, ::/0");
    expect(list?.allows("192.0.2.200")).toBe(true);
    expect(list?.allows("10.127.255.255")).toBe(true);
    expect(list?.allows("10.128.0.0")).toBe(false);
    expect(list?.allows("fe80::1")).toBe(true);
    // ::/0 covers IPv6 only; IPv4 (and unmapped IPv4) stays outside it.
    const v6Only = parseAllowList("::/0");
    expect(v6Only?.allows("2001:db8::1")).toBe(true);
    expect(v6Only?.allows("192.0.2.1")).toBe(false);
    expect(v6Only?.allows("::ffff:192.0.2.1")).toBe(false);
  });

  test('not-a-cidr is an error with the exact message', () => {
    expect(() => parseAllowList("not-a-cidr")).toThrow(new ReproqError("config", 'invalid metrics allowlist address "not-a-cidr"'));
    try {
      parseAllowList("127.0.0.1, not-a-cidr");
      throw new Error("expected a ReproqError");
    } catch (error) {
      expect(error).toBeInstanceOf(ReproqError);
      expect((error as ReproqError).code).toBe("config");
      expect((error as ReproqError).message).toBe('invalid metrics allowlist address "not-a-cidr"');
    }
  });

  test("bad prefixes are errors with the prefix message", () => {
    for (const entry of ["192.0.2.0/33", "2001:db8::/129", "fe80::%eth0/64", "192.0.2.0/", "/24", "192.0.2.0/x", "192.0.2.0/024", "1.2.3/8"]) {
      expect(() => parseAllowList(entry)).toThrow(`invalid metrics allowlist prefix "${entry}"`);
    }
  });

  test("bad addresses are errors with the address message", () => {
    for (const entry of ["256.0.0.1", "01.2.3.4", "1.2.3", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::ffff:1.2.3.256"]) {
      expect(() => parseAllowList(entry)).toThrow(`invalid metrics allowlist address "${entry}"`);
    }
  });

  test('" , " and "" mean no allow-list', () => {
    expect(parseAllowList(" , ")).toBeNull();
    expect(parseAllowList("")).toBeNull();
    expect(parseAllowList([])).toBeNull();
    expect(parseAllowList([" ", ","])).toBeNull();
  });

  test("LOCALHOST in any case adds both loopback addresses", () => {
    const list = parseAllowList("LocalHost");
    expect(list?.size).toBe(2);
    expect(list?.allows("127.0.0.1")).toBe(true);
    expect(list?.allows("::1")).toBe(true);
    expect(list?.allows("127.0.0.2")).toBe(false);
  });
});

describe("UnauthorizedLimiter", () => {
  test("memory is bounded: 5000 distinct hosts with maxEntries 100 leave at most 100, the newest tracked", () => {
    let clock = 0;
    const limiter = new UnauthorizedLimiter(1, 60_000, 100, () => clock);
    for (let i = 0; i < 5000; i++) {
      clock++;
      limiter.charge(`10.0.${Math.floor(i / 256)}.${i % 256}`);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
    expect(limiter.size).toBe(100);
    // The newest host is still tracked: its second denial within the window is limited.
    expect(limiter.charge("10.0.19.135")).toBe(false);
    // An evicted early host starts fresh.
    expect(limiter.charge("10.0.0.0")).toBe(true);
  });

  test("the least recently charged host is evicted first", () => {
    const limiter = new UnauthorizedLimiter(1, 60_000, 2, () => 0);
    limiter.charge("a");
    limiter.charge("b");
    limiter.charge("a"); // "a" is now the most recent
    limiter.charge("c"); // evicts "b"
    expect(limiter.size).toBe(2);
    expect(limiter.charge("a")).toBe(false);
    expect(limiter.charge("b")).toBe(true);
  });

  test("the window resets with an injected clock", () => {
    let clock = 1_000;
    const limiter = new UnauthorizedLimiter(2, 10_000, 10, () => clock);
    expect(limiter.charge("h")).toBe(true);
    expect(limiter.charge("h")).toBe(true);
    expect(limiter.charge("h")).toBe(false);
    clock += 9_999;
    expect(limiter.charge("h")).toBe(false);
    clock += 1; // exactly one window after the first denial
    expect(limiter.charge("h")).toBe(true);
    expect(limiter.charge("h")).toBe(true);
    expect(limiter.charge("h")).toBe(false);
  });

  test("idle hosts are swept after two windows", () => {
    let clock = 0;
    const limiter = new UnauthorizedLimiter(5, 1_000, 100, () => clock);
    limiter.charge("idle");
    clock = 2_000;
    limiter.charge("active");
    expect(limiter.size).toBe(1);
  });

  test("hosts are counted separately and an empty host counts as unknown", () => {
    const limiter = new UnauthorizedLimiter(1, 60_000, 10, () => 0);
    expect(limiter.charge("192.0.2.1")).toBe(true);
    expect(limiter.charge("192.0.2.2")).toBe(true);
    expect(limiter.charge("")).toBe(true);
    expect(limiter.charge("unknown")).toBe(false);
  });

  test("non-positive settings fall back to the defaults (30 per window)", () => {
    const limiter = new UnauthorizedLimiter(0, 0, 0, () => 0);
    for (let i = 0; i < 30; i++) expect(limiter.charge("h")).toBe(true);
    expect(limiter.charge("h")).toBe(false);
  });
});

describe("tokensEqual", () => {
  test("equal strings match; different contents or lengths do not", () => {
    expect(tokensEqual("abc", "abc")).toBe(true);
    expect(tokensEqual("", "")).toBe(true);
    expect(tokensEqual("abc", "abd")).toBe(false);
    expect(tokensEqual("abc", "abcd")).toBe(false);
    expect(tokensEqual("", "a")).toBe(false);
    expect(tokensEqual("é", "e\u0301")).toBe(false);
  });
});

describe("exposure warning", () => {
  test("isLoopbackHost", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) expect([host, isLoopbackHost(host)]).toEqual([host, true]);
    for (const host of ["", "0.0.0.0", "::", "192.0.2.1", "example.com", "::2", "128.0.0.1"]) expect([host, isLoopbackHost(host)]).toEqual([host, false]);
  });

  test("warns when reachable beyond loopback with no token, allow-list or client CA", () => {
    const open = { tokenSet: false, allowListSet: false, clientCaSet: false };
    for (const listenHost of ["", "0.0.0.0", "::", "192.0.2.5", "worker.internal"]) {
      const warning = describeExposure({ listenHost, ...open });
      expect(warning).toBeString();
      expect(warning).toContain("no auth token, allow-list or client CA");
    }
    expect(describeExposure({ listenHost: "", ...open })).toContain("all interfaces");
  });

  test("no warning on loopback or when any protection is set", () => {
    const open = { tokenSet: false, allowListSet: false, clientCaSet: false };
    for (const listenHost of ["127.0.0.1", "localhost", "::1"]) expect(describeExposure({ listenHost, ...open })).toBeNull();
    expect(describeExposure({ listenHost: "0.0.0.0", ...open, tokenSet: true })).toBeNull();
    expect(describeExposure({ listenHost: "0.0.0.0", ...open, allowListSet: true })).toBeNull();
    expect(describeExposure({ listenHost: "0.0.0.0", ...open, clientCaSet: true })).toBeNull();
  });
});
