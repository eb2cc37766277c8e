// Snapshots: plain JSON that continues exactly where the instance stopped. Property-tested on
// random event sequences against an uninterrupted run.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  defineMachine,
  type MachineInstance,
  type Snapshot,
  SnapshotError,
  VirtualClock,
} from "../../mod.ts";

/** A machine using every feature a snapshot must carry. */
const machine = defineMachine({
  id: "kitchen",
  version: 3,
  context: { count: 0, log: [] as string[], temp: 0 },
  type: "parallel",
  states: {
    oven: {
      initial: "off",
      states: {
        off: { on: { POWER: "on.hist" } },
        on: {
          initial: "heating",
          on: { POWER: "off" },
          states: {
            heating: { after: { 300: "baking" }, on: { OPEN: "paused" } },
            baking: {
              initial: "low",
              states: { low: { on: { UP: "high" } }, high: { on: { DOWN: "low" } } },
              after: { "1s": "done" },
              on: { OPEN: "paused" },
            },
            paused: { defer: ["UP", "DOWN"], on: { CLOSE: "heating" } },
            done: { type: "final", output: ({ context }) => ({ count: context.count }) },
            hist: { type: "history", history: "deep" },
          },
          onDone: { target: "off", actions: ({ context }) => context.log.push("baked") },
        },
      },
    },
    counter: {
      on: {
        INC: {
          actions: [({ context }) => context.count++, ({ context, send }) => {
            if (context.count % 3 === 0) send("BEEP", { delay: 150, id: `beep${context.count}` });
          }],
        },
        BEEP: { actions: ({ context }) => context.log.push(`beep@${context.count}`) },
        HEAT: { actions: ({ context }) => context.temp += 40 },
        COOL: { actions: ({ context }) => context.temp = 0 },
      },
      when: {
        condition: ({ context }) => context.temp > 100,
        actions: ({ context }) => context.log.push("hot"),
      },
      initial: "idle",
      states: { idle: {} },
    },
  },
});

type Step = { event: string } | { wait: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom("POWER", "OPEN", "CLOSE", "UP", "DOWN", "INC", "HEAT", "COOL").map((event) => ({
    event,
  })),
  fc.integer({ min: 1, max: 700 }).map((wait) => ({ wait })),
);

function apply(
  i: MachineInstance<typeof machine extends { start(): MachineInstance<infer C> } ? C : never>,
  clock: VirtualClock,
  s: Step,
) {
  if ("wait" in s) clock.advance(s.wait);
  else i.send(s.event);
}

function strip(snap: Snapshot) {
  return { ...snap };
}

Deno.test("snapshot round trip: restore-and-continue equals an uninterrupted run", () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60, size: "max" }), fc.nat(), (steps, cutAt) => {
      const cut = steps.length === 0 ? 0 : cutAt % (steps.length + 1);
      const clockA = new VirtualClock();
      const a = machine.start({ clock: clockA, id: "k1" });
      for (const s of steps) apply(a, clockA, s);

      const clockB = new VirtualClock();
      const b = machine.start({ clock: clockB, id: "k1" });
      for (const s of steps.slice(0, cut)) apply(b, clockB, s);
      const saved = JSON.parse(JSON.stringify(b.snapshot())) as Snapshot;
      b.stop();
      const clockC = new VirtualClock(saved.time);
      const c = machine.restore(saved, { clock: clockC });
      assert.deepEqual(c.snapshot(), saved, "restore then snapshot is the identity");
      for (const s of steps.slice(cut)) apply(c, clockC, s);

      assert.deepEqual(strip(c.snapshot()), strip(a.snapshot()));
    }),
    { numRuns: 300 },
  );
});

Deno.test("determinism: the same events give the same snapshots", () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60, size: "max" }), (steps) => {
      const run = () => {
        const clock = new VirtualClock();
        const i = machine.start({ clock, id: "same" });
        const trace: string[] = [];
        i.subscribe((r) => trace.push(JSON.stringify(r)));
        for (const s of steps) apply(i, clock, s);
        return { snap: i.snapshot(), trace };
      };
      assert.deepEqual(run(), run());
    }),
    { numRuns: 200 },
  );
});

Deno.test("a snapshot is plain JSON with everything a restore needs", () => {
  const clock = new VirtualClock(5_000);
  const i = machine.start({ clock, id: "k" });
  i.send("POWER");
  i.send("OPEN");
  i.send("UP");
  i.send("INC");
  i.send("INC");
  i.send("INC");
  const snap = i.snapshot();
  assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
  assert.equal(snap.format, "statecraft.snapshot/1");
  assert.equal(snap.machine, "kitchen");
  assert.equal(snap.version, 3);
  assert.equal(snap.hash, machine.hash);
  assert.deepEqual(snap.configuration, [
    "oven",
    "oven.on",
    "oven.on.paused",
    "counter",
    "counter.idle",
  ]);
  assert.deepEqual(snap.deferred, [{ type: "UP" }]);
  assert.deepEqual(snap.timers, [{ sendId: "beep3", event: { type: "BEEP" }, due: 5_150 }]);
  assert.deepEqual(snap.context, { count: 3, log: [], temp: 0 });
  assert.equal(snap.time, 5_000);
});

Deno.test("restore: overdue timers fire at once, in due order", () => {
  const clock = new VirtualClock();
  const i = machine.start({ clock, id: "k" });
  i.send("POWER"); // heating; after 300 -> baking
  i.send("INC");
  i.send("INC");
  i.send("INC"); // BEEP in 150
  const snap = i.snapshot();
  i.stop();
  const later = new VirtualClock(snap.time + 10_000);
  const r = machine.restore(snap, { clock: later });
  later.advance(0);
  assert.deepEqual(r.context.log, ["beep@3"]);
  assert.deepEqual(r.atomicConfiguration, ["oven.on.baking.low", "counter.idle"]);
});

Deno.test("restore refuses a snapshot of another definition, naming both versions", () => {
  const snap = machine.start({ clock: new VirtualClock() }).snapshot();
  const changed = defineMachine({
    ...machine.config,
    version: 4,
    states: { ...machine.config.states, extra: {} },
  });
  assert.throws(() => changed.restore(snap), (e: unknown) => {
    assert.ok(e instanceof SnapshotError);
    assert.match(
      e.message,
      /another definition of "kitchen" \(snapshot version 3, hash [0-9a-f]+; machine version 4, hash [0-9a-f]+\)/,
    );
    return true;
  });
});

Deno.test("restore refuses malformed and illegal snapshots with the reason", () => {
  const good = machine.start({ clock: new VirtualClock() }).snapshot();
  const cases: [unknown, RegExp][] = [
    [null, /^snapshot: not a Statecraft snapshot: expected an object/],
    [{ ...good, format: "x" }, /^snapshot\.format: not a Statecraft snapshot: format is "x"/],
    [{ ...good, machine: "other" }, /^snapshot\.machine: .*belongs to machine "other"/],
    [
      { ...good, configuration: ["oven", "oven.nope"] },
      /^snapshot\.configuration\[1\]: unknown state "oven.nope"/,
    ],
    [{ ...good, configuration: ["oven", "oven.off"] }, /region "counter" of parallel/],
    [
      { ...good, configuration: ["oven", "oven.off", "oven.on", "counter", "counter.idle"] },
      /"oven" has 2 active children/,
    ],
    [
      { ...good, configuration: ["oven.off", "counter", "counter.idle"] },
      /region "oven" of parallel|its parent "oven" is not/,
    ],
    [{ ...good, timers: [{ sendId: 1 }] }, /^snapshot\.timers\[0\]\.sendId: must be a string/],
    [
      { ...good, history: { "oven.on.hist": ["counter.idle"] } },
      /^snapshot\.history\["oven\.on\.hist"\]\[0\]: .*history "oven.on.hist" holds "counter.idle"/,
    ],
    [{ ...good, context: 5 }, /^snapshot\.context: must be an object/],
  ];
  for (const [snap, pattern] of cases) {
    assert.throws(() => machine.restore(snap as Snapshot), (e: unknown) => {
      assert.ok(e instanceof SnapshotError, `${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("snapshot of a child machine travels inside its parent's", () => {
  const child = defineMachine({
    id: "child",
    context: { n: 0 },
    states: { a: { on: { INC: { actions: ({ context }) => context.n++ } } } },
  });
  const parent = defineMachine({
    id: "parent",
    states: {
      run: {
        invoke: { id: "kid", src: child },
        on: { PING: { actions: ({ send }) => send("INC", { to: "kid" }) } },
      },
    },
  });
  const p = parent.start({ clock: new VirtualClock() });
  p.send("PING");
  p.send("PING");
  const snap = p.snapshot();
  assert.deepEqual((snap.children.kid.context as { n: number }).n, 2);
  const again = parent.restore(snap, { clock: new VirtualClock() });
  again.send("PING");
  assert.equal((again.snapshot().children.kid.context as { n: number }).n, 3);
});
