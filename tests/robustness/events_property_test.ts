// Property suite for events (issue #14): random event sequences (the chart's own names, unknown
// names, Object.prototype names, payloads with odd keys such as "__proto__"), sent to a handful
// of fixed charts (parallel, history, deferral, invokes, timers, self-feeding loops) on a
// VirtualClock and interleaved with clock advances. Each send works or throws a clear error
// (EventError, LivelockError); configurations stay legal; Object.prototype is untouched; each
// case ends within its time bound. More cases: STATECRAFT_FUZZ_RUNS=2000.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  defineMachine,
  EventError,
  LivelockError,
  type Machine,
  type MachineInstance,
  VirtualClock,
} from "../../mod.ts";
import { compiledOf } from "../../lib/core/compile.ts";
import { nameArb, outcome, params, PROTO_NAMES } from "./_property.ts";

const child = defineMachine({
  id: "child",
  initial: "idle",
  states: {
    idle: {
      on: {
        PING: {
          actions: ({ event, send }) =>
            send({ type: "PONG", loop: event.loop === true }, { to: "#_parent" }),
        },
        QUIT: "bye",
      },
    },
    bye: { type: "final", output: { ok: true } },
  },
});

/** The charts, each with the event names it knows. */
// deno-lint-ignore no-explicit-any
const CHARTS: { machine: Machine<any>; events: string[] }[] = [
  {
    // Parallel regions, a final in each, onDone, a root transition.
    machine: defineMachine({
      id: "par",
      initial: "p",
      on: { RESET: ".p" },
      states: {
        p: {
          type: "parallel",
          onDone: "end",
          states: {
            left: { initial: "l1", states: { l1: { on: { L: "l2" } }, l2: { type: "final" } } },
            right: {
              initial: "r1",
              states: { r1: { on: { R: "r2", "x.*": "r2" } }, r2: { type: "final" } },
            },
          },
        },
        end: { on: { AGAIN: "p" } },
      },
    }),
    events: ["L", "R", "RESET", "AGAIN", "x", "x.y"],
  },
  {
    // Shallow and deep history, with a history default.
    machine: defineMachine({
      id: "hist",
      initial: "off",
      states: {
        off: { on: { ON: "on.h", DEEP: "on.dh" } },
        on: {
          initial: "a",
          on: { OFF: "off", NEXT: ".b" },
          states: {
            h: { type: "history", target: "b" },
            dh: { type: "history", history: "deep" },
            a: {},
            b: { initial: "b1", states: { b1: { on: { IN: "b2" } }, b2: {} } },
          },
        },
      },
    }),
    events: ["ON", "DEEP", "OFF", "NEXT", "IN"],
  },
  {
    // Deferral in a state and on the root, with `*`.
    machine: defineMachine({
      id: "defer",
      initial: "busy",
      context: { got: 0 },
      states: {
        busy: { defer: ["JOB", "job.*"], on: { FREE: "free", HOLD: "hold" } },
        hold: { defer: ["*"], on: { FREE: "free" } },
        free: {
          on: {
            JOB: { actions: ({ context }) => context.got++ },
            "job.*": { actions: ({ context }) => context.got++ },
            BUSY: "busy",
          },
        },
      },
    }),
    events: ["JOB", "job.a", "FREE", "HOLD", "BUSY"],
  },
  {
    // An invoked child machine and invoked functions (resolving, rejecting, throwing).
    machine: defineMachine({
      id: "inv",
      initial: "idle",
      states: {
        idle: { on: { CALL: "calling", KID: "withKid", FAIL: "failing" } },
        calling: {
          invoke: { id: "fn", src: async ({ input }) => await input, input: 1, onDone: "idle" },
          on: { CANCEL: "idle" },
        },
        failing: {
          invoke: {
            id: "bad",
            src: () => {
              throw new Error("nope");
            },
            onError: "idle",
          },
        },
        withKid: {
          invoke: { id: "kid", src: child, onDone: "idle" },
          on: {
            POKE: { actions: ({ send }) => send("PING", { to: "kid" }) },
            END: { actions: ({ send }) => send("QUIT", { to: "kid" }) },
            LOOP: { actions: ({ send }) => send({ type: "PING", loop: true }, { to: "kid" }) },
            PONG: {
              guard: ({ event }) => event.loop === true,
              actions: ({ send }) => send({ type: "PING", loop: true }, { to: "kid" }),
            },
            MISSING: { actions: ({ send }) => send("X", { to: "nobody" }) },
          },
        },
      },
    }),
    events: ["CALL", "KID", "FAIL", "CANCEL", "POKE", "END", "MISSING", "PONG", "LOOP"],
  },
  {
    // Timers: after, delayed sends with ids, cancel, and self-feeding loops by every path.
    machine: defineMachine({
      id: "time",
      initial: "a",
      context: { n: 0 },
      states: {
        a: {
          after: { 100: "b", "1s": "c" },
          on: {
            ARM: { actions: ({ send }) => send({ type: "TICK" }, { delay: 50, id: "t" }) },
            DISARM: { actions: ({ cancel }) => cancel("t") },
            TICK: { actions: ({ context }) => context.n++ },
            ECHO: { actions: ({ send }) => send("ECHO") },
            SPIN: "spin1",
            RAISE: { actions: ({ raise }) => raise("RAISE") },
          },
        },
        b: { after: { 0: "a" } },
        c: { on: { BACK: "a" } },
        spin1: { after: { 0: "spin2" } },
        spin2: { after: { 0: "spin1" }, on: { STOP: "a" } },
      },
    }),
    events: ["ARM", "DISARM", "TICK", "ECHO", "SPIN", "STOP", "RAISE", "BACK"],
  },
];

/** A payload with keys that must stay data: JSON.parse makes "__proto__" an own key. */
const payloadArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.constant({}),
  fc.dictionary(fc.oneof(nameArb, fc.constantFrom(...PROTO_NAMES)), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 4,
  }),
  fc.constantFrom(
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    '{"loop":true}',
    '{"type":"x","toString":1}',
  ).map((text) => JSON.parse(text)),
);

type Step =
  | { kind: "send"; name: string; payload: Record<string, unknown> | null }
  | { kind: "odd"; value: unknown }
  | { kind: "advance"; ms: number }
  | { kind: "snapshot" };

function stepArb(events: string[]): fc.Arbitrary<Step> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("send" as const),
        name: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...events) },
          { weight: 1, arbitrary: nameArb },
          { weight: 1, arbitrary: fc.constantFrom(...PROTO_NAMES) },
        ),
        payload: fc.option(payloadArb, { nil: null }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("odd" as const),
        value: fc.oneof(
          fc.constantFrom(null, undefined, 0, "", [], {}, { type: 1 }, { type: "" }),
          fc.anything({ maxDepth: 1 }),
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        ms: fc.constantFrom(0, 1, 50, 100, 1_000, 5_000),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: "snapshot" as const }) },
  );
}

/** Legal: every active compound has one active child, every active parallel all of them. */
// deno-lint-ignore no-explicit-any
function assertLegal(machine: Machine<any>, instance: MachineInstance, what: string): void {
  if (instance.status !== "active") return;
  const m = compiledOf(machine);
  const active = new Set(instance.configuration);
  assert.ok(active.size > 0, `${what}: no active state`);
  assert.equal(active.size, instance.configuration.length, `${what}: a state is listed twice`);
  const check = (id: string) => {
    const s = id === "" ? m.root : m.byId.get(id);
    assert.ok(s !== undefined, `${what}: unknown state "${id}"`);
    if (s.parent !== null && s.parent !== m.root) {
      assert.ok(active.has(s.parent.id), `${what}: "${id}" active without its parent`);
    }
    const on = s.children.filter((c) => active.has(c.id)).length;
    if (s.kind === "compound") assert.equal(on, 1, `${what}: "${id || m.id}" has ${on} children`);
    if (s.kind === "parallel") {
      assert.equal(on, s.children.length, `${what}: a region of "${id}" is not active`);
    }
  };
  check("");
  for (const id of active) check(id);
}

Deno.test("events: random sends and clock advances on fixed charts work or fail clearly", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: CHARTS.length - 1 }).chain((c) =>
        fc.tuple(fc.constant(c), fc.array(stepArb(CHARTS[c].events), { maxLength: 30 }))
      ),
      async ([c, steps]) => {
        const { machine } = CHARTS[c];
        const clock = new VirtualClock();
        const options = { clock, maxSelfFedMacrosteps: 300, maxMicrosteps: 300 };
        const started = await outcome(`start ${machine.id}`, () => machine.start(options));
        assert.ok("ok" in started, `start ${machine.id} failed`);
        const instance = started.ok;
        for (const [k, step] of steps.entries()) {
          const what = `${machine.id} step ${k} ${JSON.stringify(step)}`;
          const result = await outcome(what, () => {
            if (step.kind === "send") {
              instance.send(
                step.payload === null ? step.name : { ...step.payload, type: step.name },
              );
            } else if (step.kind === "odd") instance.send(step.value as never);
            else if (step.kind === "advance") clock.advance(step.ms);
            else {
              const snap = instance.snapshot();
              assert.equal(JSON.stringify(JSON.parse(JSON.stringify(snap))), JSON.stringify(snap));
            }
          });
          if ("error" in result) {
            const e = result.error;
            assert.ok(
              e instanceof EventError || e instanceof LivelockError,
              `${what}: unexpected ${e.name}: ${e.message}`,
            );
            if (e instanceof LivelockError) {
              assert.match(e.message, new RegExp(`instance "${instance.id}"`));
              assert.ok(e.details !== undefined && e.details.events.length > 0, what);
            }
          }
          assertLegal(machine, instance, what);
          await null; // let invoked functions settle between steps
        }
        instance.stop();
        assert.equal(clock.pending, 0, `${machine.id}: timers left after stop`);
      },
    ),
    params(300, 5_000),
  );
});

Deno.test("events: a self-feeding loop by any path ends with a LivelockError naming it", async () => {
  const byPath: [string, number, string, (i: MachineInstance, c: VirtualClock) => void][] = [
    ["send to itself", 4, "ECHO", (i) => i.send("ECHO")],
    ["raise", 4, "RAISE", (i) => i.send("RAISE")],
    ["zero-delay after", 4, "after.0.spin", (i, c) => (i.send("SPIN"), c.advance(0))],
    ["parent and child", 3, "PONG", (i) => (i.send("KID"), i.send("LOOP"))],
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...byPath),
      fc.integer({ min: 10, max: 500 }),
      async ([path, c, expect, run], bound) => {
        const clock = new VirtualClock();
        const instance = CHARTS[c].machine.start({
          clock,
          maxSelfFedMacrosteps: bound,
          maxMicrosteps: bound,
        });
        const reported: string[] = [];
        instance.subscribe((r) => r.kind === "error" && reported.push(r.error));
        const result = await outcome(path, () => run(instance, clock));
        const message = "error" in result ? result.error.message : reported.join("\n");
        assert.match(message, new RegExp(`more than ${bound} (micro|macro)steps`), path);
        assert.ok(message.includes(expect), `${path}: ${message}`);
        assertLegal(CHARTS[c].machine, instance, path);
        instance.stop();
      },
    ),
    params(100, 5_000),
  );
});
