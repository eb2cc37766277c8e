// Operator actions on the durable store: cancel, fork, redrive, on both backends.
import assert from "node:assert/strict";
import { defineMachine, VirtualClock } from "../../mod.ts";
import { type DurableStore, openStore, StoreError } from "../../lib/persist/store.ts";
import { backendTest } from "./_backends.ts";
import { waitFor } from "../_wait.ts";
import { flakyJob } from "./_flaky_job.ts";

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
