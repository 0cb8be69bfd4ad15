// The demo's scenario: a realistic mix of TypeScript tasks, enqueued exactly as reproq-django
// would (canonical specs via spec/ and queue/): fast and slow tasks, flaky ones that succeed on a
// retry, failing ones that end in the dead-letter queue, a chain, a chord, a delayed task, a
// periodic task (enqueued by beat) and a rate-limited queue.
import type { Sql } from "../db/client.ts";
import { periodicTaskUpsertDueNow, taskInsertWorkflowMember, workflowRunInsert } from "../queue/demo.ts";
import { clockIsoAfter, enqueueRowFromSpec, rateLimitSet, taskEnqueue } from "../queue/index.ts";
import { buildTaskSpec, type TaskSpecInput } from "../spec/index.ts";

export const DEMO_QUEUES = ["default", "reports", "emails"] as const;
export const DEMO_TASK_PREFIX = "demo.";
export const PERIODIC_TASK_PATH = "demo.heartbeat";

export interface ScenarioSize {
  fast: number;
  slow: number;
  flaky: number;
  failing: number;
  emails: number;
  chordMembers: number;
}

export const DEFAULT_SCENARIO: ScenarioSize = { fast: 300, slow: 12, flaky: 6, failing: 3, emails: 20, chordMembers: 6 };

export interface Seeded {
  /** Rows inserted now (the periodic run is added by beat). */
  enqueued: number;
  /** Lines describing the mix, for the start-up message. */
  description: string[];
  /** Rows expected in total once beat has enqueued the periodic run. */
  expectedRows: number;
}

function row(input: TaskSpecInput) {
  return enqueueRowFromSpec(buildTaskSpec(input));
}

export async function seedScenario(sql: Sql, size: ScenarioSize = DEFAULT_SCENARIO): Promise<Seeded> {
  let enqueued = 0;
  const add = async (input: TaskSpecInput): Promise<string> => {
    const result = await taskEnqueue(sql, row(input));
    if (result.created) enqueued += 1;
    return result.resultId;
  };

  // A rate limit on the emails queue: 10 per second, bursts of 3.
  await rateLimitSet(sql, { key: "queue:emails", tokensPerSecond: 10, burstSize: 3 });

  for (let i = 0; i < size.fast; i++) await add({ taskPath: "demo.fast", args: [`order-${i}`], priority: i % 3 });
  for (let i = 0; i < size.slow; i++) {
    await add({ taskPath: "demo.slow", kwargs: { name: `monthly-report-${i}`, ms: 300 + ((i * 137) % 900) }, queueName: "reports", timeoutSeconds: 30 });
  }
  for (let i = 0; i < size.flaky; i++) await add({ taskPath: "demo.flaky", args: [i], kwargs: { succeedOn: 2 + (i % 2) }, maxAttempts: 4 });
  for (let i = 0; i < size.failing; i++) await add({ taskPath: "demo.failing", kwargs: { card: String(4242 + i) }, maxAttempts: 2 });
  for (let i = 0; i < size.emails; i++) await add({ taskPath: "demo.sendEmail", args: [`user${i}@example.com`], queueName: "emails" });

  // A chain: fetch → transform → publish (each step WAITING on the one before).
  const chainId = crypto.randomUUID();
  let parent: string | null = null;
  for (const step of ["demo.fetchOrders", "demo.transformOrders", "demo.publishReport"]) {
    parent = await taskInsertWorkflowMember(sql, {
      ...row({ taskPath: step, kwargs: { chain: chainId } }),
      status: parent === null ? "READY" : "WAITING",
      parentId: parent,
      workflowId: chainId,
      waitCount: parent === null ? 0 : 1,
    });
    enqueued += 1;
  }

  // A chord: N resizes in parallel, then one callback once all of them succeeded.
  const chordId = crypto.randomUUID();
  const callback = await taskInsertWorkflowMember(sql, {
    ...row({ taskPath: "demo.buildGallery", kwargs: { chord: chordId } }),
    status: "WAITING",
    parentId: null,
    workflowId: chordId,
    waitCount: size.chordMembers,
  });
  enqueued += 1;
  for (let i = 0; i < size.chordMembers; i++) {
    await taskInsertWorkflowMember(sql, {
      ...row({ taskPath: "demo.resizeImage", args: [`photo-${i}.jpg`], kwargs: { chord: chordId } }),
      status: "READY",
      parentId: null,
      workflowId: chordId,
      waitCount: 0,
    });
    enqueued += 1;
  }
  await workflowRunInsert(sql, { workflowId: chordId, expected: size.chordMembers, callbackResultId: callback });

  // A delayed task: due three seconds from now (database clock).
  await add({ taskPath: "demo.sendReminder", args: ["cart-abandoned"], runAfter: await clockIsoAfter(sql, { seconds: 3 }) });

  // A periodic task, due now: beat enqueues it (every minute afterwards).
  await periodicTaskUpsertDueNow(sql, {
    name: "demo-heartbeat", cronExpr: "* * * * *", taskPath: PERIODIC_TASK_PATH, payloadJson: "{}", queueName: "default", maxAttempts: 3,
  });

  return {
    enqueued,
    expectedRows: enqueued + 1,
    description: [
      `${size.fast} fast, ${size.slow} slow (queue reports), ${size.flaky} flaky (retried), ${size.failing} failing (dead-letter)`,
      `${size.emails} emails on a rate-limited queue (10/s), a 3-step chain, a chord of ${size.chordMembers} + callback`,
      "a task delayed by 3 s, and a periodic task enqueued by beat",
    ],
  };
}
