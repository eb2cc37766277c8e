// Sizes the input decides (issue #14): 200,000 queued or deferred events, 100,000 timers, 50,000
// parallel regions, history defaults that lead to history states. Each case once took seconds
// to minutes (quadratic) or overflowed the stack; each must now be linear or nearly so. The time
// bounds are generous (ten times or more what a loaded CI machine takes) so only the old
// behaviour fails them.
import assert from "node:assert/strict";
import { defineMachine, VirtualClock } from "../../mod.ts";

const N = 200_000;

function within<T>(ms: number, what: string, fn: () => T): T {
  const start = performance.now();
  const out = fn();
  const took = performance.now() - start;
  assert.ok(took < ms, `${what}: took ${took.toFixed(0)} ms (bound ${ms} ms)`);
  return out;
}

Deno.test("releasing 200,000 deferred events does not overflow the stack (the issue's input)", () => {
  const i = defineMachine({
    id: "d",
    context: { n: 0 },
    states: {
      closed: { defer: ["X"], on: { OPEN: "open" } },
      open: { on: { X: { actions: ({ context }) => context.n++ } } },
    },
  }).start({ clock: new VirtualClock() });
  for (let k = 0; k < N; k++) i.send("X");
  assert.equal(i.snapshot().deferred.length, N);
  within(5_000, "release", () => i.send("OPEN"));
  assert.equal(i.context.n, N);
  assert.deepEqual(i.snapshot().deferred, []);
});

Deno.test("200,000 deferred events stay put while the state changes under them", () => {
  const i = defineMachine({
    id: "d",
    states: {
      a: { defer: ["X"], on: { FLIP: "b" } },
      b: { defer: ["X"], on: { FLIP: "a" } },
    },
  }).start({ clock: new VirtualClock() });
  for (let k = 0; k < N; k++) i.send({ type: "X", k });
  within(5_000, "20,000 flips", () => {
    for (let k = 0; k < 20_000; k++) i.send("FLIP");
  });
  const deferred = i.snapshot().deferred;
  assert.equal(deferred.length, N);
  assert.equal(deferred[N - 1].k, N - 1); // still in arrival order
});

Deno.test("deferred events of several types come back in the order they arrived", () => {
  const seen: string[] = [];
  const i = defineMachine({
    id: "d",
    states: {
      a: { defer: ["X", "Y"], on: { GO: "b" } },
      b: { on: { "*": { actions: ({ event }) => seen.push(`${event.type}${event.k}`) } } },
    },
  }).start();
  for (const [type, k] of [["X", 1], ["Y", 2], ["X", 3], ["Z", 4], ["Y", 5]] as const) {
    i.send({ type, k });
  }
  i.send("GO");
  assert.deepEqual(seen, ["X1", "Y2", "X3", "Y5"]); // Z4 arrived in `a`, which ignores it
});

Deno.test("a snapshot with 200,000 queued events restores and runs in linear time", () => {
  const m = defineMachine({
    id: "q",
    context: { n: 0 },
    states: { a: { on: { T: { actions: ({ context }) => context.n++ } } } },
  });
  const snap = m.start({ clock: new VirtualClock() }).snapshot();
  snap.queue = Array.from({ length: N }, () => ({ type: "T" }));
  const i = within(5_000, "restore", () => m.restore(snap, { clock: new VirtualClock() }));
  assert.equal(i.context.n, N);
});

for (const via of ["send", "raise"] as const) {
  Deno.test(`an action that ${via}s 200,000 events: each is taken from its queue in O(1)`, () => {
    const i = defineMachine({
      id: "q",
      context: { n: 0 },
      states: {
        a: {
          on: {
            GO: { actions: (tools) => Array.from({ length: N }, () => tools[via]("T")) },
            T: { actions: ({ context }) => context.n++ },
          },
        },
      },
    }).start({ maxSelfFedMacrosteps: N, maxMicrosteps: N });
    within(5_000, `200,000 ${via}s`, () => i.send("GO"));
    assert.equal(i.context.n, N);
  });
}

Deno.test("100,000 timers: armed, half cancelled by id, the rest fired, each O(log n)", () => {
  const clock = new VirtualClock();
  const T = 100_000;
  const i = defineMachine({
    id: "t",
    context: { n: 0 },
    states: {
      a: {
        on: {
          ARM: {
            actions: ({ send }) => {
              for (let k = 0; k < T; k++) send("T", { delay: 1 + (k % 997), id: `t${k}` });
            },
          },
          CANCEL: {
            actions: ({ cancel }) => {
              for (let k = 0; k < T; k += 2) cancel(`t${k}`);
            },
          },
          T: { actions: ({ context }) => context.n++ },
        },
      },
    },
  }).start({ clock });
  within(5_000, "arm", () => i.send("ARM"));
  within(5_000, "cancel", () => i.send("CANCEL"));
  assert.equal(clock.pending, T / 2);
  within(5_000, "fire", () => clock.advance(1_000));
  assert.equal(i.context.n, T / 2);
  assert.equal(clock.pending, 0);
});

Deno.test("50,000 parallel regions: start, one event in every region, done, in linear time", () => {
  const W = 50_000;
  const regions: Record<string, object> = {};
  for (let k = 0; k < W; k++) {
    regions[`r${k}`] = { initial: "x", states: { x: { on: { GO: "y" } }, y: { type: "final" } } };
  }
  const m = defineMachine({
    id: "wide",
    initial: "p",
    // deno-lint-ignore no-explicit-any
    states: { p: { type: "parallel", states: regions as any, onDone: "z" }, z: {} },
  });
  const i = within(5_000, "start", () => m.start({ clock: new VirtualClock() }));
  assert.equal(i.configuration.length, 1 + 2 * W);
  within(10_000, "GO", () => i.send("GO"));
  assert.deepEqual(i.configuration, ["z"]);
});

Deno.test("a large entry: entry actions see exactly the states entered so far", () => {
  const seen: boolean[] = [];
  const regions: Record<string, object> = {};
  for (let k = 0; k < 100; k++) {
    regions[`r${k}`] = {
      entry: ({ matches }: { matches(id: string): boolean }) =>
        seen.push(matches(`p.r${k}`) && !matches(`p.r${k + 1}`)),
    };
  }
  const i = defineMachine({
    id: "m",
    initial: "idle",
    // deno-lint-ignore no-explicit-any
    states: { idle: { on: { GO: "p" } }, p: { type: "parallel", states: regions as any } },
  }).start();
  i.send("GO");
  assert.equal(seen.length, 100);
  assert.ok(seen.every((x) => x));
  assert.equal(i.configuration.length, 101);
});

Deno.test("history defaults that lead to other history states: no recursion, no loop", () => {
  const i = defineMachine({
    id: "h",
    initial: "off",
    states: {
      off: { on: { ON: "on.h1" } },
      on: {
        initial: "a",
        states: {
          h1: { type: "history", target: "h2" },
          h2: { type: "history", target: "b" },
          a: {},
          b: {},
        },
        on: { OFF: "off" },
      },
    },
  }).start();
  i.send("ON");
  assert.deepEqual(i.configuration, ["on", "on.b"]);
});
