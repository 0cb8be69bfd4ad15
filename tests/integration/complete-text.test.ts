// summarizeLastError and the text repairs behind every completion (pure), plus proof that the cut
// text is accepted by PostgreSQL where Go's byte slice was not (§3.5 #12).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cutUtf8, jsonTextForPostgres, summarizeLastError, textForPostgres } from "../../src/queue/text.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const bytes = (s: string) => new TextEncoder().encode(s).length;

describe("summarizeLastError", () => {
  test("exception_class: message, else message, else kind", () => {
    expect(summarizeLastError({ kind: "app_error", message: "bad value", exception_class: "ValueError" })).toBe("ValueError: bad value");
    expect(summarizeLastError({ kind: "app_error", message: "bad value", exception_class: "" })).toBe("bad value");
    expect(summarizeLastError({ kind: "timeout", message: "" })).toBe("timeout");
    expect(summarizeLastError({ kind: "app_error", message: "", exception_class: "KeyError" })).toBe("KeyError");
  });

  test("non-string values are rendered as JSON, not Go's %v", () => {
    expect(summarizeLastError({ kind: "app_error", message: 1e6 as unknown as string })).toBe("1000000");
    expect(summarizeLastError({ kind: "app_error", message: { a: [1, true] } as unknown as string })).toBe('{"a":[1,true]}');
    expect(summarizeLastError({ kind: "app_error", message: null as unknown as string })).toBe("app_error");
    expect(summarizeLastError({ kind: "x", message: "m", exception_class: 42 })).toBe("42: m");
  });

  test("cut to 1024 bytes on a character boundary", () => {
    const summary = summarizeLastError({ kind: "app_error", message: "é".repeat(2000) });
    expect(bytes(summary)).toBe(1024);
    expect(summary).toBe("é".repeat(512));
    const emoji = summarizeLastError({ kind: "app_error", message: `a${"😀".repeat(300)}` });
    expect(bytes(emoji)).toBe(1021); // "a" + 255 four-byte emoji; a 256th would need 1025
    expect(emoji.isWellFormed()).toBe(true);
  });

  test("NUL and lone surrogates are replaced so PostgreSQL accepts the text", () => {
    expect(summarizeLastError({ kind: "k", message: "a\0b\ud800" })).toBe("a\uFFFDb\uFFFD");
  });
});

describe("cutUtf8 / textForPostgres / jsonTextForPostgres", () => {
  test("cutUtf8 keeps short text as is and never splits a sequence", () => {
    expect(cutUtf8("héllo", 1024)).toBe("héllo");
    expect(cutUtf8("aé", 2)).toBe("a");
    expect(cutUtf8("aé", 3)).toBe("aé");
    expect(cutUtf8("€€", 5)).toBe("€");
    expect(cutUtf8("😀", 3)).toBe("");
  });

  test("textForPostgres leaves normal text untouched", () => {
    const text = "naïve — 日本語 😀";
    expect(textForPostgres(text)).toBe(text);
  });

  test("jsonTextForPostgres keeps the bytes of normal JSON and repairs only what jsonb refuses", () => {
    const normal = '{"z": 1,  "a": "\\u00e9 \\ud83d\\ude00"}';
    expect(jsonTextForPostgres(normal)).toBe(normal);
    expect(JSON.parse(jsonTextForPostgres('{"k\\u0000": ["\\u0000", "\\ud800"]}'))).toEqual({ "k\uFFFD": ["\uFFFD", "\uFFFD"] });
    expect(jsonTextForPostgres("not json \\u0000")).toBe("not json \\u0000");
    expect(JSON.parse(jsonTextForPostgres('["\\ud83d\\ud83d\\ude00"]'))).toEqual(["\uFFFD😀"]); // high, then a pair
  });
});

describe("PostgreSQL accepts what the helpers produce", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  test("a 1024-byte cut of 2000 'é' is valid text; Go's byte slice would not be", async () => {
    const summary = summarizeLastError({ kind: "app_error", message: `x${"é".repeat(2000)}` });
    const [row] = await db.sql<{ octets: number }[]>`select octet_length(${summary}::text) as octets`;
    expect(row!.octets).toBe(1023);
    // The Go way: the first 1024 bytes end in half an "é".
    const goCut = new TextEncoder().encode(`x${"é".repeat(2000)}`).subarray(0, 1024);
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(goCut)).toThrow();
  });

  test("repaired JSON is accepted by jsonb", async () => {
    const repaired = jsonTextForPostgres('{"s": "a\\u0000b", "t": "\\udc00"}');
    const [row] = await db.sql<{ v: unknown }[]>`select ${repaired}::text::jsonb as v`;
    expect(row!.v).toEqual({ s: "a\uFFFDb", t: "\uFFFD" });
  });
});
