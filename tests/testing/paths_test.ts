/**
 * Paths from the chart: every state of every bundled example is reached (checked against the
 * states read from the definition object, or the SCXML text), every reachable transition is
 * taken by the simple paths, and the search's rules (waits, context, transient states,
 * bounds) hold on small charts.
 */
import assert from "node:assert/strict";
import { defineMachine, type Machine } from "../../lib/core/machine.ts";
import type { Snapshot } from "../../lib/core/types.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";
import {
  candidateEvents,
  describePath,
  describeStep,
  type Path,
  type PathOptions,
  shortestPaths,
  simplePaths,
} from "../../lib/testing/paths.ts";
import { trackCoverage } from "../../lib/testing/coverage.ts";
import { runPath } from "../../lib/testing/steps.ts";
import { door } from "../../examples/door.ts";
import { trafficLight } from "../../examples/traffic_light.ts";
import { vendingMachine } from "../../examples/vending_machine.ts";
import { buildPipeline } from "../../examples/build_pipeline.ts";
import {
  createOrderWorkflow,
  type PaymentReceipt,
  shippingMachine,
  simulatedGateway,
} from "../../examples/order_workflow.ts";
import { turnstile } from "../../examples/embed.ts";

// deno-lint-ignore no-explicit-any
type AnyMachine = Machine<any, any>;

interface StateDef {
  type?: string;
  id?: string;
  states?: Record<string, StateDef>;
}

/** The states of a definition object, computed without the engine: dotted paths, no history. */
function statesOfDefinition(def: StateDef, prefix = ""): string[] {
  const out: string[] = [];
  for (const [key, s] of Object.entries(def.states ?? {})) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (s.type === "history") continue;
    out.push(s.id ?? path);
    out.push(...statesOfDefinition(s, path));
  }
  return out;
}

/** The states of an SCXML document, read from its text. */
function statesOfScxml(xml: string): string[] {
  const body = xml.replace(/<!--[\s\S]*?-->/g, "");
  return [...body.matchAll(/<(?:state|parallel|final)\s[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
}

function sorted(list: Iterable<string>): string[] {
  return [...new Set(list)].sort();
}

/** Replays every path; each must reach its state (in the final configuration or on the way). */
async function replayAll(machine: AnyMachine, paths: Path[], context?: object): Promise<void> {
  for (const path of paths) {
    const entered = new Set<string>();
    const coverage = trackCoverage(machine);
    const { instance } = await runPath(machine, path, { coverage, context });
    for (const [id, n] of Object.entries(coverage.report().states.hits)) {
      if (n > 0) entered.add(id);
    }
    if (instance.status === "active") instance.stop();
    assert(entered.has(path.state), `${describePath(path)}: never entered ${path.state}`);
  }
}

async function assertReachesEveryState(
  machine: AnyMachine,
  states: string[],
  options: PathOptions = {},
): Promise<Path[]> {
  const paths = await shortestPaths(machine, options);
  assert.deepEqual(sorted(paths.map((p) => p.state)), sorted(states));
  await replayAll(machine, paths, options.context);
  return paths;
}

const DOOR_SAMPLES = {
  LOCK: [{ code: "0000" }, { code: "1234" }],
  UNLOCK: [{ code: "0000" }, { code: "1234" }],
  RESET: [{ code: "0000" }, { code: "1234" }],
};

const VENDING_SAMPLES = {
  COIN: [{ cents: 100 }, { cents: 50 }],
  SELECT: [{ slot: "A1" }, { slot: "D4" }, { slot: "Z9" }],
  RESTOCK: [{ slot: "D4", count: 1 }],
};

Deno.test("shortestPaths: every state of the door, with code samples for the guards", async () => {
  const paths = await assertReachesEveryState(door, statesOfDefinition(door.config), {
    samples: DOOR_SAMPLES,
  });
  const byState = new Map(paths.map((p) => [p.state, p]));
  assert.deepEqual(describePath(byState.get("secure.closed")!), "reaches secure.closed at start");
  assert.deepEqual(
    describePath(byState.get("secure.locked.deadbolted")!),
    "reaches secure.locked.deadbolted via LOCK{code}, DEADBOLT",
  );
  assert.deepEqual(byState.get("secure.locked")!.steps[0], {
    event: { type: "LOCK", code: "0000" },
    configuration: ["secure", "secure.locked", "secure.locked.latched"],
    transitions: ["secure.closed#1"],
  });
});

Deno.test("shortestPaths: every state of the traffic light, through waits", async () => {
  const paths = await assertReachesEveryState(
    trafficLight,
    statesOfDefinition(trafficLight.config),
  );
  const stop = paths.find((p) => p.state === "operating.red.stop")!;
  assert.deepEqual(stop.steps.map(describeStep), ["wait 30s", "wait 3s", "wait 10s", "wait 5s"]);
});

Deno.test("shortestPaths: every state of the vending machine (parallel, deferral)", async () => {
  await assertReachesEveryState(vendingMachine, statesOfDefinition(vendingMachine.config), {
    samples: VENDING_SAMPLES,
  });
});

Deno.test("shortestPaths: every state of the build pipeline", async () => {
  await assertReachesEveryState(buildPipeline, statesOfDefinition(buildPipeline.config), {
    samples: { ARTIFACT: [{ path: "dist/app" }] },
  });
});

Deno.test("shortestPaths: every state of the order workflow, over four gateways", async () => {
  const declined = () => Promise.reject(new Error("card declined"));
  const flaky = (request: { attempt: number }, signal: AbortSignal): Promise<PaymentReceipt> =>
    request.attempt < 2
      ? declined()
      : simulatedGateway({ orderId: "o", amount: 1, attempt: request.attempt }, signal);
  // Answers only when aborted: the order stays in `paying`, where CANCEL is tried.
  const hanging = (_: unknown, signal: AbortSignal) =>
    new Promise<PaymentReceipt>((_, reject) => signal.addEventListener("abort", reject));
  const reached = new Set<string>();
  for (const chargePayment of [simulatedGateway, flaky, declined, hanging]) {
    const order = createOrderWorkflow({ chargePayment });
    const paths = await shortestPaths(order);
    await replayAll(order, paths);
    for (const p of paths) reached.add(p.state);
  }
  const order = createOrderWorkflow({ chargePayment: simulatedGateway });
  assert.deepEqual(sorted(reached), sorted(statesOfDefinition(order.config)));
  await assertReachesEveryState(shippingMachine, statesOfDefinition(shippingMachine.config));
});

Deno.test("shortestPaths: every state of the turnstile and of the SCXML microwave", async () => {
  await assertReachesEveryState(turnstile, statesOfDefinition(turnstile.config));
  const xml = await Deno.readTextFile(new URL("../../examples/microwave.scxml", import.meta.url));
  const microwave = fromSCXML(xml);
  const paths = await assertReachesEveryState(microwave, statesOfScxml(xml));
  const cooking = paths.find((p) => p.state === "cooking")!;
  assert.deepEqual(cooking.steps.map(describeStep), ["turn.on", "door.close"]);
});

/** What the vending machine's guards read; the takings and the display are left out. */
function vendingKey(s: Snapshot): string {
  const { credit, products } = s.context as { credit: number; products: unknown };
  const timers = s.timers.map((t) => [t.sendId, t.due - s.time]);
  return JSON.stringify([s.status, s.configuration, timers, s.deferred, credit, products]);
}

Deno.test("simplePaths: the examples' paths take every transition the chart can take", async () => {
  const cases: Array<[AnyMachine, PathOptions, string[]]> = [
    [door, { samples: DOOR_SAMPLES }, []],
    [trafficLight, {}, []],
    [buildPipeline, { samples: { ARTIFACT: [{ path: "dist/app" }] } }, []],
    [shippingMachine, {}, []],
    [turnstile, {}, []],
    // COIN while `ready` and out of service cannot happen: service needs an idle payment
    // region, and `ready` is entered only through a coin accepted in service.
    [
      vendingMachine,
      { samples: VENDING_SAMPLES, serialize: vendingKey, maxStates: 1500 },
      ["operating.payment.ready#1"],
    ],
  ];
  for (const [machine, options, unreachable] of cases) {
    const paths = await simplePaths(machine, options);
    const coverage = trackCoverage(machine);
    for (const path of paths) {
      assert(path.steps.length <= 20, `${describePath(path)} is longer than maxDepth`);
      const { instance } = await runPath(machine, path, { coverage });
      if (instance.status === "active") instance.stop();
    }
    const report = coverage.report();
    assert.deepEqual(report.transitions.missing, unreachable, machine.id);
    const taken = new Set(paths.flatMap((p) => p.steps.flatMap((s) => s.transitions)));
    assert.deepEqual(taken.size, report.transitions.total - unreachable.length, machine.id);
  }
});

const counter = defineMachine<{ count: number }>({
  id: "counter",
  context: { count: 0 },
  initial: "low",
  states: {
    low: {
      on: { INC: { actions: ({ context }) => void context.count++ } },
      always: { target: "high", guard: ({ context }) => context.count >= 3 },
    },
    high: { on: { RESET: { target: "low", actions: ({ context }) => void (context.count = 0) } } },
  },
});

Deno.test("shortestPaths: nodes are told apart by context, so guards on context are reached", async () => {
  const paths = await shortestPaths(counter);
  const high = paths.find((p) => p.state === "high")!;
  assert.deepEqual(high.steps.map(describeStep), ["INC", "INC", "INC"]);
  assert.deepEqual(high.steps.map((s) => s.transitions), [["low#0"], ["low#0"], [
    "low#0",
    "low#1",
  ]]);
  // Told apart by configuration alone, INC leads nowhere new: "high" is not found.
  const merged = await shortestPaths(counter, { serialize: (s) => s.configuration.join() });
  assert.deepEqual(merged.map((p) => p.state), ["low"]);
});

Deno.test("simplePaths: a path may end by returning to a node it visited", async () => {
  const paths = await simplePaths(counter);
  assert.deepEqual(paths.map((p) => p.steps.map(describeStep)), [
    ["INC", "INC", "INC", "RESET"],
  ]);
  assert.deepEqual(paths[0].state, "low");
  const short = await simplePaths(counter, { maxDepth: 3 });
  assert.deepEqual(short.map((p) => p.steps.map(describeStep)), [["INC", "INC", "INC"]]);
});

Deno.test("shortestPaths: waits go to the next due timer; transient states count", async () => {
  const m = defineMachine({
    id: "timed",
    initial: "a",
    states: {
      a: { after: { 250: "b", 1000: "c" } },
      b: { after: { "1.5s": "choose" } },
      c: {},
      choose: { type: "choice", always: [{ target: "c" }] },
    },
  });
  const paths = await shortestPaths(m);
  assert.deepEqual(paths.map((p) => [p.state, p.steps.map(describeStep).join(", ")]), [
    ["a", ""],
    ["b", "wait 250ms"],
    ["c", "wait 250ms, wait 1.5s"],
    ["choose", "wait 250ms, wait 1.5s"],
  ]);
  const choose = paths.find((p) => p.state === "choose")!;
  assert.deepEqual(choose.configuration, ["c"], "passed through, not stopped at");
});

Deno.test("shortestPaths: maxStates bounds a chart with endless contexts", async () => {
  const endless = defineMachine<{ n: number }>({
    id: "endless",
    context: { n: 0 },
    initial: "a",
    states: {
      a: { on: { INC: { actions: ({ context }) => void context.n++ } } },
      never: { on: { BACK: "a" } },
    },
  });
  const paths = await shortestPaths(endless, { maxStates: 50 });
  assert.deepEqual(paths.map((p) => p.state), ["a"]);
});

Deno.test("candidate events: chart events plus samples; platform events are not sent", () => {
  const m = defineMachine({
    id: "m",
    initial: "a",
    states: {
      a: { on: { GO: "b", "error.*": "b", "*": "a" }, after: { 10: "b" } },
      b: { on: { "STOP HALT": "a" }, invoke: { src: async () => {}, onDone: "a" } },
    },
  });
  assert.deepEqual(candidateEvents(m, { GO: [{ fast: true }], EXTRA: [{}] }), [
    { type: "GO" },
    { type: "GO", fast: true },
    { type: "STOP" },
    { type: "HALT" },
    { type: "EXTRA" },
    { type: "EXTRA" },
  ]);
  assert.deepEqual(candidateEvents(m, {}, ["ONLY"]), [{ type: "ONLY" }]);
});

Deno.test("shortestPaths: an event the payload schema rejects is skipped, not thrown", async () => {
  const paths = await shortestPaths(door, { samples: { LOCK: [{ code: "12" }] } });
  assert(!paths.some((p) => p.state === "secure.locked"), "a bad code locks nothing");
});

Deno.test("shortestPaths: an action that livelocks is reported with its path", async () => {
  const m = defineMachine({
    id: "loop",
    initial: "a",
    states: {
      a: { on: { GO: "b" } },
      b: { always: { target: "b", reenter: true } },
    },
  });
  await assert.rejects(() => shortestPaths(m), /loop: GO after \[\] threw/);
});
