// Livelock detection (issue #14): every way an instance feeds itself ends in the same
// LivelockError, naming the events that cycled and the states they cycled in; long runs that
// take in events from outside, or wait a positive delay, are never cut short.
import assert from "node:assert/strict";
import {
  defineMachine,
  LivelockError,
  type Machine,
  type MachineInstance,
  type MonitorRecord,
  type StartOptions,
  SystemClock,
  VirtualClock,
} from "../../mod.ts";

/** The error records an instance reports (a livelock found in a timer is reported, not thrown). */
function errors(instance: MachineInstance): string[] {
  const out: string[] = [];
  instance.subscribe((r: MonitorRecord) => r.kind === "error" && out.push(r.error));
  return out;
}

/** The LivelockError `fn` throws (fails the test if it throws nothing or something else). */
function livelockOf(fn: () => unknown): LivelockError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LivelockError, `expected a LivelockError, got ${e}`);
    return e;
  }
  assert.fail("expected a LivelockError, got none");
}

Deno.test("livelock: an action that sends its own event to itself ends (the issue's input)", () => {
  const echo = defineMachine({
    id: "echo",
    initial: "idle",
    states: { idle: { on: { PING: { actions: ({ send }) => send("PING") } } } },
  });
  const i = echo.start({ clock: new VirtualClock() });
  const err = livelockOf(() => i.send("PING"));
  assert.match(err.message, /instance "echo-\d+" of machine "echo"/);
  assert.match(err.message, /more than 100000 macrosteps in a row on events it fed itself/);
  assert.match(err.message, /the events that cycled: "PING"; in state "idle"/);
  assert.deepEqual(err.details?.events, ["PING"]);
  assert.deepEqual(err.details?.states, ["idle"]);
  assert.equal(err.details?.kind, "macrosteps");
  // The instance goes on, with nothing it fed itself left in its queue.
  assert.equal(i.status, "active");
  assert.deepEqual(i.snapshot().queue, []);
});

Deno.test("livelock: a send cycle through two events names both, latest last", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: { on: { PING: { target: "b", actions: ({ send }) => send("PONG") } } },
      b: { on: { PONG: { target: "a", actions: ({ send }) => send({ type: "PING", n: 1 }) } } },
    },
  }).start({ maxSelfFedMacrosteps: 50 });
  const err = livelockOf(() => i.send("PING"));
  assert.match(err.message, /more than 50 macrosteps/);
  assert.equal(err.details?.limit, 50);
  assert.deepEqual([...err.details!.events].sort(), ["PING", "PONG"]);
  // It goes on afterwards (and a new external event starts the count again).
  assert.throws(() => i.send(i.matches("a") ? "PING" : "PONG"), LivelockError);
});

Deno.test("livelock: send(..., { delay: 0 }) to itself is a send, caught the same way", () => {
  const i = defineMachine({
    id: "m",
    states: { a: { on: { T: { actions: ({ send }) => send("T", { delay: 0 }) } } } },
  }).start({ clock: new VirtualClock(), maxSelfFedMacrosteps: 100 });
  assert.throws(() => i.send("T"), LivelockError);
  const j = defineMachine({
    id: "m",
    states: { a: { on: { T: { actions: ({ send }) => send("T", { delay: "0s" }) } } } },
  }).start({ clock: new VirtualClock(), maxSelfFedMacrosteps: 100 });
  assert.throws(() => j.send("T"), LivelockError);
});

Deno.test("livelock: the raise variant is the same error, naming the raised events", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: { on: { GO: { actions: ({ raise }) => raise("R1") }, R1: "b" } },
      b: { entry: ({ raise }) => raise("R2"), on: { R2: "c" } },
      c: { entry: ({ raise }) => raise("R1"), on: { R1: "b" } },
    },
  }).start({ maxMicrosteps: 100 });
  const err = livelockOf(() => i.send("GO"));
  assert.match(err.message, /more than 100 microsteps in one macrostep/);
  assert.match(err.message, /keep firing on "R\d", "R\d"/);
  assert.deepEqual([...err.details!.events].sort(), ["R1", "R2"]);
  assert.equal(err.details?.kind, "microsteps");
});

Deno.test("livelock: parent and child machines sending to each other forever", () => {
  const child = defineMachine({
    id: "child",
    states: { idle: { on: { PING: { actions: ({ send }) => send("PONG", { to: "#_parent" }) } } } },
  });
  const parent = defineMachine({
    id: "parent",
    states: {
      talking: {
        invoke: { id: "kid", src: child },
        on: {
          GO: { actions: ({ send }) => send("PING", { to: "kid" }) },
          PONG: { actions: ({ send }) => send("PING", { to: "kid" }) },
        },
      },
    },
  });
  const p = parent.start({ clock: new VirtualClock(), maxSelfFedMacrosteps: 1_000 });
  const err = livelockOf(() => p.send("GO"));
  assert.match(err.message, /machine "parent"/);
  assert.deepEqual(err.details?.events, ["PONG"]);
  assert.equal(p.status, "active");
});

Deno.test("livelock: a child that starts a ping-pong from its own entry stops start()", () => {
  const child = defineMachine({
    id: "child",
    entry: ({ send }) => send("HELLO", { to: "#_parent" }),
    states: { idle: { on: { HI: { actions: ({ send }) => send("HELLO", { to: "#_parent" }) } } } },
  });
  const parent = defineMachine({
    id: "parent",
    states: {
      s: {
        invoke: { id: "kid", src: child },
        on: { HELLO: { actions: ({ send }) => send("HI", { to: "kid" }) } },
      },
    },
  });
  assert.throws(
    () => parent.start({ clock: new VirtualClock(), maxSelfFedMacrosteps: 500 }),
    LivelockError,
  );
});

Deno.test("livelock: zero-delay `after` cycles on a VirtualClock end advance() with the error", () => {
  const clock = new VirtualClock();
  const i = defineMachine({
    id: "z",
    states: { a: { after: { 0: "b" } }, b: { after: { 0: "a" } } },
  }).start({ clock, maxSelfFedMacrosteps: 1_000 });
  const seen = errors(i);
  clock.advance(0); // returns: the cycle is cut short
  assert.equal(seen.length, 1);
  assert.match(seen[0], /livelock in instance "z-\d+".*more than 1000 macrosteps/);
  assert.match(seen[0], /"after\.0\.(a|b)"/);
  assert.equal(clock.pending, 0);
  assert.equal(i.status, "active");
  // A positive-delay timer or an outside event sets it going again, for another 1,000.
  i.send({ type: "NOTHING" });
});

Deno.test("livelock: zero-delay `after` cycles on the system clock are reported and stop", async () => {
  const i = defineMachine({
    id: "z",
    states: { a: { after: { 0: "b" } }, b: { after: { 0: "a" } } },
  }).start({ clock: new SystemClock(), maxSelfFedMacrosteps: 20 });
  const reported = new Promise<string>((resolve) => {
    i.subscribe((r) => r.kind === "error" && resolve(r.error));
  });
  const message = await reported;
  assert.match(message, /more than 20 macrosteps in a row on events it fed itself/);
  assert.equal(i.snapshot().timers.length, 0); // nothing left to fire: the test can end
  i.stop();
});

Deno.test("not a livelock: a counter that sends itself 10,000 events and stops", () => {
  const i = defineMachine({
    id: "counter",
    context: { n: 0 },
    states: {
      counting: {
        on: {
          TICK: [
            { guard: ({ context }) => context.n >= 10_000, target: "done" },
            {
              actions: ({ context, send }) => {
                context.n++;
                send("TICK");
              },
            },
          ],
        },
      },
      done: {},
    },
  }).start({ clock: new VirtualClock() });
  i.send("TICK");
  assert.equal(i.context.n, 10_000);
  assert.deepEqual(i.configuration, ["done"]);
});

Deno.test("not a livelock: a longer run on purpose passes with a higher bound", () => {
  const m = defineMachine({
    id: "fanout",
    context: { n: 0 },
    states: {
      a: {
        on: {
          GO: { actions: ({ send }) => Array.from({ length: 150_000 }, () => send("ONE")) },
          ONE: { actions: ({ context }) => context.n++ },
        },
      },
    },
  });
  assert.throws(() => m.start().send("GO"), LivelockError);
  const i = m.start({ maxSelfFedMacrosteps: 200_000 });
  i.send("GO");
  assert.equal(i.context.n, 150_000);
});

Deno.test("not a livelock: timers that fire forever at a positive delay", () => {
  const clock = new VirtualClock();
  const i = defineMachine({
    id: "blink",
    context: { n: 0 },
    states: {
      on: { entry: ({ context }) => context.n++, after: { 1: "off" } },
      off: { after: { 1: "on" } },
    },
  }).start({ clock, maxSelfFedMacrosteps: 100 });
  const seen = errors(i);
  clock.advance(3_000); // 3,000 firings: thirty times the bound
  assert.deepEqual(seen, []);
  assert.equal(i.context.n, 1_501);
});

Deno.test("not a livelock: a zero-delay step now and then between positive-delay waits", () => {
  const clock = new VirtualClock();
  const i = defineMachine({
    id: "m",
    context: { n: 0 },
    states: {
      wait: { after: { 10: "hop" } },
      hop: { entry: ({ context }) => context.n++, after: { 0: "wait" } },
    },
  }).start({ clock, maxSelfFedMacrosteps: 3 });
  const seen = errors(i);
  clock.advance(10_000);
  assert.deepEqual(seen, []);
  assert.equal(i.context.n, 1_000);
});

Deno.test("a machine that invokes itself stops at a depth limit, with an error event", () => {
  const log: string[] = [];
  const self = { id: "rec", start: (o?: StartOptions): MachineInstance => m.start(o) };
  const m: Machine = defineMachine({
    id: "rec",
    states: {
      s: {
        invoke: {
          id: "again",
          src: self,
          onError: { actions: ({ event }) => log.push(String((event.error as Error).message)) },
        },
      },
    },
  });
  m.start({ clock: new VirtualClock() });
  assert.equal(log.length, 1);
  assert.match(log[0], /invoked machines nest more than 100 deep/);
});

Deno.test("livelock: a zero-delay timer into an eventless cycle ends after a few macrosteps", () => {
  // Each firing of the timer enters an eventless cycle (a microstep livelock): the chain of
  // such firings ends at the next one instead of running maxSelfFedMacrosteps of them.
  const m = defineMachine({
    id: "m",
    initial: "idle",
    states: {
      idle: { on: { GO: "p" } },
      p: {
        type: "parallel",
        states: { a: { after: { 0: "a" } }, b: { always: { target: "#m.p.a" } } },
      },
    },
  });
  const clock = new VirtualClock();
  const i = m.start({ clock });
  const seen = errors(i);
  assert.throws(() => i.send("GO"), LivelockError);
  clock.advance(20);
  assert.deepEqual(
    seen.map((e) => /microsteps in one macrostep|macrosteps in a row/.exec(e)?.[0]),
    ["microsteps in one macrostep", "microsteps in one macrostep", "macrosteps in a row"],
  );
  assert.equal(i.status, "active");
});
