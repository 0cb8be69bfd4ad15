import { describe, expect, test } from "bun:test";
import {
  canonicalJson,
  CanonicalJsonError,
  compareCodePoints,
  parseJsonPreservingNumbers,
  PyFloat,
  pythonFloatRepr,
  specHash,
} from "../../src/spec/canonical.ts";
import { CONTRACT_SPEC_CANONICAL, CONTRACT_SPEC_HASH } from "../../src/spec/contract.ts";

// django-contract §2.2; the literal is repeated here so a change to src/spec/contract.ts is noticed.
const CONTRACT_CANONICAL = CONTRACT_SPEC_CANONICAL;
const CONTRACT_HASH = "2d6721014757fa10799d528b6b15aee6c76a841b9ea74e187875f4abfcdbedd5";

describe("canonicalJson: the contract vector", () => {
  test("re-canonicalising the contract document (keys shuffled) gives the same 445 bytes and hash", () => {
    const parsed = JSON.parse(CONTRACT_CANONICAL) as Record<string, unknown>;
    const shuffled = Object.fromEntries(Object.entries(parsed).reverse());
    const text = canonicalJson(shuffled);
    expect(text).toBe(CONTRACT_CANONICAL);
    expect(new TextEncoder().encode(text).length).toBe(445);
    expect(specHash(shuffled)).toBe(CONTRACT_HASH);
    expect(CONTRACT_SPEC_HASH).toBe(CONTRACT_HASH);
    expect(text.startsWith('{"args":[1,{"nested":true}],"concurrency_key":"account:42"')).toBe(true);
  });

  test("a changed field changes the hash", () => {
    const parsed = JSON.parse(CONTRACT_CANONICAL) as Record<string, unknown>;
    expect(specHash({ ...parsed, priority: 6 })).not.toBe(CONTRACT_HASH);
    expect(specHash({ ...parsed, lock_key: null })).not.toBe(CONTRACT_HASH);
  });
});

describe("canonicalJson: key order", () => {
  test("by code point, not UTF-16 unit: astral characters sort after U+E000–U+FFFF", () => {
    // Expected from Python: json.dumps({...}, sort_keys=True, ensure_ascii=False, separators=(",",":"))
    const value = { "\ue000": 1, "\u{1F600}": 2, a: 3, "\uffff": 4, "\ud7ff": 5 };
    expect(canonicalJson(value)).toBe('{"a":3,"\ud7ff":5,"\ue000":1,"\uffff":4,"\u{1F600}":2}');
    // JS's default sort would put the emoji (0xD83D…) before U+E000.
    expect(Object.keys(value).sort()).toEqual(["a", "\ud7ff", "\u{1F600}", "\ue000", "\uffff"]);
  });

  test("nested objects are sorted too; arrays keep their order; prefixes first", () => {
    expect(canonicalJson({ b: [3, 1, { z: 1, y: 2 }], a: { bb: 1, b: 2 } })).toBe('{"a":{"b":2,"bb":1},"b":[3,1,{"y":2,"z":1}]}');
  });

  test("compareCodePoints agrees with code point order on mixed strings", () => {
    const words = ["\u{10000}", "\uffff", "\ue000", "\ud7ff", "a", "", "ab", "\u{1F600}x", "\u{1F600}"];
    const byCodePoints = [...words].sort((x, y) => {
      const a = Array.from(x, (c) => c.codePointAt(0)!);
      const b = Array.from(y, (c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return a.length - b.length;
    });
    expect([...words].sort(compareCodePoints)).toEqual(byCodePoints);
  });
});

describe("canonicalJson: strings", () => {
  test("escapes exactly what Python escapes, lowercase \\u00xx", () => {
    const value = { a: '\u0000\u0001\u001f\u007f\u2028<&"\\\b\f\n\r\t é 😀', "\u001b": "\u001B" };
    // Python: {"\u001b":"\u001b","a":"\u0000\u0001\u001f<DEL>\u2028<&\"\\\b\f\n\r\t é 😀"} with DEL/U+2028 raw
    expect(canonicalJson(value)).toBe('{"\\u001b":"\\u001b","a":"\\u0000\\u0001\\u001f\u007f\u2028<&\\"\\\\\\b\\f\\n\\r\\t é 😀"}');
  });

  test("non-ASCII is raw UTF-8 in the hash input", () => {
    expect(canonicalJson(["é"])).toBe('["é"]');
    expect(specHash(["é"])).toBe(new Bun.CryptoHasher("sha256").update('["é"]').digest("hex"));
  });

  test("unpaired surrogates are refused (Python's utf-8 encode would raise)", () => {
    expect(() => canonicalJson({ a: "\ud800" })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ "\udc00": 1 })).toThrow(CanonicalJsonError);
  });
});

describe("canonicalJson: numbers and other values", () => {
  test("integral JS numbers are ints; others use Python's float repr", () => {
    expect(canonicalJson([1, -5, -0, 0.5, 1e-5, 1.5e16, 2 ** 60, 1e21, 0.1])).toBe("[1,-5,0,0.5,1e-05,15000000000000000,1152921504606846976,1000000000000000000000,0.1]");
  });

  test("PyFloat keeps .0; bigint keeps every digit", () => {
    expect(canonicalJson([new PyFloat(1), new PyFloat(-0), 12345678901234567890n])).toBe("[1.0,-0.0,12345678901234567890]");
  });

  test("parseJsonPreservingNumbers + canonicalJson = Python json.loads + json.dumps", () => {
    const text = "[1.0, 1.5, 100, 1e2, 12345678901234567890, -0, 1E-7, 0.1, 1e16, 3.0e15]";
    // Expected printed by CPython 3 for the same text.
    expect(canonicalJson(parseJsonPreservingNumbers(text))).toBe("[1.0,1.5,100,100.0,12345678901234567890,0,1e-07,0.1,1e+16,3000000000000000.0]");
  });

  test("pythonFloatRepr matches CPython repr", () => {
    const cases: [number, string][] = [
      [0.5, "0.5"], [1e-5, "1e-05"], [1.5e16, "1.5e+16"], [1e16, "1e+16"], [1e15, "1000000000000000.0"],
      [123.456, "123.456"], [0.0001, "0.0001"], [1e-7, "1e-07"], [2.5e-300, "2.5e-300"],
      [1.7976931348623157e308, "1.7976931348623157e+308"], [-0, "-0.0"], [100, "100.0"], [12345678.9, "12345678.9"], [-2.5, "-2.5"],
    ];
    for (const [n, repr] of cases) expect(pythonFloatRepr(n)).toBe(repr);
  });

  test("null, booleans, empty containers", () => {
    expect(canonicalJson({ n: null, t: true, f: false, a: [], o: {} })).toBe('{"a":[],"f":false,"n":null,"o":{},"t":true}');
  });

  test("NaN, Infinity, undefined, functions, Dates and class instances are refused", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, undefined, () => 1, new Date(0), new Map()]) {
      expect(() => canonicalJson({ x: bad })).toThrow(CanonicalJsonError);
    }
    expect(() => canonicalJson([undefined])).toThrow("$[0]: undefined is not a JSON value");
  });
});
