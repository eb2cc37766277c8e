// The compiler: the structural hash snapshots depend on, one problem per mistake (no cascades of
// consequences), and what a history state without a target enters.
import assert from "node:assert/strict";
import {
  defineMachine,
  type DefinitionProblem,
  type MachineConfig,
  validateMachine,
} from "../../mod.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";
import { buildPipeline } from "../../examples/build_pipeline.ts";
import { door } from "../../examples/door.ts";
import { turnstile } from "../../examples/embed.ts";
import { orderWorkflow, shippingMachine } from "../../examples/order_workflow.ts";
import { trafficLight } from "../../examples/traffic_light.ts";
import { vendingMachine } from "../../examples/vending_machine.ts";

Deno.test("the structural hash of every bundled example machine is pinned", async () => {
  const microwave = fromSCXML(
    await Deno.readTextFile(new URL("../../examples/microwave.scxml", import.meta.url)),
  );
  // Snapshots record the hash, and a snapshot is refused by a machine of another hash: a change
  // here makes every stored instance of the machine unloadable. Change a pin only with a change
  // of the machine's shape (and a migration for its stored instances).
  const pins: [{ id: string; hash: string }, string][] = [
    [buildPipeline, "1cb0cb8ecef49a"],
    [door, "01686f352fb3b1"],
    [turnstile, "18e6b64239391c"],
    [orderWorkflow, "1a7d0f77cc6de8"],
    [shippingMachine, "008a6e22cf16a3"],
    [trafficLight, "14f8f1b312f787"],
    [vendingMachine, "0c417167dcf0da"],
    [microwave, "1c9778a358934e"],
  ];
  for (const [machine, hash] of pins) assert.equal(machine.hash, hash, `machine "${machine.id}"`);
});

const shown = (p: DefinitionProblem) => `${p.severity} ${p.path.join(".")}: ${p.message}`;

Deno.test("one typo in a target is one problem, naming the target and where it is", () => {
  // Eight states lie behind the typo: none of them is reported as unreachable.
  const states: Record<string, unknown> = {
    idle: { on: { START: "runing" } },
    running: { on: { PAUSE: "paused", FAIL: "broken" } },
    paused: { on: { RESUME: "running", STOP: "stopping" } },
    stopping: { after: { "1s": "stopped" } },
    stopped: { on: { RESET: "idle", INSPECT: "inspecting" } },
    inspecting: { initial: "a", states: { a: { on: { NEXT: "b" } }, b: {} } },
    broken: { type: "final" },
  };
  const problems = validateMachine({ id: "job", initial: "idle", states } as MachineConfig);
  assert.deepEqual(problems.map(shown), [
    'error states.idle.on.START.target: unknown target "runing" in state "idle"',
  ]);
});

Deno.test("each mistake is one problem, not the problems that follow from it", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "an initial that names no child",
      { initial: "strat", states: { start: { on: { GO: "end" } }, end: {} } },
      'error initial: unknown target "strat" in state "m"',
    ],
    [
      "a transition that is neither a target nor an object",
      { initial: "a", states: { a: { on: { GO: 42 } }, b: { on: { X: "c" } }, c: {} } },
      "error states.a.on.GO: a transition must be a target string or an object " +
      "{ target, guard, actions }",
    ],
    [
      "a target that is not a string",
      { initial: "a", states: { a: { on: { GO: { target: 2 } } }, b: {} } },
      "error states.a.on.GO.target: target must be a string or an array of strings",
    ],
    [
      "an event descriptor that is not one",
      { initial: "a", states: { a: { on: { "GO..NOW": "b" } }, b: {} } },
      'error states.a.on.GO..NOW: "GO..NOW" has an empty segment',
    ],
    [
      "a delay that is not one",
      { initial: "a", states: { a: { after: { soon: "b" } }, b: {} } },
      'error states.a.after.soon: "soon" is not a delay (milliseconds, or a duration like ' +
      '"500ms", "2s", "1m")',
    ],
    [
      "onDone on an atomic state",
      { initial: "a", states: { a: { onDone: "b" }, b: {} } },
      "error states.a.onDone: onDone belongs on compound and parallel states",
    ],
    [
      "a child state that is not an object, with transitions to it",
      { initial: "a", states: { a: { on: { GO: "b", ALSO: "#b" } }, b: "done" } },
      "error states.b: a state must be an object",
    ],
    [
      "a named guard that is not a function, used twice",
      {
        initial: "a",
        guards: { ok: true },
        states: { a: { on: { GO: { target: "b", guard: "ok" } } }, b: { always: { guard: "ok" } } },
      },
      "error guards.ok: a named guard must be a function",
    ],
    [
      "a named action that is not a function",
      { initial: "a", actions: { log: "yes" }, states: { a: { entry: "log", exit: ["log"] } } },
      "error actions.log: a named action must be a function",
    ],
    [
      "guards that are not an object",
      { initial: "a", guards: [() => true], states: { a: { on: { GO: { guard: "ok" } } } } },
      "error guards: guards must be an object of named guard functions",
    ],
    [
      "states that are not an object",
      { states: [{ a: {} }] },
      "error states: states must be an object",
    ],
    [
      "a history target that is not a string",
      {
        initial: "q",
        states: {
          q: { on: { BACK: "p.h" } },
          p: { initial: "a", states: { h: { type: "history", target: 1 }, a: {}, b: {} } },
        },
      },
      "error states.p.states.h.target: a history target must be a string or an array of strings",
    ],
  ];
  for (const [what, config, problem] of cases) {
    const problems = validateMachine({ id: "m", ...config } as MachineConfig);
    assert.deepEqual(problems.map(shown), [problem], what);
  }
});

Deno.test("an error hides only the states its lost transition could have entered", () => {
  // `island` is unreachable whatever its broken transition meant, and so is `far`; an unknown
  // initial of `p` could only have meant a state inside `p`, so `q` is still reported.
  const problems = validateMachine({
    id: "m",
    initial: "a",
    states: {
      a: { on: { GO: "p" } },
      island: { on: { X: "nowhere" } },
      far: {},
      p: { initial: "x", states: { a: {}, b: {} } },
      q: {},
    },
  });
  assert.deepEqual(problems.map(shown), [
    'error states.island.on.X.target: unknown target "nowhere" in state "island"',
    'error states.p.initial: unknown target "x" in state "p"',
    'warning states.island: state "island" is unreachable: no initial or transition enters it',
    'warning states.far: state "far" is unreachable: no initial or transition enters it',
    'warning states.q: state "q" is unreachable: no initial or transition enters it',
  ]);
});

Deno.test("states unreachable only through another unreachable state are named in its warning", () => {
  const machine = defineMachine({
    id: "m",
    initial: "a",
    states: {
      a: { on: { GO: "b" } },
      b: { on: { BACK: "a" } },
      // An orphaned feature: one cause, one warning.
      feature: {
        initial: "one",
        states: { one: { on: { NEXT: "two" } }, two: { on: { DONE: "#m.report" } } },
      },
      report: { on: { CLOSE: "a" } },
      // Unreachable on its own account (nothing would enter it even with `feature` reachable).
      orphan: {},
      // A cycle that nothing else enters: reported once, at its first state.
      ping: { on: { X: "pong" } },
      pong: { on: { X: "ping" } },
    },
  });
  assert.deepEqual(machine.warnings.map(shown), [
    'warning states.feature: state "feature" is unreachable: no initial or transition enters ' +
    'it, so the 3 states entered through it are unreachable too: "feature.one", "feature.two", ' +
    '"report"',
    'warning states.orphan: state "orphan" is unreachable: no initial or transition enters it',
    'warning states.ping: state "ping" is unreachable: only unreachable states lead to it, so ' +
    'the state entered through it is unreachable too: "pong"',
  ]);
});

Deno.test("a history state without a target enters its parent's initial state", () => {
  // Before any visit, the default is the parent's `initial` (XState's rule), not its first child.
  const machine = defineMachine({
    id: "m",
    initial: "away",
    states: {
      away: { on: { BACK: "room.hist" } },
      room: {
        initial: "chair",
        states: { hist: { type: "history" }, floor: {}, chair: {} },
      },
    },
  });
  const instance = machine.start();
  instance.send({ type: "BACK" });
  assert.deepEqual(instance.snapshot().configuration, ["room", "room.chair"]);
});
