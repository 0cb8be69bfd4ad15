import { describe, expect, test } from "bun:test";
import { parseEnvelope } from "../../src/executor/index.ts";
import { parseLenient, rawMemberText, repairNonFiniteTokens } from "../../src/executor/json-text.ts";
import { expectQuick } from "../helpers/timing.ts";

function envelopeOf(stdout: string) {
  const { envelope, problem } = parseEnvelope(stdout);
  if (!envelope) throw new Error(`expected an envelope, got problem: ${problem}`);
  return envelope;
}

function problemOf(stdout: string): string {
  const { envelope, problem } = parseEnvelope(stdout);
  expect(envelope).toBeNull();
  expect(problem).not.toBeNull();
  return problem ?? "";
}

describe("parseEnvelope", () => {
  test("success envelope as Python prints it", () => {
    expect(envelopeOf('{"ok": true, "return": {"a": [1, 2]}}\n')).toEqual({
      ok: true,
      returnJson: '{"a": [1, 2]}',
      exceptionClass: "",
      message: "",
      traceback: "",
    });
  });

  test("failure envelope keeps exception_class, message and traceback", () => {
    const envelope = envelopeOf(JSON.stringify({ ok: false, exception_class: "ValueError", message: "boom", traceback: "Traceback…\n" }));
    expect(envelope).toMatchObject({ ok: false, exceptionClass: "ValueError", message: "boom", traceback: "Traceback…\n", returnJson: null });
  });

  test("the LAST line with a boolean ok wins; noise before it is ignored", () => {
    const stdout = ['{"ok": false, "message": "earlier"}', "log line", '{"level": "info"}', '{"ok": true, "return": 2}', ""].join("\n");
    expect(envelopeOf(stdout)).toMatchObject({ ok: true, returnJson: "2" });
  });

  test("trailing noise after the envelope is skipped too", () => {
    expect(envelopeOf('{"ok": true, "return": 1}\nshutting down\n\n')).toMatchObject({ ok: true, returnJson: "1" });
  });

  test("CRLF line endings", () => {
    expect(envelopeOf('noise\r\n{"ok": true, "return": "x"}\r\n')).toMatchObject({ ok: true, returnJson: '"x"' });
  });

  test("bare NaN / Infinity / -Infinity become null; strings are left alone", () => {
    const envelope = envelopeOf('{"ok": true, "return": {"a": NaN, "b": Infinity, "c": -Infinity, "s": "NaN Infinity"}}');
    expect(envelope.returnJson).toBe('{"a": null, "b": null, "c": null, "s": "NaN Infinity"}');
    expect(JSON.parse(envelope.returnJson ?? "")).toEqual({ a: null, b: null, c: null, s: "NaN Infinity" });
    expect(envelopeOf('{"ok": true, "return": NaN}').returnJson).toBe("null");
  });

  test("return absent → null; return null → the text null", () => {
    expect(envelopeOf('{"ok": true}').returnJson).toBeNull();
    expect(envelopeOf('{"ok": true, "return": null}').returnJson).toBe("null");
  });

  test("return keeps its source text (big integers and decimals survive)", () => {
    expect(envelopeOf('{"ok": true, "return": 123456789012345678901234567890}').returnJson).toBe("123456789012345678901234567890");
    expect(envelopeOf('{"ok": true, "return": [1.0, 2.50]}').returnJson).toBe("[1.0, 2.50]");
    expect(envelopeOf('{"return": "a\\"}{", "ok": true, "x": 1}').returnJson).toBe('"a\\"}{"');
  });

  test("duplicate keys: the last one wins, as in JSON.parse", () => {
    expect(envelopeOf('{"ok": false, "return": 1, "ok": true, "return": 2}')).toMatchObject({ ok: true, returnJson: "2" });
  });

  test("whole-stdout JSON, also pretty-printed over several lines", () => {
    const pretty = JSON.stringify({ ok: false, exception_class: "KeyError", message: "k", return: { inner: [{ ok: true }] } }, null, 2);
    expect(envelopeOf(pretty)).toMatchObject({ ok: false, exceptionClass: "KeyError", returnJson: '{\n    "inner": [\n      {\n        "ok": true\n      }\n    ]\n  }' });
    expect(envelopeOf(`some noise\n${JSON.stringify({ ok: true, return: 5 }, null, 2)}\n`)).toMatchObject({ ok: true, returnJson: "5" });
  });

  test("non-string exception_class / message / traceback are rendered as JSON text", () => {
    const envelope = envelopeOf('{"ok": false, "exception_class": 7, "message": {"detail": "x"}, "traceback": ["a", "b"]}');
    expect(envelope).toMatchObject({ exceptionClass: "7", message: '{"detail":"x"}', traceback: '["a","b"]' });
    expect(envelopeOf('{"ok": false, "message": null}').message).toBe("");
  });

  test("arrays and non-objects are not envelopes", () => {
    expect(problemOf('[{"ok": true}]')).toContain("(JSON, but not an object)");
    expect(problemOf("null")).toContain('last line: "null"');
    expect(problemOf("true\n")).toContain("no result envelope on stdout (5 bytes");
  });

  test("missing ok or non-boolean ok is ignored", () => {
    expect(problemOf('{"return": 1}')).toContain('(a JSON object without a boolean "ok")');
    expect(problemOf('{"ok": "true", "return": 1}')).toContain('without a boolean "ok"');
    expect(problemOf('{"ok": 1}')).toContain('without a boolean "ok"');
    expect(envelopeOf('{"ok": true, "return": 1}\n{"ok": "yes"}')).toMatchObject({ ok: true, returnJson: "1" });
  });

  test("keys are case-sensitive (Python always writes lowercase)", () => {
    expect(parseEnvelope('{"OK": true}').envelope).toBeNull();
  });

  test("problems describe what stdout held", () => {
    expect(problemOf("")).toBe("no result envelope on stdout (stdout was empty)");
    expect(problemOf("  \n\n")).toBe("no result envelope on stdout (4 bytes, all whitespace)");
    expect(problemOf("Traceback (most recent call last):\nValueError: x\n")).toBe(
      'no result envelope on stdout (49 bytes, last line: "ValueError: x")',
    );
    expect(problemOf('{"ok": true, "return": ')).toContain("(not valid JSON)");
    expect(problemOf(`${"y".repeat(500)}\n`)).toContain(`"${"y".repeat(200)}…"`);
  });

  test("a long stdout of noise stays fast", () => {
    const noise = Array.from({ length: 20_000 }, (_, i) => `{"line": ${i}, "v": NaN}`).join("\n");
    const started = performance.now();
    expect(parseEnvelope(`${noise}\n`).envelope).toBeNull();
    expectQuick(performance.now() - started, 300, "parsing 20,000 lines of noise"); // quadratic work would take minutes
  });
});

describe("json text helpers", () => {
  test("repairNonFiniteTokens leaves valid JSON untouched and handles escapes in strings", () => {
    const text = '{"a": "say \\"NaN\\"", "b": [NaN, -Infinity]}';
    expect(repairNonFiniteTokens(text)).toBe('{"a": "say \\"NaN\\"", "b": [null, null]}');
    expect(repairNonFiniteTokens('{"a": 1}')).toBe('{"a": 1}');
  });

  test("parseLenient returns null for text that is not JSON even after repair", () => {
    expect(parseLenient("{nope")).toBeNull();
    expect(parseLenient("NaN")?.value).toBeNull();
  });

  test("rawMemberText finds top-level members only", () => {
    const text = '{"inner": {"return": 1}, "return" : [ 1, {"x": "]"} ] , "z": true}';
    expect(rawMemberText(text, "return")).toBe('[ 1, {"x": "]"} ]');
    expect(rawMemberText(text, "z")).toBe("true");
    expect(rawMemberText(text, "missing")).toBeNull();
    expect(rawMemberText('{"\\u0072eturn": 3}', "return")).toBe("3");
  });
});
