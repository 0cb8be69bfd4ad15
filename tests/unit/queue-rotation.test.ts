// QueueRotation: the worker's turn order over its queues (the claim serves them in that order).
import { describe, expect, test } from "bun:test";
import { QueueRotation } from "../../src/worker/rotation.ts";

describe("QueueRotation", () => {
  test("starts with the first queue; the turn passes to the queue after the last one served", () => {
    const rotation = new QueueRotation(["a", "b", "c"]);
    expect(rotation.order()).toEqual(["a", "b", "c"]);
    rotation.advancePast("a");
    expect(rotation.order()).toEqual(["b", "c", "a"]);
    rotation.advancePast("c"); // a batch that went b, c
    expect(rotation.order()).toEqual(["a", "b", "c"]);
    rotation.advancePast("b");
    expect(rotation.order()).toEqual(["c", "a", "b"]);
  });

  test("nothing claimed or an unknown queue keeps the turn; duplicates count once", () => {
    const rotation = new QueueRotation(["a", "b", "a", "c"]);
    expect(rotation.order()).toEqual(["a", "b", "c"]);
    rotation.advancePast("b");
    rotation.advancePast(undefined);
    rotation.advancePast("zz");
    expect(rotation.order()).toEqual(["c", "a", "b"]);
  });

  test("one queue: always that queue", () => {
    const rotation = new QueueRotation(["only"]);
    rotation.advancePast("only");
    expect(rotation.order()).toEqual(["only"]);
  });
});
