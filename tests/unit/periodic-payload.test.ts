// periodic_tasks.payload_json → args/kwargs (go-worker-contract §6.3, Go scenarios 47–53), and the
// periodic spec + hash (SPEC §6/§8: canonical JSON, not Go's struct-order bytes).
import { createHash } from "node:crypto";
import { describe, expect, test } from "bun:test";
import { PayloadError, parsePeriodicPayload } from "../../src/beat/payload.ts";
import { buildPeriodicSpec, formatScheduledAt } from "../../src/beat/spec.ts";
import { canonicalJson } from "../../src/spec/canonical.ts";

const plain = (value: unknown) => JSON.parse(canonicalJson(value));

describe("parsePeriodicPayload", () => {
  test.each([
    ['{"args":[1,"a"],"kwargs":{"k":"v"}}', [1, "a"], { k: "v" }], // 47 envelope
    ['{"args":[true]}', [true], {}], // 48 args only
    ['{"kwargs":{"a":2}}', [], { a: 2 }], // 49 kwargs only
    ['["x", 3]', ["x", 3], {}], // 50 legacy array
    ['{"flag":true}', [], { flag: true }], // 51 legacy object = kwargs
    ['{"args":[1],"kwargs":{},"extra":1}', [1], {}], // other envelope keys dropped
    ["", [], {}],
    ["{}", [], {}],
    ["null", [], {}], // Go kept null; Python cannot call f(*None)
    ['{"args":null,"kwargs":null}', [], {}],
  ])("%s", (raw, args, kwargs) => {
    const parsed = parsePeriodicPayload(raw);
    expect(plain(parsed.args)).toEqual(args);
    expect(plain(parsed.kwargs)).toEqual(kwargs);
  });

  test.each([
    ['"nope"', "invalid payload JSON"], // 52
    ["42", "invalid payload JSON"],
    ["true", "invalid payload JSON"],
    ["{not json", "invalid payload JSON"],
    ['{"args":{"a":1}}', "invalid periodic args: expected an array, got an object"],
    ['{"args":[],"kwargs":[1]}', "invalid periodic kwargs: expected an object, got an array"],
    ['{"kwargs":"x"}', "invalid periodic kwargs: expected an object, got a string"],
  ])("%s is an error", (raw, message) => {
    expect(() => parsePeriodicPayload(raw)).toThrow(PayloadError);
    expect(() => parsePeriodicPayload(raw)).toThrow(message);
  });

  test("numbers keep Python's int/float distinction and big integers", () => {
    const parsed = parsePeriodicPayload('{"args":[1.0, 1.50, 12345678901234567890], "kwargs":{}}');
    expect(canonicalJson(parsed.args)).toBe("[1.0,1.5,12345678901234567890]");
  });
});

describe("buildPeriodicSpec", () => {
  const row = {
    name: "test_pt",
    taskPath: "myapp.pt",
    queueName: "default",
    priority: 0,
    maxAttempts: 3,
    concurrencyKey: null,
    concurrencyLimit: 0,
    scheduledAt: new Date("2025-01-01T00:00:00.987Z"),
  };

  test("53: the spec has the periodic key set", () => {
    const { spec } = buildPeriodicSpec(row, parsePeriodicPayload('{"args":[1],"kwargs":{"a":1}}'));
    expect(Object.keys(spec).sort()).toEqual(
      ["args", "concurrency_key", "concurrency_limit", "exec", "kwargs", "periodic_name", "priority", "queue_name", "scheduled_at", "task_path"],
    );
    expect(spec.exec).toEqual({ timeout_seconds: 900, max_attempts: 3 });
  });

  test("canonical bytes and hash (Go §6.4 example 1, hashed per SPEC §8)", () => {
    const built = buildPeriodicSpec(row, parsePeriodicPayload('{"args": [1], "kwargs": {"a": 1}}'));
    const expected =
      '{"args":[1],"concurrency_key":null,"concurrency_limit":0,"exec":{"max_attempts":3,"timeout_seconds":900},' +
      '"kwargs":{"a":1},"periodic_name":"test_pt","priority":0,"queue_name":"default",' +
      '"scheduled_at":"2025-01-01T00:00:00Z","task_path":"myapp.pt"}';
    expect(built.json).toBe(expected);
    expect(built.hash).toBe(createHash("sha256").update(expected, "utf8").digest("hex"));
    // Deliberately not the Go struct-order hash (SPEC §8 wins over go-worker-contract §6.4).
    expect(built.hash).not.toBe("faadc8773a0dac18bae98fa2157bf7f7c0c5a37b2aab4c43cf14b6ef3a56941e");
  });

  test("no HTML escaping; non-ASCII raw (canonical, unlike Go)", () => {
    const built = buildPeriodicSpec(
      { ...row, taskPath: "x<y>", queueName: "q", concurrencyKey: "a&b", name: "n" },
      parsePeriodicPayload('{"args": ["<&>", 1.50, "\\u2028"], "kwargs": {"ké": "v\\n"}}'),
    );
    expect(built.json).toBe(
      '{"args":["<&>",1.5,"\u2028"],"concurrency_key":"a&b","concurrency_limit":0,"exec":{"max_attempts":3,"timeout_seconds":900},' +
        '"kwargs":{"ké":"v\\n"},"periodic_name":"n","priority":0,"queue_name":"q","scheduled_at":"2025-01-01T00:00:00Z","task_path":"x<y>"}',
    );
  });

  test("empty queue → default, max_attempts <= 0 → 3", () => {
    const built = buildPeriodicSpec({ ...row, queueName: "", maxAttempts: 0 }, { args: [], kwargs: {} });
    expect(built.queueName).toBe("default");
    expect(built.maxAttempts).toBe(3);
    expect(built.spec.exec).toEqual({ timeout_seconds: 900, max_attempts: 3 });
  });

  test("scheduled_at is RFC 3339 UTC, fraction truncated; each slot hashes differently", () => {
    expect(formatScheduledAt(new Date("2025-06-30T23:59:59.999Z"))).toBe("2025-06-30T23:59:59Z");
    const a = buildPeriodicSpec(row, { args: [], kwargs: {} });
    const b = buildPeriodicSpec({ ...row, scheduledAt: new Date("2025-01-01T00:01:00Z") }, { args: [], kwargs: {} });
    expect(a.hash).not.toBe(b.hash);
  });
});
