// UML extras from the seeds: deferral, choice pseudostates, change events; invoke; schemas.
import assert from "node:assert/strict";
import { z } from "zod";
import { defineMachine, EventError, VirtualClock } from "../../mod.ts";

Deno.test("defer: an event waits while a deferring state is active, then runs in order", () => {
  const handled: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      busy: { defer: ["JOB"], on: { FREE: "idle" } },
      idle: {
        on: { JOB: { actions: ({ event }) => handled.push(String(event.n)) } },
      },
    },
  }).start();
  i.send({ type: "JOB", n: 1 });
  i.send({ type: "JOB", n: 2 });
  assert.deepEqual(handled, []);
  assert.equal(i.can("JOB"), false);
  assert.deepEqual(i.snapshot().deferred.map((e) => e.n), [1, 2]);
  i.send("FREE");
  assert.deepEqual(handled, ["1", "2"]);
  assert.deepEqual(i.snapshot().deferred, []);
});

Deno.test("defer: released events go before events queued after them", () => {
  const handled: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      busy: { defer: ["A"], on: { FREE: { target: "idle", actions: ({ send }) => send("B") } } },
      idle: { on: { "*": { actions: ({ event }) => handled.push(event.type) } } },
    },
  }).start();
  i.send("A");
  i.send("FREE");
  assert.deepEqual(handled, ["A", "B"]);
});

Deno.test("choice: resolved at run time by guards, else as the last branch", () => {
  const machine = defineMachine({
    id: "m",
    context: { amount: 0 },
    states: {
      idle: {
        on: {
          PAY: {
            target: "check",
            actions: ({ context, event }) => context.amount = event.amount as number,
          },
        },
      },
      check: {
        type: "choice",
        always: [
          { target: "big", guard: ({ context }) => context.amount > 100 },
          { target: "small" },
        ],
      },
      big: {},
      small: {},
    },
  });
  const a = machine.start();
  a.send({ type: "PAY", amount: 500 });
  assert.deepEqual(a.configuration, ["big"]);
  const b = machine.start();
  b.send({ type: "PAY", amount: 5 });
  assert.deepEqual(b.configuration, ["small"]);
});

Deno.test("when: a change event fires once each time its condition becomes true", () => {
  let fired = 0;
  const i = defineMachine({
    id: "m",
    context: { temp: 20 },
    states: {
      watching: {
        on: { SET: { actions: ({ context, event }) => context.temp = event.temp as number } },
        when: { condition: ({ context }) => context.temp > 100, actions: () => fired++ },
      },
    },
  }).start();
  i.send({ type: "SET", temp: 150 });
  assert.equal(fired, 1);
  i.send({ type: "SET", temp: 160 });
  assert.equal(fired, 1, "still true: no new change");
  i.send({ type: "SET", temp: 50 });
  i.send({ type: "SET", temp: 120 });
  assert.equal(fired, 2, "false then true again: fires again");
});

Deno.test("when: with a target, leaves the state; memory resets on re-entry", () => {
  const i = defineMachine({
    id: "m",
    context: { n: 0 },
    states: {
      low: {
        on: { INC: { actions: ({ context }) => context.n++ } },
        when: { condition: ({ context }) => context.n >= 2, target: "high" },
      },
      high: { on: { RESET: "low" } },
    },
  }).start();
  i.send("INC");
  assert.deepEqual(i.configuration, ["low"]);
  i.send("INC");
  assert.deepEqual(i.configuration, ["high"]);
  i.send("RESET");
  assert.deepEqual(i.configuration, ["high"], "n is still 2: the condition is true on re-entry");
});

Deno.test("invoke: an async function's result raises done.invoke with its output", async () => {
  const i = defineMachine({
    id: "m",
    context: { user: "" },
    states: {
      loading: {
        invoke: {
          id: "fetchUser",
          src: ({ input }) => Promise.resolve(`user-${input}`),
          input: ({ context }) => (context.user === "" ? 7 : 0),
          onDone: {
            target: "ready",
            actions: ({ context, event }) => context.user = event.output as string,
          },
          onError: "failed",
        },
      },
      ready: {},
      failed: {},
    },
  }).start();
  assert.deepEqual(i.configuration, ["loading"]);
  // A deliberate turn of the event loop: the result comes back through promise jobs only, all
  // run before the next task; no timer is involved.
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(i.configuration, ["ready"]);
  assert.equal(i.context.user, "user-7");
});

Deno.test("invoke: a rejection raises error.platform.<id> with the error", async () => {
  let message = "";
  const i = defineMachine({
    id: "m",
    states: {
      loading: {
        invoke: {
          id: "job",
          src: () => Promise.reject(new Error("offline")),
          onError: {
            target: "failed",
            actions: ({ event }) => message = (event.error as Error).message,
          },
        },
      },
      failed: {},
    },
  }).start();
  // A deliberate turn of the event loop: the rejection comes back through promise jobs only.
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(i.configuration, ["failed"]);
  assert.equal(message, "offline");
});

Deno.test("invoke: leaving the state aborts the signal and drops the late result", async () => {
  let aborted = false;
  let resolve!: (v: string) => void;
  const i = defineMachine({
    id: "m",
    states: {
      loading: {
        invoke: {
          src: ({ signal }) => {
            signal.addEventListener("abort", () => aborted = true);
            return new Promise<string>((r) => resolve = r);
          },
          onDone: "ready",
        },
        on: { CANCEL: "cancelled" },
      },
      ready: {},
      cancelled: {},
    },
  }).start();
  i.send("CANCEL");
  assert.equal(aborted, true);
  resolve("late");
  // A deliberate turn of the event loop: a late result would arrive through promise jobs, all
  // run before the next task, so one turn is room enough for what must not happen.
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(i.configuration, ["cancelled"]);
});

Deno.test("invoke: a child machine's output returns as done.invoke; it can talk to its parent", () => {
  const clock = new VirtualClock();
  const child = defineMachine({
    id: "child",
    context: { n: 0 },
    states: {
      work: {
        entry: ({ send }) => send({ type: "PROGRESS" }, { to: "#_parent" }),
        on: { FINISH: "done" },
      },
      done: { type: "final", output: ({ context }) => ({ n: context.n }) },
    },
  });
  const progress: string[] = [];
  const parent = defineMachine({
    id: "parent",
    states: {
      running: {
        invoke: {
          id: "kid",
          src: child,
          input: { n: 5 },
          onDone: {
            target: "finished",
            actions: ({ event }) => progress.push(JSON.stringify(event.output)),
          },
        },
        on: {
          PROGRESS: { actions: ({ event }) => progress.push(`progress from ${event.invokeId}`) },
          TELL: { actions: ({ send }) => send("FINISH", { to: "kid" }) },
        },
      },
      finished: {},
    },
  }).start({ clock });
  assert.deepEqual(progress, ["progress from kid"]);
  parent.send("TELL");
  assert.deepEqual(parent.configuration, ["finished"]);
  assert.deepEqual(progress, ["progress from kid", '{"n":5}']);
});

Deno.test("schemas: a malformed payload is rejected before it is processed", () => {
  const i = defineMachine({
    id: "m",
    context: { code: "" },
    schemas: { events: { LOCK: z.object({ code: z.string().min(4) }) } },
    states: {
      open: {
        on: {
          LOCK: {
            target: "locked",
            actions: ({ context, event }) => context.code = event.code as string,
          },
        },
      },
      locked: {},
    },
  }).start();
  assert.throws(() => i.send({ type: "LOCK", code: 12 }), (e: unknown) => {
    assert.ok(e instanceof EventError);
    assert.match(e.message, /event "LOCK" rejected: code: /);
    return true;
  });
  assert.throws(() => i.send({ type: "LOCK" }), /event "LOCK" rejected: code/);
  assert.deepEqual(i.configuration, ["open"], "nothing was processed");
  assert.equal(i.stats.events, 0);
  i.send({ type: "LOCK", code: "1234" });
  assert.deepEqual(i.configuration, ["locked"]);
});

Deno.test("send rejects values that are not events, with what was wrong", () => {
  const i = defineMachine({ id: "m", states: { a: {} } }).start();
  for (const bad of [42, "", null, {}, { type: 3 }, [], { type: "" }]) {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => i.send(bad as any), EventError, JSON.stringify(bad));
  }
});

Deno.test("acceptedEvents and can follow the configuration and guards", () => {
  const i = defineMachine({
    id: "door",
    context: { locked: false },
    on: { RESET: ".closed" },
    states: {
      closed: {
        on: {
          OPEN: { target: "open", guard: ({ context }) => !context.locked },
          LOCK: { actions: ({ context }) => context.locked = true },
        },
        after: { 1000: "closed" },
      },
      open: { on: { CLOSE: "closed" } },
    },
  }).start({ clock: new VirtualClock() });
  assert.deepEqual(i.acceptedEvents(), ["LOCK", "OPEN", "RESET"]);
  i.send("LOCK");
  assert.deepEqual(i.acceptedEvents(), ["LOCK", "RESET"]);
  assert.deepEqual(i.acceptedEvents({ ignoreGuards: true }), ["LOCK", "OPEN", "RESET"]);
  assert.equal(i.can("OPEN"), false);
  assert.equal(i.can("LOCK"), true);
  assert.equal(i.can("CLOSE"), false);
});

Deno.test("subscribe: records of events, transitions, exits and entries, in order", () => {
  const clock = new VirtualClock(1000);
  const i = defineMachine({ id: "m", states: { a: { on: { GO: "b" } }, b: {} } }).start({
    clock,
    id: "x",
  });
  const records: unknown[] = [];
  const off = i.subscribe((r) => records.push(r));
  i.send("GO");
  off();
  i.send("GO");
  assert.deepEqual(records, [
    { kind: "event", time: 1000, instance: "x", event: { type: "GO" } },
    { kind: "exit", time: 1000, instance: "x", state: "a" },
    { kind: "transition", time: 1000, instance: "x", event: "GO", source: "a", targets: ["b"] },
    { kind: "enter", time: 1000, instance: "x", state: "b" },
    { kind: "macrostep", time: 1000, instance: "x", configuration: ["b"] },
  ]);
  assert.deepEqual(i.stats, { events: 2, transitions: 1, errors: 0, microsteps: 1 });
});

Deno.test("stop: timers and invocations end; later sends are refused", () => {
  const clock = new VirtualClock();
  let aborted = false;
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        after: { 100: "b" },
        invoke: {
          src: ({ signal }) =>
            new Promise(() => signal.addEventListener("abort", () => aborted = true)),
        },
      },
      b: {},
    },
  }).start({ clock });
  i.stop();
  assert.equal(i.status, "stopped");
  assert.equal(aborted, true);
  clock.advance(1000);
  assert.deepEqual(i.configuration, ["a"]);
  assert.throws(() => i.send("X"), /is stopped/);
});
