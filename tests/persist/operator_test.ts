// Operator actions on the durable store: cancel, fork, redrive, on both backends.
import assert from "node:assert/strict";
import { defineMachine, type EventObject, type FailedEffect, VirtualClock } from "../../mod.ts";
import { type DurableStore, openStore, type Store, StoreError } from "../../lib/persist/store.ts";
import { backendTest } from "./_backends.ts";
import { waitFor } from "../_wait.ts";
import { flakyCall, flakyJob } from "./_flaky_job.ts";

const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  states: {
    on: {
      after: { 60_000: "off" },
      on: { INC: { actions: ({ context }) => context.n++ } },
    },
    off: {},
  },
});

backendTest(
  "cancel stops an instance for good: journaled, timers gone, events refused",
  async (b) => {
    const path = await b.path();
    const clock = new VirtualClock(Date.now());
    let store = await openStore({ path, machines: [counter], clock, timerPollMs: 20 });
    try {
      await store.create("counter", "c1");
      await store.send("c1", "INC");
      await assert.rejects(
        store.cancel("c1", { reason: " ", by: "alice" }),
        (e) =>
          e instanceof StoreError && e.code === "invalid" && /reason is required/.test(e.message),
      );
      const info = await store.cancel("c1", { reason: "customer asked", by: "alice" });
      assert.equal(info.status, "cancelled");
      assert.equal(info.cancelled?.by, "alice");
      assert.equal(info.cancelled?.reason, "customer asked");
      const last = (await store.history("c1")).at(-1)!;
      assert.deepEqual([last.kind, last.by, last.reason, last.status], [
        "cancel",
        "alice",
        "customer asked",
        "cancelled",
      ]);
      // Again: nothing new.
      assert.equal((await store.cancel("c1", { reason: "again", by: "bob" })).seq, last.seq);
      await assert.rejects(
        store.send("c1", "INC"),
        (e) =>
          e instanceof StoreError && e.code === "cancelled" && /cancelled by alice/.test(e.message),
      );
      assert.deepEqual((await store.list({ status: "cancelled" })).items.map((i) => i.id), ["c1"]);
      assert.deepEqual((await store.list({ status: "active" })).items, []);
      clock.advance(120_000); // its timer is gone: nothing fires
      await (store as DurableStore).idle();
      assert.equal((await store.get("c1"))?.seq, last.seq);
      assert.deepEqual((await store.get("c1"))?.configuration, ["on"]);
      await store.close();
      store = await openStore({ path, machines: [counter], clock, timerPollMs: 20 });
      assert.equal((await store.get("c1"))?.status, "cancelled");
      await assert.rejects(store.send("c1", "INC"), (e) => (e as StoreError).code === "cancelled");
      await assert.rejects(store.redrive("c1"), (e) => (e as StoreError).code === "cancelled");
      // A rollback runs it again.
      const back = await store.rollback("c1", { seq: 1 }, { by: "alice" });
      assert.equal(back.status, "active");
      assert.equal(back.cancelled, undefined);
      assert.equal((await store.send("c1", "INC")).seq, last.seq + 2);
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);

backendTest("fork makes a new instance from any journal seq, linked to its origin", async (b) => {
  const store = await openStore({ path: await b.path(), machines: [counter] });
  try {
    await store.create("counter", "a");
    for (let i = 0; i < 3; i++) await store.send("a", "INC");
    const f = await store.fork("a", "a-2", { seq: 2, by: "carol" });
    assert.deepEqual([f.id, f.seq, f.status, f.context], ["a-2", 0, "active", { n: 2 }]);
    const first = (await store.history("a-2"))[0];
    assert.deepEqual([first.kind, first.by, first.origin], ["fork", "carol", { id: "a", seq: 2 }]);
    const latest = await store.fork("a", "a-now");
    assert.deepEqual(latest.context, { n: 3 });
    assert.deepEqual((await store.forks("a")).map((l) => [l.id, l.seq]), [["a-2", 2], [
      "a-now",
      3,
    ]]);
    assert.equal((await store.forks("a"))[0].by, "carol");
    // Independent from then on.
    await store.send("a-2", "INC");
    assert.deepEqual((await store.get("a-2"))?.context, { n: 3 });
    assert.deepEqual((await store.get("a"))?.context, { n: 3 });
    await assert.rejects(
      store.fork("a", "a-bad", { seq: 9 }),
      (e) => e instanceof StoreError && e.code === "invalid" && /entries 0\.\.3/.test(e.message),
    );
    await assert.rejects(store.fork("a", "a-2"), (e) => (e as StoreError).code === "exists");
    await assert.rejects(store.fork("nope", "x"), (e) => (e as StoreError).code === "not_found");
  } finally {
    await store.close();
    await b.cleanup();
  }
});

backendTest("redrive retries the failed invocation from the state before its error", async (b) => {
  const job = { ok: false, calls: 0 };
  const store = await openStore({ path: await b.path(), machines: [flakyJob(job)] });
  try {
    await assert.rejects(store.redrive("nope"), (e) => (e as StoreError).code === "not_found");
    await store.create("job", "j");
    await waitFor("the failure", async () => (await store.get("j"))?.configuration[0] === "failed");
    assert.equal(job.calls, 1);
    job.ok = true;
    const r = await store.redrive("j", { by: "dave" });
    const entry = (await store.history("j", { from: r.seq }))[0];
    assert.deepEqual([entry.kind, entry.by, entry.to, entry.retried], ["redrive", "dave", 0, 1]);
    await waitFor("the retry", async () => (await store.get("j"))?.status === "done");
    assert.equal(job.calls, 2);
    assert.deepEqual((await store.get("j"))?.configuration, ["finished"]);
    await assert.rejects(
      store.redrive("j"),
      (e) => e instanceof StoreError && e.code === "invalid" && /nothing to retry/.test(e.message),
    );
  } finally {
    await store.close();
    await b.cleanup();
  }
});

/** A plugin action for the effect tests: fails while `down`; `runs` lists the effect ids run. */
function sink(plugin: { down: boolean; runs: string[] }) {
  return (_target: string, event: EventObject, _from: unknown, effectId?: string) => () => {
    plugin.runs.push(`${event.type}@${effectId}`);
    return plugin.down ? Promise.reject(new Error("sink is down")) : Promise.resolve();
  };
}

/** A job whose failure (an invocation) tells a plugin (an effect) on entering `failed`. */
function notifyingJob(job: { ok: boolean; calls: number }) {
  return defineMachine({
    id: "job",
    states: {
      working: {
        on: { PING: { actions: ({ send }) => send({ type: "ping" }, { to: "plugin:sink.take" }) } },
        invoke: flakyCall(job),
      },
      failed: { entry: ({ send }) => send({ type: "failed" }, { to: "plugin:sink.take" }) },
      finished: { type: "final" },
    },
  });
}

async function failedEffects(store: Store, id: string): Promise<FailedEffect[]> {
  return (await store.get(id))?.failedEffects ?? [];
}

backendTest(
  "redrive runs a failed effect again with its effect id: journaled, kept when it fails again",
  async (b) => {
    const plugin = { down: true, runs: [] as string[] };
    const job = { ok: true, calls: 0 };
    const clock = new VirtualClock(1_000);
    const store = await openStore({
      path: await b.path(),
      machines: [notifyingJob({ ...job, ok: false }), counter],
      clock,
      onError: () => {},
      onSend: sink(plugin),
    });
    try {
      // An instance whose invocation hangs: the PING send is its only failure.
      await store.create("counter", "plain");
      await assert.rejects(
        store.redrive("plain"),
        (e) =>
          e instanceof StoreError && e.code === "invalid" && /nothing to retry/.test(e.message),
      );
      await store.create("job", "j");
      await waitFor(
        "the failure",
        async () => (await store.get("j"))?.configuration[0] === "failed",
      );
      await waitFor(
        "the effect's failure",
        async () => (await failedEffects(store, "j")).length === 1,
      );
      const [failed] = await failedEffects(store, "j");
      assert.deepEqual([failed.event, failed.target, failed.attempts, failed.error, failed.at], [
        "failed",
        "plugin:sink.take",
        1,
        "sink is down",
        1_000,
      ]);
      const effectId = failed.effectId;
      assert.deepEqual(plugin.runs, [`failed@${effectId}`]);

      // Both an effect and the invocation failed: the effect goes first. Still down: kept.
      clock.advance(500);
      const again = await store.redrive("j", { by: "dave" });
      assert.deepEqual(again.redriven, [{ effectId, outcome: "failed", error: "sink is down" }]);
      assert.deepEqual(again.failedEffects?.map((f) => [f.attempts, f.at]), [[2, 1_500]]);
      assert.deepEqual(again.configuration, ["failed"], "the state does not move");
      const entry = (await store.history("j")).at(-1)!;
      assert.deepEqual([entry.kind, entry.by, entry.effects, entry.to, entry.seq], [
        "redrive",
        "dave",
        [effectId],
        undefined,
        again.seq,
      ]);

      // Back up: delivered with the same effect id, out of the outbox, journaled.
      plugin.down = false;
      const done = await store.redrive("j", { by: "erin", effect: effectId });
      assert.deepEqual(done.redriven, [{ effectId, outcome: "delivered" }]);
      assert.equal(done.failedEffects, undefined);
      assert.deepEqual(plugin.runs, [
        `failed@${effectId}`,
        `failed@${effectId}`,
        `failed@${effectId}`,
      ]);
      assert.deepEqual((await store.history("j")).at(-1)!.effects, [effectId]);
      assert.equal(await store.get("j").then((i) => i?.failedEffects), undefined);
      await assert.rejects(
        store.redrive("j", { effect: effectId }),
        (e) => e instanceof StoreError && e.code === "invalid" && /no effect/.test(e.message),
      );
      await assert.rejects(
        store.redrive("j", { effect: effectId, invocation: true }),
        (e) => e instanceof StoreError && e.code === "invalid" && /not both/.test(e.message),
      );

      // No failed effect left: the failed invocation is what a redrive retries.
      const retried = await store.redrive("j", { by: "dave" });
      const last = (await store.history("j", { from: retried.seq }))[0];
      assert.deepEqual([last.kind, last.retried, last.effects], ["redrive", 1, undefined]);
      assert.equal(retried.redriven, undefined);
      await waitFor("the retry's failure", async () => {
        return (await store.get("j"))?.configuration[0] === "failed";
      });
      // A redrive entry keeps the state: forks and rollbacks replay across it.
      const fork = await store.fork("j", "j-copy");
      assert.deepEqual(fork.configuration, ["failed"]);
      assert.deepEqual((await store.rollback("j", { seq: done.seq })).configuration, ["failed"]);
      assert.deepEqual((await store.get("j"))?.configuration, ["failed"]);
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);

backendTest(
  "redrive { invocation: true } retries the invocation despite failed effects",
  async (b) => {
    const plugin = { down: true, runs: [] as string[] };
    const job = { ok: false, calls: 0 };
    const store = await openStore({
      path: await b.path(),
      machines: [notifyingJob(job)],
      onError: () => {},
      onSend: sink(plugin),
    });
    try {
      await store.create("job", "j");
      await waitFor(
        "the effect's failure",
        async () => (await failedEffects(store, "j")).length === 1,
      );
      job.ok = true;
      const r = await store.redrive("j", { invocation: true });
      const entry = (await store.history("j", { from: r.seq }))[0];
      assert.deepEqual([entry.kind, entry.to, entry.retried], ["redrive", 0, 1]);
      await waitFor("the retry", async () => (await store.get("j"))?.status === "done");
      assert.equal(job.calls, 2);
      // The failed effect is still there: a plain redrive runs it.
      plugin.down = false;
      const effects = await store.redrive("j");
      assert.equal(effects.redriven?.[0].outcome, "delivered");
      assert.equal(effects.failedEffects, undefined);
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);
