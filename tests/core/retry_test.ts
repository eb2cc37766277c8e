// Retry policies of invocations (`invoke: { retry, timeout }`, `invokeDefaults`) on a
// VirtualClock: attempts, exact backoff times, the cap, nonRetryable, timeouts, snapshots.
import assert from "node:assert/strict";
import {
  defineMachine,
  type EventObject,
  type InvokeArgs,
  type MachineConfig,
  type MonitorRecord,
  VirtualClock,
} from "../../core.ts";

/** Lets promise jobs run (an attempt's result comes back through them; no timer involved). */
const settle = () => new Promise((r) => setTimeout(r, 0));

interface Probe {
  /** Clock time of each attempt's start, with its number. */
  starts: { at: number; attempt: number; effectId: string }[];
  /** What the invocation ended with. */
  ended: EventObject[];
}

function machine(
  clock: VirtualClock,
  probe: Probe,
  work: (args: InvokeArgs) => unknown,
  extra: Partial<MachineConfig> & { retry?: unknown; timeout?: unknown } = {},
) {
  const { retry, timeout, ...rest } = extra;
  const invoke: Record<string, unknown> = {
    id: "call",
    // A policy `work` carries (like `pluginAction`'s `retryPolicy`) goes with it.
    src: Object.assign((args: InvokeArgs) => {
      probe.starts.push({ at: clock.now(), attempt: args.attempt, effectId: args.effectId });
      return work(args);
    }, { retryPolicy: (work as { retryPolicy?: unknown }).retryPolicy }),
    onDone: {
      target: "ok",
      actions: ({ event }: { event: EventObject }) => probe.ended.push(event),
    },
    onError: {
      target: "failed",
      actions: ({ event }: { event: EventObject }) => probe.ended.push(event),
    },
  };
  if (retry !== undefined) invoke.retry = retry;
  if (timeout !== undefined) invoke.timeout = timeout;
  return defineMachine({
    id: "caller",
    initial: "calling",
    states: {
      calling: { invoke: invoke as never, on: { LEAVE: "left" } },
      ok: {},
      failed: {},
      left: {},
    },
    ...rest,
  } as MachineConfig);
}

function failing(times: number, name = "Error") {
  let n = 0;
  return () => {
    if (++n <= times) {
      const e = new Error(`failure ${n}`);
      e.name = name;
      return Promise.reject(e);
    }
    return Promise.resolve(`result ${n}`);
  };
}

/** Advances the clock to each pending wait in turn until nothing changes. */
async function runOut(clock: VirtualClock, ms: number): Promise<void> {
  await settle();
  clock.advance(ms);
  await settle();
}

Deno.test("retry: attempts wait initial * factor^(n-1) exactly, then error.platform with the count", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const i = machine(clock, probe, failing(99), {
    retry: { attempts: 4, initial: "1s", factor: 3 },
  }).start({ clock, id: "a" });
  await settle();
  assert.deepEqual(probe.starts.map((s) => s.at), [0]);
  clock.advance(999);
  await settle();
  assert.equal(probe.starts.length, 1, "not before the first wait is over");
  await runOut(clock, 1);
  assert.deepEqual(probe.starts.map((s) => s.at), [0, 1000]);
  await runOut(clock, 3000);
  await runOut(clock, 9000);
  assert.deepEqual(probe.starts.map((s) => [s.at, s.attempt]), [[0, 1], [1000, 2], [4000, 3], [
    13000,
    4,
  ]]);
  // One invocation: the same effect id (the idempotency key) for every attempt.
  assert.equal(new Set(probe.starts.map((s) => s.effectId)).size, 1);
  assert.deepEqual(i.configuration, ["failed"]);
  assert.equal(probe.ended.length, 1);
  assert.equal(probe.ended[0].type, "error.platform.call");
  assert.equal(probe.ended[0].attempts, 4);
  assert.deepEqual(probe.ended[0].error, { name: "Error", message: "failure 4" });
  assert.equal(i.snapshot().retries, undefined, "nothing left once it failed");
});

Deno.test("retry: max caps each wait", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  machine(clock, probe, failing(99), {
    retry: { attempts: 5, initial: 100, factor: 10, max: "2s" },
  }).start({ clock });
  for (const wait of [100, 1000, 2000, 2000]) await runOut(clock, wait);
  assert.deepEqual(probe.starts.map((s) => s.at), [0, 100, 1100, 3100, 5100]);
  assert.equal(probe.ended[0].attempts, 5);
});

Deno.test("retry: success on the third attempt raises done.invoke only", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const records: MonitorRecord[] = [];
  const i = machine(clock, probe, failing(2), { retry: { attempts: 5, initial: 50, factor: 2 } })
    .start({ clock, listener: (r) => records.push(r) });
  await runOut(clock, 50);
  await runOut(clock, 100);
  assert.deepEqual(probe.starts.map((s) => [s.at, s.attempt]), [[0, 1], [50, 2], [150, 3]]);
  assert.deepEqual(i.configuration, ["ok"]);
  assert.deepEqual(probe.ended.map((e) => [e.type, e.output]), [["done.invoke.call", "result 3"]]);
  // The engine's own retry deliveries are not events of the chart.
  const events = records.flatMap((r) => r.kind === "event" ? [r.event.type] : []);
  assert.deepEqual(events, ["done.invoke.call"]);
});

Deno.test("retry: a nonRetryable error (by name or code) fails at once", async () => {
  for (const [name, err] of [["name", { name: "Refused" }], ["code", { code: "EPERM" }]] as const) {
    const clock = new VirtualClock();
    const probe: Probe = { starts: [], ended: [] };
    machine(clock, probe, () => Promise.reject(Object.assign(new Error(`by ${name}`), err)), {
      retry: { attempts: 3, initial: 10, nonRetryable: ["Refused", "EPERM"] },
    }).start({ clock });
    await runOut(clock, 1000);
    assert.equal(probe.starts.length, 1, name);
    assert.equal(probe.ended[0].type, "error.platform.call");
    assert.equal(probe.ended[0].attempts, 1);
  }
});

Deno.test("retry: an attempt over its timeout is aborted, fails and is retried", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const aborted: string[] = [];
  const i = machine(clock, probe, ({ signal, attempt }) => {
    if (attempt === 2) return Promise.resolve("fast");
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        aborted.push((signal.reason as Error).name);
        reject(signal.reason);
      })
    );
  }, { retry: { attempts: 2, initial: 10 }, timeout: "1s" }).start({ clock });
  await runOut(clock, 999);
  assert.equal(probe.starts.length, 1);
  await runOut(clock, 1);
  assert.deepEqual(aborted, ["TimeoutError"]);
  await runOut(clock, 10);
  assert.deepEqual(probe.starts.map((s) => s.at), [0, 1010]);
  assert.deepEqual(i.configuration, ["ok"]);
});

Deno.test("retry: a timeout without retry fails the invocation with a TimeoutError", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const i = machine(clock, probe, () => new Promise(() => {}), { timeout: 500 }).start({ clock });
  await runOut(clock, 500);
  assert.deepEqual(i.configuration, ["failed"]);
  assert.equal((probe.ended[0].error as { name: string }).name, "TimeoutError");
  assert.match((probe.ended[0].error as { message: string }).message, /attempt 1 took longer/);
});

Deno.test("retry: invokeDefaults give every invoke a policy; an invoke's own fields win", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  machine(clock, probe, failing(99), {
    invokeDefaults: { retry: { attempts: 2, initial: "5s" } },
    retry: { initial: 20 },
  }).start({ clock });
  await runOut(clock, 20);
  await runOut(clock, 10_000);
  assert.deepEqual(probe.starts.map((s) => s.at), [0, 20]);
  assert.equal(probe.ended[0].attempts, 2);
});

Deno.test("retry: leaving the state during a wait cancels the retry", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const i = machine(clock, probe, failing(99), { retry: { attempts: 3, initial: 100 } })
    .start({ clock });
  await settle();
  assert.equal(i.snapshot().timers.length, 1);
  i.send("LEAVE");
  assert.deepEqual(i.snapshot().timers, []);
  await runOut(clock, 10_000);
  assert.equal(probe.starts.length, 1);
  assert.deepEqual(i.configuration, ["left"]);
});

Deno.test("retry: a snapshot taken during a wait restores into the same wait", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const m = machine(clock, probe, failing(2), { retry: { attempts: 4, initial: 1000, factor: 2 } });
  const i = m.start({ clock, id: "r" });
  await runOut(clock, 1000); // attempt 2 at 1000 fails: waits 2000, until 3000
  clock.advance(500);
  const snap = JSON.parse(JSON.stringify(i.snapshot()));
  i.stop();
  assert.deepEqual(snap.retries, {
    call: {
      attempt: 2,
      error: { name: "Error", message: "failure 2" },
      policy: { attempts: 4, initial: 1000, factor: 2, nonRetryable: [] },
    },
  });
  assert.deepEqual(snap.timers.map((t: { sendId: string; due: number }) => [t.sendId, t.due]), [[
    "statecraft.retry:call",
    3000,
  ]]);
  const r = m.restore(snap, { clock });
  await settle();
  assert.equal(probe.starts.length, 2, "the restore waits, it does not run an attempt");
  clock.advance(1499);
  await settle();
  assert.equal(probe.starts.length, 2);
  await runOut(clock, 1);
  assert.deepEqual(probe.starts.map((s) => [s.at, s.attempt]), [[0, 1], [1000, 2], [3000, 3]]);
  assert.deepEqual(r.configuration, ["ok"]);
});

Deno.test("retry: a snapshot taken while a later attempt runs restarts that attempt", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const m = machine(clock, probe, ({ attempt }) => {
    if (attempt === 1) return Promise.reject(new Error("first"));
    return new Promise(() => {}); // never settles before the snapshot
  }, { retry: { attempts: 3, initial: 10 } });
  const i = m.start({ clock });
  await runOut(clock, 10);
  const snap = i.snapshot();
  i.stop();
  assert.deepEqual(snap.retries?.call.attempt, 1);
  assert.deepEqual(snap.timers, []);
  m.restore(snap, { clock });
  assert.deepEqual(probe.starts.map((s) => s.attempt), [1, 2, 2]);
});

Deno.test("retry: malformed policies are definition errors that say where", () => {
  assert.throws(
    () =>
      defineMachine({
        id: "bad",
        invokeDefaults: { retry: { attempts: 0 } },
        states: {
          a: {
            invoke: { src: () => 1, retry: { factor: 0.5, oops: 1 } as never, timeout: "soon" },
          },
        },
      }),
    (e: Error) => {
      assert.match(e.message, /invokeDefaults\.retry\.attempts.*integer >= 1/s);
      assert.match(e.message, /factor must be a number >= 1/);
      assert.match(e.message, /unknown retry property "oops"/);
      assert.match(e.message, /timeout must be a duration/);
      return true;
    },
  );
});

Deno.test("retry: a malformed retries field of a snapshot is refused, naming the field", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const m = machine(clock, probe, failing(99), { retry: { attempts: 3, initial: 10 } });
  const i = m.start({ clock, id: "s" });
  await settle();
  const snap = i.snapshot();
  i.stop();
  const bad = {
    ...snap,
    retries: { call: { attempt: 0, error: { name: "Error", message: "x" } } },
  };
  assert.throws(() => m.restore(bad, { clock }), /retries\.call\.attempt: must be at least 1/);
});

/** An invoked function whose policy comes from outside (a plugin action's manifest). */
function withPolicy(loaded: { policy: boolean }): (args: InvokeArgs) => Promise<never> {
  const src = (args: InvokeArgs) => Promise.reject(new Error(`failure ${args.attempt}`));
  return Object.assign(src, {
    // Like `pluginAction`'s: the manifest's policy while the plugin is loaded, else nothing.
    retryPolicy: () =>
      loaded.policy
        ? {
          retry: { attempts: 4, initial: 1000, factor: 3, max: Infinity, nonRetryable: [] },
          timeout: 5000,
        }
        : undefined,
  });
}

Deno.test("retry: a restore mid-wait keeps the policy in force, without its source", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const loaded = { policy: true };
  const m = machine(clock, probe, withPolicy(loaded));
  const i = m.start({ clock, id: "p" });
  await runOut(clock, 1000); // attempt 2 at 1000 fails: waits 3000 (factor 3), until 4000
  const snap = JSON.parse(JSON.stringify(i.snapshot()));
  i.stop();
  assert.deepEqual(snap.retries.call.policy, {
    attempts: 4,
    initial: 1000,
    factor: 3,
    nonRetryable: [],
    timeout: 5000,
  });
  loaded.policy = false; // the plugin is not loaded where the snapshot is restored
  const r = m.restore(snap, { clock });
  await runOut(clock, 3000); // attempt 3 at 4000 fails: waits 9000, until 13000
  assert.equal(r.snapshot().timers[0]?.due, 13_000, "the manifest's backoff, not none");
  await runOut(clock, 9000); // attempt 4 at 13000 fails: the last one
  assert.deepEqual(probe.starts.map((s) => [s.at, s.attempt]), [
    [0, 1],
    [1000, 2],
    [4000, 3],
    [13_000, 4],
  ]);
  assert.deepEqual(r.configuration, ["failed"]);
  assert.equal(probe.ended[0].attempts, 4);
});

Deno.test("retry: a snapshot without the policy (written before it was kept) still loads", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const m = machine(clock, probe, failing(2), { retry: { attempts: 4, initial: 1000, factor: 2 } });
  const i = m.start({ clock, id: "old" });
  await runOut(clock, 1000);
  const snap = JSON.parse(JSON.stringify(i.snapshot()));
  i.stop();
  delete snap.retries.call.policy; // the old form: { attempt, error }
  const r = m.restore(snap, { clock });
  await runOut(clock, 2000); // the machine's own policy: attempt 3 at 3000 succeeds
  assert.deepEqual(probe.starts.map((s) => [s.at, s.attempt]), [[0, 1], [1000, 2], [3000, 3]]);
  assert.deepEqual(r.configuration, ["ok"]);
});

Deno.test("retry: a malformed policy in a snapshot's retries is refused, naming the field", async () => {
  const clock = new VirtualClock();
  const probe: Probe = { starts: [], ended: [] };
  const m = machine(clock, probe, failing(99), { retry: { attempts: 3, initial: 10 } });
  const i = m.start({ clock, id: "s" });
  await runOut(clock, 0);
  const snap = JSON.parse(JSON.stringify(i.snapshot()));
  i.stop();
  const retry = snap.retries.call;
  for (
    const [policy, message] of [
      ["soon", /retries\.call\.policy: must be an object/],
      [{ ...retry.policy, factor: 0.5 }, /retries\.call\.policy\.factor: must be a number >= 1/],
      [{ ...retry.policy, attempts: 0 }, /retries\.call\.policy\.attempts: must be an integer/],
      [{ ...retry.policy, timeout: 0 }, /retries\.call\.policy\.timeout: must be a positive/],
      [{ ...retry.policy, extra: 1 }, /retries\.call\.policy\.extra: is not a property/],
    ] as const
  ) {
    const bad = { ...snap, retries: { call: { ...retry, policy } } };
    assert.throws(() => m.restore(bad, { clock }), message);
  }
});
