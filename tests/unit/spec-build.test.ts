import { describe, expect, test } from "bun:test";
import { buildTaskSpec, coerceConcurrencyLimit, formatRunAfter, normalizeConcurrencyKey } from "../../src/spec/build.ts";
import { canonicalJson, specHash } from "../../src/spec/canonical.ts";
import { CONTRACT_SPEC_CANONICAL as CONTRACT_CANONICAL, CONTRACT_SPEC_HASH as CONTRACT_HASH } from "../../src/spec/contract.ts";

describe("buildTaskSpec", () => {
  test("the contract inputs reproduce the contract vector", () => {
    const spec = buildTaskSpec({
      taskPath: "contracts.example_task",
      args: [1, { nested: true }],
      kwargs: { amount: "12.34", notes: "hello", token: "123e4567-e89b-12d3-a456-426614174000" },
      queueName: "default",
      priority: 5,
      lockKey: "user:123",
      concurrencyKey: "account:42",
      concurrencyLimit: 2,
      runAfter: formatRunAfter("2025-01-01T12:00:00+00:00"),
      codeRef: "abc123",
      pipLockHash: "deadbeef",
    });
    expect(canonicalJson(spec)).toBe(CONTRACT_CANONICAL);
    expect(specHash(spec)).toBe(CONTRACT_HASH);
  });

  test("defaults: exactly the backend's keys and values", () => {
    expect(buildTaskSpec({ taskPath: "app.tasks.t" })).toEqual({
      v: 1,
      task_path: "app.tasks.t",
      args: [],
      kwargs: {},
      takes_context: false,
      queue_name: "default",
      priority: 0,
      lock_key: null,
      concurrency_key: null,
      concurrency_limit: 0,
      run_after: null,
      exec: { timeout_seconds: 900, max_attempts: 3 },
      provenance: { code_ref: null, pip_lock_hash: null },
    });
  });

  test("reserved kwargs are removed and used as options when the option is not given", () => {
    const spec = buildTaskSpec({
      taskPath: "a.b",
      kwargs: { x: 1, priority: 7, lock_key: "L", concurrency_key: "C", concurrency_limit: "4", run_after: "2026-01-01T00:00:00+00:00" },
      lockKey: "given",
    });
    expect(spec.kwargs).toEqual({ x: 1 });
    expect(spec.priority).toBe(7);
    expect(spec.lock_key).toBe("given");
    expect(spec.concurrency_key).toBe("C");
    expect(spec.concurrency_limit).toBe(4);
    expect(spec.run_after).toBe("2026-01-01T00:00:00+00:00");
  });

  test("the caller's kwargs object is not modified", () => {
    const kwargs = { priority: 1, a: 2 };
    buildTaskSpec({ taskPath: "a.b", kwargs });
    expect(kwargs).toEqual({ priority: 1, a: 2 });
  });

  test("blank concurrency key → null; bad or negative limit → 0; null priority → 0", () => {
    expect(normalizeConcurrencyKey("   ")).toBeNull();
    expect(normalizeConcurrencyKey("")).toBeNull();
    expect(normalizeConcurrencyKey("k")).toBe("k");
    expect([-1, "abc", null, undefined, Number.NaN, "2.5", {}].map(coerceConcurrencyLimit)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect([3, "3", " 7 ", 2.9, true, "1_0"].map(coerceConcurrencyLimit)).toEqual([3, 3, 7, 2, 1, 10]);
    expect(buildTaskSpec({ taskPath: "a.b", priority: null }).priority).toBe(0);
  });
});

describe("formatRunAfter (Python isoformat of the UTC instant)", () => {
  test("offsets are converted to UTC; fraction kept to microseconds", () => {
    expect(formatRunAfter("2025-01-01T12:00:00+00:00")).toBe("2025-01-01T12:00:00+00:00");
    expect(formatRunAfter("2025-01-01T12:00:00Z")).toBe("2025-01-01T12:00:00+00:00");
    expect(formatRunAfter("2025-01-01T14:30:00+02:30")).toBe("2025-01-01T12:00:00+00:00");
    expect(formatRunAfter("2025-01-01T00:00:00-05:00")).toBe("2025-01-01T05:00:00+00:00");
    expect(formatRunAfter("2026-01-01T12:00:00.123456Z")).toBe("2026-01-01T12:00:00.123456+00:00");
    expect(formatRunAfter("2026-01-01T12:00:00.1234Z")).toBe("2026-01-01T12:00:00.123400+00:00");
    expect(formatRunAfter("2026-01-01T12:00:00.000Z")).toBe("2026-01-01T12:00:00+00:00");
    expect(formatRunAfter("2026-01-01 12:00Z")).toBe("2026-01-01T12:00:00+00:00");
    expect(formatRunAfter("2024-03-01T00:30:00+01:00")).toBe("2024-02-29T23:30:00+00:00");
  });

  test("not a date-time → null; naive → RangeError", () => {
    for (const bad of ["tomorrow", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01", "2025-01-01T00:00:00.1234567Z", "2025-01-01T00:00:00+25:00"]) {
      expect(formatRunAfter(bad)).toBeNull();
    }
    expect(() => formatRunAfter("2025-01-01T12:00:00")).toThrow(RangeError);
  });
});
