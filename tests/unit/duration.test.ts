import { describe, expect, test } from "bun:test";
import { DurationError, isGoDuration, parseGoDuration } from "../../src/config/duration.ts";

describe("parseGoDuration", () => {
  test.each([
    ["0", 0],
    ["-0", 0],
    ["+0", 0],
    ["0s", 0],
    ["250ms", 250],
    ["1s", 1000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["1h", 3_600_000],
    ["100ms", 100],
    [".5s", 500],
    ["1.s", 1000],
    ["-1s", -1000],
    ["+5m", 300_000],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["1500μs", 1.5],
    ["2000000ns", 2],
    ["1h1m1s1ms", 3_661_001],
    ["3m3m", 360_000],
  ])("%p → %p ms", (text, millis) => {
    expect(parseGoDuration(text)).toBeCloseTo(millis, 9);
  });

  test("returns +0, never -0", () => {
    expect(Object.is(parseGoDuration("-0s"), 0)).toBe(true);
  });

  test.each([
    ["3600", 'time: missing unit in duration "3600"'],
    ["1.5", 'time: missing unit in duration "1.5"'],
    ["1s5", 'time: missing unit in duration "1s5"'],
    ["1d", 'time: unknown unit "d" in duration "1d"'],
    ["1 s", 'time: unknown unit " s" in duration "1 s"'],
    ["5S", 'time: unknown unit "S" in duration "5S"'],
    ["", 'time: invalid duration ""'],
    ["-", 'time: invalid duration "-"'],
    ["nope", 'time: invalid duration "nope"'],
    [".s", 'time: invalid duration ".s"'],
    ["s", 'time: invalid duration "s"'],
    ["--1s", 'time: invalid duration "--1s"'],
    ["9999999999h", 'time: invalid duration "9999999999h"'],
  ])("%p is rejected with Go's message", (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(new DurationError(message));
  });

  test("errors are DurationError instances", () => {
    expect(() => parseGoDuration("x")).toThrow(DurationError);
  });

  test("isGoDuration mirrors the parser", () => {
    expect(isGoDuration("1m30s")).toBe(true);
    expect(isGoDuration("0")).toBe(true);
    expect(isGoDuration("30")).toBe(false);
    expect(isGoDuration("1 h")).toBe(false);
  });
});
