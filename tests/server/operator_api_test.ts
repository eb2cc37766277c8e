// Operator actions over HTTP (lib/server/routes/operator.ts), on both backends: cancel, fork,
// redrive one instance, and the bulk versions over a filter with a dry run.
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp } from "../../lib/server/app.ts";
import { backendTest } from "../persist/_backends.ts";

const FIXTURES = new URL("../fixtures/server/", import.meta.url).pathname;

function post(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

backendTest("http: cancel, fork, redrive, and bulk actions with a dry run", async (b) => {
  const rt = await Runtime.open({
    projectDir: FIXTURES,
    kv: await b.path(),
    machines: ["machines.ts"],
    noPlugins: true,
    log: () => {},
  });
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
