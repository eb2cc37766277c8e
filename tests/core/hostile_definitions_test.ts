// Hostile definitions (issue #14): each input the issue names, and each bug the property suite
// (tests/robustness/definitions_property_test.ts) found, is refused with a clear problem at its
// path, or works, in bounded time.
import assert from "node:assert/strict";
import { defineMachine, type Machine } from "../../lib/core/machine.ts";
import type { StateConfig } from "../../lib/core/types.ts";
import { DefinitionError, formatPath } from "../../lib/core/errors.ts";
import { MAX_STATE_DEPTH } from "../../lib/core/compile_context.ts";
import { VirtualClock } from "../../lib/core/clock.ts";
import { toDot, toMermaid } from "../../lib/core/diagram.ts";
import { toSCXML } from "../../lib/scxml/export.ts";
import { PROTO_NAMES } from "../robustness/_property.ts";

/** The error-level problems of a refused config, as `path: message` lines. */
function problemsOf(config: unknown): string[] {
  try {
    defineMachine(config as never);
  } catch (e) {
    assert.ok(e instanceof DefinitionError, `expected a DefinitionError, got ${e}`);
    return e.problems.filter((p) => p.severity === "error").map((p) =>
      `${formatPath(p.path)}: ${p.message}`
    );
  }
  assert.fail("expected a DefinitionError");
}

/** `{ id, states: { s0: { states: { s1: ... } } } }`, `levels` states deep, built without recursion. */
function nested(levels: number, leaf: Record<string, unknown> = {}): Record<string, unknown> {
  let state: Record<string, unknown> = leaf;
  for (let i = levels - 1; i >= 0; i--) state = { states: { [`s${i}`]: state } };
  return { id: "deep", ...state };
}

Deno.test("a 3,000-deep nesting is refused at the level that crosses the limit, not a stack overflow", () => {
  const problems = problemsOf(nested(3_000));
  assert.equal(problems.length, 1, problems.join("\n"));
  const expectedPath = Array.from({ length: MAX_STATE_DEPTH }, (_, i) => `states.s${i}`).join(".");
  assert.equal(
    problems[0],
    `${expectedPath}.states: states nest more than ${MAX_STATE_DEPTH} levels deep here: ` +
      'flatten the chart (a state id can be targeted from anywhere with "#id")',
  );
  // Deeper still costs no more: nothing below the limit is walked.
  assert.equal(problemsOf(nested(100_000)).length, 1);
});

Deno.test("a chart exactly at the depth limit defines, runs, exports and snapshots", () => {
  const leaf = { on: { UP: "#deep.s0", DOWN: "#deep.s0" } };
  const machine = defineMachine(nested(MAX_STATE_DEPTH, leaf) as never) as Machine;
  const instance = machine.start({ clock: new VirtualClock() });
  assert.equal(instance.configuration.length, MAX_STATE_DEPTH);
  instance.send("UP");
  assert.equal(instance.configuration.length, MAX_STATE_DEPTH);
  const copy = machine.restore(instance.snapshot(), { clock: new VirtualClock() });
  copy.send("DOWN");
  assert.equal(copy.configuration.length, MAX_STATE_DEPTH);
  assert.ok(toMermaid(machine).length > 0);
  assert.ok(toDot(machine).length > 0);
  assert.ok(toSCXML(machine).length > 0);
});

Deno.test('entry: "toString" (and every Object.prototype name) is an unknown action or guard', () => {
  assert.deepEqual(problemsOf({ id: "m", states: { a: { entry: "toString" } } }), [
    `states.a.entry: unknown action "toString" (named actions go in the machine's "actions")`,
  ]);
  assert.deepEqual(problemsOf({ id: "m", states: { a: { entry: "nope" } } }), [
    `states.a.entry: unknown action "nope" (named actions go in the machine's "actions")`,
  ]);
  for (const name of PROTO_NAMES) {
    assert.deepEqual(
      problemsOf({
        id: "m",
        actions: {},
        guards: {},
        states: { a: { exit: [name], on: { GO: { guard: name, actions: name } } } },
      }),
      [
        `states.a.exit[0]: unknown action "${name}" (named actions go in the machine's "actions")`,
        `states.a.on.GO.guard: unknown guard "${name}" (named guards go in the machine's "guards")`,
        `states.a.on.GO.actions: unknown action "${name}" (named actions go in the machine's "actions")`,
      ],
      name,
    );
  }
});

Deno.test("actions and guards the machine defines under Object.prototype names are its own", () => {
  const ran: string[] = [];
  // JSON.parse keeps "__proto__" as an own key, as a config file would.
  const actions = JSON.parse('{"__proto__": 0, "constructor": 0, "toString": 0}');
  for (const name of Object.keys(actions)) actions[name] = () => ran.push(name);
  const guards = JSON.parse('{"__proto__": 0, "valueOf": 0}');
  guards.__proto__ = () => false;
  guards.valueOf = () => true;
  const machine = defineMachine({
    id: "m",
    actions,
    guards,
    states: {
      a: {
        entry: ["__proto__", "constructor"],
        on: { GO: [{ guard: "__proto__", target: "a" }, { guard: "valueOf", target: "b" }] },
      },
      b: { entry: "toString" },
    },
  });
  const instance = machine.start();
  instance.send("GO");
  assert.deepEqual(instance.configuration, ["b"]);
  assert.deepEqual(ran, ["__proto__", "constructor", "toString"]);
});

Deno.test("states, events and keys named like Object.prototype properties stay data", () => {
  for (const name of PROTO_NAMES) {
    // As a config file would write it: every name an own key.
    const machine: Machine = defineMachine(JSON.parse(JSON.stringify({
      id: "m",
      initial: name,
      states: {
        [name]: { on: { [name]: "other", "x.*": `#m.other.${name}` } },
        other: {
          initial: name,
          states: { [name]: { on: { BACK: `#${name}` } }, h: { type: "history" } },
          on: { [name]: `.${name}` },
        },
      },
    })));
    const instance = machine.start({ clock: new VirtualClock() });
    assert.deepEqual(instance.configuration, [name], name);
    instance.send(name);
    assert.deepEqual(instance.configuration, ["other", `other.${name}`], name);
    instance.send("BACK");
    assert.deepEqual(instance.configuration, [name], name);
    instance.send("x.y");
    assert.deepEqual(instance.configuration, ["other", `other.${name}`], name);
    assert.deepEqual(({} as Record<string, unknown>).other, undefined);
  }
});

Deno.test("an event named like an Object.prototype property finds no payload schema", () => {
  const schema = {
    "~standard": { version: 1, vendor: "test", validate: (v: unknown) => ({ value: v }) },
  };
  const machine = defineMachine({
    id: "m",
    schemas: { events: { GO: schema } },
    states: { a: { on: { constructor: "b", toString: "b" } }, b: {} },
  } as never);
  const instance = machine.start();
  instance.send("toString");
  assert.deepEqual(instance.configuration, ["b"]);
  assert.deepEqual(
    problemsOf({ id: "m", schemas: { events: { GO: { "~standard": 1 } } }, states: { a: {} } }),
    ["schemas.events.GO: a payload schema must be a Standard Schema (for example a zod schema)"],
  );
});

Deno.test("a history default that leads back to itself is refused, not an endless entry", () => {
  // Found by the property suite: the history names itself through its parent's initial.
  assert.deepEqual(
    problemsOf({ id: "m", initial: "h", states: { h: { type: "history" }, a: {} } }),
    [
      'states.h.target: the default of history state "h" leads back to itself ("h" -> "h"): give a history ' +
      "a default that enters a state, not a history",
    ],
  );
  assert.deepEqual(
    problemsOf({
      id: "m",
      states: {
        a: {},
        h1: { type: "history", target: "h2" },
        h2: { type: "history", target: "h1" },
      },
    }),
    [
      'states.h2.target: the default of history state "h2" leads back to itself ' +
      '("h1" -> "h2" -> "h1"): give a history a default that enters a state, not a history',
    ],
  );
  // A chain that ends in a state is fine.
  defineMachine({
    id: "m",
    states: { a: {}, h1: { type: "history", target: "h2" }, h2: { type: "history", target: "a" } },
  });
});

Deno.test("values of the wrong type are described, never as [object Object]", () => {
  const problems = problemsOf({
    id: "m",
    version: { major: 1 },
    context: { at: () => 1 },
    states: { a: { type: { x: 1 } }, b: { type: "history", history: ["deep"] } },
  });
  assert.deepEqual(problems.map((p) => p.replace(/instance \(.*\); use/, "instance (...); use")), [
    'version: version must be a string or a number, not {"major":1}',
    "context: context cannot be copied for each instance (...); use plain data, or a " +
    "function that returns a fresh context",
    'states.a.type: unknown state type {"x":1}',
    'states.b.history: history must be "shallow" or "deep", not ["deep"]',
  ]);
  for (const p of problems) assert.doesNotMatch(p, /\[object Object\]/);
});

/**
 * Runs `make(n)` once and returns how long it took, in milliseconds. The tests below bound the
 * time of a large input generously (ten times and more what linear work takes here, a fraction
 * of what the quadratic code took): a check that the work is bounded, not a benchmark
 * (tests/bench/compile_bench.ts measures the speed).
 */
function timeOf(make: (n: number) => () => void, n: number): number {
  const t0 = performance.now();
  make(n)();
  return performance.now() - t0;
}

Deno.test("50,000 sibling states that target each other define in linear time", () => {
  const siblings = (n: number) => {
    const states: Record<string, StateConfig> = {};
    for (let i = 0; i < n; i++) states[`s${i}`] = { on: { NEXT: `s${(i + 1) % n}` } };
    return () => void defineMachine({ id: "wide", states });
  };
  const ms = timeOf(siblings, 50_000);
  assert.ok(ms < 5_000, `50,000 siblings took ${ms.toFixed(0)} ms (was 8-14 s when quadratic)`);
});

Deno.test("many targets, lost transitions and unreachable regions stay linear", () => {
  // One transition into every region of a 20,000-region parallel state.
  const regions = (n: number) => {
    const states: Record<string, StateConfig> = {};
    for (let i = 0; i < n; i++) states[`r${i}`] = { states: { x: {}, y: {} } };
    const target = Object.keys(states).map((r) => `#p.${r}.y`);
    return () =>
      void defineMachine({
        id: "m",
        states: { start: { on: { GO: { target } } }, p: { type: "parallel", states } },
      });
  };
  // Every state with an unknown target: each lost transition may lead anywhere.
  const lost = (n: number) => {
    const states: Record<string, StateConfig> = {};
    for (let i = 0; i < n; i++) states[`s${i}`] = { on: { GO: "nowhere" } };
    return () => void problemsOf({ id: "m", states });
  };
  // An unreachable parallel state with many regions.
  const unreachable = (n: number) => {
    const states: Record<string, StateConfig> = {};
    for (let i = 0; i < n; i++) states[`r${i}`] = {};
    return () =>
      void defineMachine({ id: "m", states: { a: {}, p: { type: "parallel", states } } });
  };
  for (
    const [what, make] of [["targets", regions], ["lost", lost], [
      "unreachable",
      unreachable,
    ]] as const
  ) {
    const ms = timeOf(make, 40_000);
    assert.ok(ms < 10_000, `${what}: 40,000 took ${ms.toFixed(0)} ms`);
  }
});
