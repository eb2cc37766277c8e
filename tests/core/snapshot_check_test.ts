// Issue #14, snapshots: every malformed snapshot is refused by `restore` with a SnapshotError
// naming the field at fault, before anything runs (never a TypeError now or at the first send
// after restore), and restore is linear in the snapshot's size.
import assert from "node:assert/strict";
import { defineMachine, type Snapshot, SnapshotError, VirtualClock } from "../../mod.ts";

const door = defineMachine({
  id: "door",
  initial: "closed",
  context: { opened: 0 },
  states: {
    closed: { on: { OPEN: "open" } },
    open: {
      initial: "ajar",
      on: { CLOSE: "closed", WAIT: { actions: ({ send }) => send("TICK", { delay: 10 }) } },
      states: { ajar: { on: { PUSH: "wide" } }, wide: {} },
    },
    secure: {
      initial: "locked",
      states: {
        locked: { type: "parallel", states: { bolt: {}, latch: {} } },
        hist: { type: "history", history: "deep" },
        flat: { type: "history" },
      },
    },
  },
});

function snap(): Snapshot {
  const d = door.start({ clock: new VirtualClock(), id: "d1" });
  d.send("OPEN");
  return JSON.parse(JSON.stringify(d.snapshot()));
}

function refused(s: unknown, pattern: RegExp): void {
  assert.throws(() => door.restore(s as Snapshot, { clock: new VirtualClock() }), (e: unknown) => {
    assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("restore: a state listed twice in the configuration is refused, naming the entry", () => {
  const s = snap();
  assert.deepEqual(s.configuration, ["open", "open.ajar"]);
  refused(
    { ...s, configuration: ["open", "open.ajar", "open.ajar"] },
    /^snapshot\.configuration\[2\]: "open\.ajar" is listed twice: first at \[1\]$/,
  );
});

Deno.test("restore: illegal configurations, history and pseudo-states are refused", () => {
  const s = snap();
  const cases: [unknown, RegExp][] = [
    [{ ...s, configuration: ["open"] }, /^snapshot\.configuration: .*"open" has 0 active/],
    [{ ...s, configuration: ["open.ajar"] }, /^snapshot\.configuration: .*"door" has 0 active/],
    [
      { ...s, configuration: ["open", "open.ajar", "open.wide"] },
      /^snapshot\.configuration: .*"open" has 2 active children \("open\.ajar" at \[1\], "open\.wide" at \[2\]\)/,
    ],
    [
      { ...s, configuration: ["secure", "secure.locked", "secure.locked.bolt"] },
      /^snapshot\.configuration: .*region "secure\.locked\.latch" of parallel "secure\.locked"/,
    ],
    [
      { ...s, configuration: ["secure", "secure.hist"] },
      /^snapshot\.configuration\[1\]: "secure\.hist" is a history pseudo-state/,
    ],
    [{ ...s, configuration: [""] }, /^snapshot\.configuration\[0\]: unknown state ""/],
    [{ ...s, configuration: "open" }, /^snapshot\.configuration: must be an array/],
    [{ ...s, configuration: [], status: "active" }, /no active state, but the status is "active"/],
  ];
  for (const [bad, pattern] of cases) refused(bad, pattern);
});

Deno.test("restore: malformed queues, deferred events and timers are refused up front", () => {
  const s = snap();
  const cases: [unknown, RegExp][] = [
    [{ ...s, queue: [null] }, /^snapshot\.queue\[0\]: must be an object, not null$/],
    [{ ...s, queue: [{ type: 5 }] }, /^snapshot\.queue\[0\]\.type: an event's type must be/],
    [{ ...s, queue: [{}] }, /^snapshot\.queue\[0\]\.type: /],
    [{ ...s, queue: {} }, /^snapshot\.queue: must be an array/],
    [{ ...s, deferred: ["OPEN"] }, /^snapshot\.deferred\[0\]: must be an object/],
    [{ ...s, timers: [{ sendId: "t", event: "TICK", due: 5 }] }, /^snapshot\.timers\[0\]\.event:/],
    [
      { ...s, timers: [{ sendId: "t", event: { type: "TICK" }, due: 1e300 }] },
      /^snapshot\.timers\[0\]\.due: must be a clock time/,
    ],
    [
      { ...s, timers: [{ sendId: "t", event: { type: "TICK" }, due: 1, to: 3 }] },
      /^snapshot\.timers\[0\]\.to: must be a string/,
    ],
  ];
  for (const [bad, pattern] of cases) refused(bad, pattern);
});

Deno.test("restore: malformed history entries are refused with the entry at fault", () => {
  const s = snap();
  const cases: [unknown, RegExp][] = [
    [
      { ...s, history: { "secure.hist": "secure.locked" } },
      /^snapshot\.history\["secure\.hist"\]: must be an array/,
    ],
    [
      { ...s, history: { open: ["open.ajar"] } },
      /^snapshot\.history\.open: "open" is not a history state/,
    ],
    [
      { ...s, history: { "secure.hist": [7] } },
      /^snapshot\.history\["secure\.hist"\]\[0\]: must be a string/,
    ],
    [
      { ...s, history: { "secure.hist": ["secure.locked"] } },
      /\[0\]: deep history "secure\.hist" holds "secure\.locked", which is not an atomic state inside/,
    ],
    [
      { ...s, history: { "secure.hist": ["secure.locked.bolt"] } },
      /^snapshot\.history\["secure\.hist"\]: restoring .* region "secure\.locked\.latch"/,
    ],
    [
      { ...s, history: { "secure.flat": ["secure.locked", "secure.locked"] } },
      /^snapshot\.history\["secure\.flat"\]\[1\]: "secure\.locked" is listed twice/,
    ],
    [
      { ...s, history: { "secure.flat": ["open"] } },
      /\[0\]: shallow history "secure\.flat" holds "open", which is not a child state of "secure"/,
    ],
    [{ ...s, history: [] }, /^snapshot\.history: must be an object/],
  ];
  for (const [bad, pattern] of cases) refused(bad, pattern);
  // Legal recorded values restore and are used.
  const ok = door.restore(
    { ...s, history: { "secure.hist": ["secure.locked.bolt", "secure.locked.latch"] } },
    { clock: new VirtualClock() },
  );
  assert.deepEqual(ok.configuration, ["open", "open.ajar"]);
});

Deno.test("restore: context, stats and children must be plain data of the right kind", () => {
  const s = snap();
  const deep: Record<string, unknown> = {};
  let at = deep;
  for (let i = 0; i < 5_000; i++) at = (at.a = {}) as Record<string, unknown>;
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [unknown, RegExp][] = [
    [{ ...s, context: [] }, /^snapshot\.context: must be an object/],
    [
      { ...s, context: { when: new Date(0) } },
      /^snapshot\.context\.when: a Date is not plain data/,
    ],
    [{ ...s, context: { f: () => 1 } }, /^snapshot\.context\.f: a function is not JSON data/],
    [{ ...s, context: { n: NaN } }, /^snapshot\.context\.n: NaN is not JSON data/],
    [{ ...s, context: deep }, /^snapshot\.context(\.a)+: data nests more than 1000 levels deep/],
    [{ ...s, context: cyclic }, /^snapshot\.context\.self: a value reached twice/],
    [{ ...s, stats: { ...s.stats, events: -1 } }, /^snapshot\.stats\.events: must be a whole/],
    [{ ...s, nextId: "1" }, /^snapshot\.nextId: must be a whole number/],
    [{ ...s, children: { nope: s } }, /^snapshot\.children\.nope: no active state invokes/],
    [{ ...s, when: ["open#0"] }, /^snapshot\.when\[0\]: no `when` transition/],
  ];
  for (const [bad, pattern] of cases) refused(bad, pattern);
  // `__proto__` in a context stays data.
  const parsed = JSON.parse(`{"__proto__": {"polluted": true}, "n": 1}`);
  const r = door.restore({ ...s, context: parsed }, { clock: new VirtualClock() });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((r.context as Record<string, unknown>).n, 1);
});

Deno.test("restore: a child's snapshot is checked against the child's machine", () => {
  const child = defineMachine({ id: "child", initial: "a", states: { a: {}, b: {} } });
  const parent = defineMachine({
    id: "parent",
    initial: "run",
    states: { run: { invoke: { id: "kid", src: child } } },
  });
  const s = JSON.parse(JSON.stringify(parent.start({ clock: new VirtualClock() }).snapshot()));
  s.children.kid.configuration = ["a", "b"];
  assert.throws(
    () => parent.restore(s, { clock: new VirtualClock() }),
    /^SnapshotError: snapshot\.children\.kid\.configuration: illegal configuration: the machine "child" has 2 active children/,
  );
});

Deno.test("restore: 200,000 queued events restore in linear time", () => {
  const toggle = defineMachine({
    id: "toggle",
    initial: "off",
    context: { n: 0 },
    states: {
      off: { on: { FLIP: { target: "on", actions: ({ context }) => context.n++ } } },
      on: { on: { FLIP: { target: "off", actions: ({ context }) => context.n++ } } },
    },
  });
  const base = toggle.start({ clock: new VirtualClock() }).snapshot();
  const time = (n: number) => {
    const s = { ...base, queue: Array.from({ length: n }, () => ({ type: "FLIP" })) };
    const t0 = performance.now();
    const r = toggle.restore(s, { clock: new VirtualClock() });
    const ms = performance.now() - t0;
    assert.equal(r.context.n, n);
    return ms;
  };
  // Bounded, not benchmarked: ~0.6 s here, tens of seconds when it was quadratic.
  const large = time(200_000);
  assert.ok(large < 10_000, `200,000 queued events took ${large} ms`);
});
