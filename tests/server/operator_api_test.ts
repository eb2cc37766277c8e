// Operator actions over HTTP (lib/server/routes/operator.ts), on both backends: cancel, fork,
// redrive one instance, and the bulk versions over a filter with a dry run.
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp } from "../../lib/server/app.ts";
import { backendTest, type TestBackend } from "../persist/_backends.ts";
import { defineMachine } from "../../mod.ts";
import { waitFor } from "../_wait.ts";

const FIXTURES = new URL("../fixtures/server/", import.meta.url).pathname;

/** A runtime on the `machines.ts` of fixture folder `dir`, on a fresh store of `b`. */
async function openRuntime(b: TestBackend, dir: string): Promise<Runtime> {
  return await Runtime.open({
    projectDir: dir,
    kv: await b.path(),
    machines: ["machines.ts"],
    noPlugins: true,
    log: () => {},
  });
}

function post(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

backendTest("http: cancel, fork, redrive, and bulk actions with a dry run", async (b) => {
  const rt = await openRuntime(b, FIXTURES);
  try {
    const app = createApp(rt);
    for (const id of ["t1", "t2", "t3"]) {
      assert.equal((await app.request("/instances", post({ machine: "tally", id }))).status, 201);
    }
    await app.request("/instances", post({ machine: "door", id: "d1" }));
    await app.request("/instances/t1/events", post({ type: "ADD", by: 5 }));

    let res = await app.request("/instances/t1/fork", post({ id: "t1-copy", seq: 1 }));
    assert.equal(res.status, 201);
    assert.deepEqual((await res.json()).context, { n: 5 });
    res = await app.request("/instances/t1/forks");
    assert.deepEqual((await res.json()).items.map((l: { id: string }) => l.id), ["t1-copy"]);

    res = await app.request("/instances/t1/cancel", post({}));
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, "reason");
    res = await app.request("/instances/t1/cancel", post({ reason: "test", by: "ops" }));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "cancelled");
    res = await app.request("/instances/t1/events", post({ type: "ADD" }));
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error, "cancelled");

    res = await app.request("/instances/t2/redrive", post({}));
    assert.equal(res.status, 400);
    assert.match((await res.json()).message, /nothing to retry/);

    // Bulk: the dry run lists and changes nothing.
    const filter = { machine: "tally", status: "active" };
    res = await app.request("/operations/cancel", post({ filter, reason: "sweep", dryRun: true }));
    const dry = await res.json();
    assert.deepEqual([dry.dryRun, dry.matched.sort(), dry.done], [
      true,
      ["t1-copy", "t2", "t3"],
      [],
    ]);
    assert.equal((await rt.store.get("t2"))?.status, "active");
    res = await app.request("/operations/cancel", post({ filter, dryRun: true }));
    assert.equal(res.status, 400);
    res = await app.request("/operations/cancel", post({ filter, reason: "sweep", by: "ops" }));
    const done = await res.json();
    assert.deepEqual([done.done.sort(), done.failed], [["t1-copy", "t2", "t3"], []]);
    const h = await rt.store.history("t3");
    assert.deepEqual([h.at(-1)!.kind, h.at(-1)!.by, h.at(-1)!.reason], ["cancel", "ops", "sweep"]);
    assert.equal((await rt.store.get("d1"))?.status, "active");
    // Bulk redrive: failures are reported per instance, not thrown.
    res = await app.request("/operations/redrive", post({ filter: { machine: "door" } }));
    const r = await res.json();
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0].error, /nothing to retry/);
    res = await app.request("/operations/explode", post({ filter: {} }));
    assert.equal(res.status, 404);
  } finally {
    await rt.close();
    await b.cleanup();
  }
});

backendTest(
  "http: failed effects on GET /instances/:id, redriven by POST .../redrive",
  async (b) => {
    // No plugins here: a send to one fails, and is kept in the outbox as a failed effect.
    const notifier = defineMachine({
      id: "notifier",
      initial: "idle",
      states: {
        idle: {
          on: {
            PING: { actions: ({ send }) => send({ type: "ping" }, { to: "plugin:sink.take" }) },
          },
        },
      },
    });
    const rt = await Runtime.open({
      kv: await b.path(),
      machines: [],
      noPlugins: true,
      extraMachines: [notifier],
      log: () => {},
    });
    try {
      const app = createApp(rt);
      await app.request("/instances", post({ machine: "notifier", id: "n1" }));
      await app.request("/instances/n1/events", post({ type: "PING" }));
      let info: { failedEffects?: { effectId: string; attempts: number; error: string }[] } = {};
      await waitFor("the failed effect", async () => {
        info = await (await app.request("/instances/n1")).json();
        return info.failedEffects !== undefined;
      });
      const [failed] = info.failedEffects!;
      assert.deepEqual([failed.effectId, failed.attempts], ["n1:send:1:0", 1]);
      assert.match(failed.error, /no plugin "sink"/);

      let res = await app.request("/instances/n1/redrive", post({ effect: "n1:send:9:9" }));
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /no effect "n1:send:9:9"/);
      res = await app.request("/instances/n1/redrive", post({ effect: 7 }));
      assert.equal(res.status, 400);
      res = await app.request("/instances/n1/redrive", post({ invocation: true }));
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /no failed invocation/);

      res = await app.request(
        "/instances/n1/redrive",
        post({ by: "ops", effect: failed.effectId }),
      );
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.redriven.map((r: { outcome: string }) => r.outcome), ["failed"]);
      assert.equal(body.failedEffects[0].attempts, 2);
      const last = (await rt.store.history("n1")).at(-1)!;
      assert.deepEqual([last.kind, last.by, last.effects], ["redrive", "ops", [failed.effectId]]);
      // Bulk: an instance with failed effects is redriven (its effects), not refused.
      res = await app.request("/operations/redrive", post({ filter: { machine: "notifier" } }));
      const bulk = await res.json();
      assert.deepEqual([bulk.done, bulk.failed], [["n1"], []]);
      assert.equal((await rt.store.get("n1"))?.failedEffects?.[0].attempts, 3);
    } finally {
      await rt.close();
    }
  },
);

backendTest("http: a bulk action's filter takes search clauses", async (b) => {
  const rt = await openRuntime(b, new URL("../fixtures/search/", import.meta.url).pathname);
  try {
    const app = createApp(rt);
    for (const [id, total] of [["o1", 50], ["o2", 150], ["o3", 250]] as const) {
      const body = { machine: "order", id, context: { customer: "acme", total } };
      assert.equal((await app.request("/instances", post(body))).status, 201);
    }
    const filter = { machine: "order", where: ["total>=100", "customer=acme"] };
    let res = await app.request("/operations/cancel", post({ filter, reason: "x", dryRun: true }));
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).matched.sort(), ["o2", "o3"]);
    res = await app.request("/operations/cancel", post({ filter, reason: "promotion over" }));
    assert.deepEqual((await res.json()).done.sort(), ["o2", "o3"]);
    assert.equal((await rt.store.get("o1"))?.status, "active");
    assert.equal((await rt.store.get("o3"))?.status, "cancelled");
    // A bad clause: 400, naming where it is.
    const bad = { filter: { machine: "order", where: ["tag<vip"] }, reason: "x" };
    res = await app.request("/operations/cancel", post(bad));
    assert.equal(res.status, 400);
    const error = await res.json();
    assert.equal(error.field, "filter.where");
    assert.match(error.message, /"tag<vip"/);
  } finally {
    await rt.close();
    await b.cleanup();
  }
});
