// Search from the outside: `GET /instances?where=...` (both backends), `statecraft kv ls
// --where` and the REPL's `ls --where`, each with an error that names the bad clause.
import assert from "node:assert/strict";
import { kvLsCommand } from "../../lib/cli/kv.ts";
import { openStore } from "../../lib/persist/store.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp } from "../../lib/server/app.ts";
import { order } from "../fixtures/search/machines.ts";
import { backendTest } from "../persist/_backends.ts";
import { memorySession } from "../repl/_memory_session.ts";

const FIXTURES = new URL("../fixtures/search/", import.meta.url).pathname;
const ORDERS = [
  { id: "a1", customer: "acme", total: 50 },
  { id: "a2", customer: "acme", total: 150 },
  { id: "g1", customer: "globex", total: 300 },
];

backendTest("http: GET /instances?where=...", async (b) => {
  const options = { projectDir: FIXTURES, machines: ["machines.ts"], noPlugins: true };
  const rt = await Runtime.open({ ...options, kv: await b.path(), log: () => {} });
  try {
    const app = createApp(rt);
    for (const { id, ...context } of ORDERS) await rt.spawn("order", id, { context });
    await rt.send("a2", "PAY");
    const ids = async (query: string) => {
      const res = await app.request(`/instances?${query}`);
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.items.map((i: { id: string }) => i.id).sort();
    };
    assert.deepEqual(await ids("machine=order&where=customer=acme"), ["a1", "a2"]);
    assert.deepEqual(
      await ids(`machine=order&where=${encodeURIComponent("total>=100")}&where=customer=acme`),
      ["a2"],
    );
    assert.deepEqual(await ids("where=tag=vip"), ["a2"]);
    assert.deepEqual(await ids(`machine=order&where=${encodeURIComponent("total<100")}`), ["a1"]);

    let res = await app.request(`/instances?machine=order&where=${encodeURIComponent("total~1")}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: "invalid",
      field: "where",
      message:
        'where clause "total~1": expected field=value, field>=value, field<value... or tag=name',
    });
    res = await app.request("/instances?where=customer=acme");
    assert.equal(res.status, 400);
    assert.match((await res.json()).message, /where clause on "customer": field filters need/);
  } finally {
    await rt.close();
  }
});

Deno.test("kv ls --where", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-search-" });
  try {
    const path = `${dir}/state.kv`;
    const store = await openStore({ path, machines: [order] });
    for (const { id, ...context } of ORDERS) await store.create("order", id, { context });
    await store.close();
    const lines: string[] = [];
    const warns: string[] = [];
    const out = { line: (t: string) => lines.push(t), warn: (t: string) => warns.push(t) };
    const options = { kv: path, machines: [`${FIXTURES}machines.ts`], json: true };
    assert.equal(
      await kvLsCommand(
        { ...options, machine: "order", where: ["customer=acme", "total>100"] },
        out,
      ),
      0,
    );
    assert.deepEqual(lines.map((l) => JSON.parse(l).id), ["a2"]);
    await assert.rejects(
      kvLsCommand({ ...options, machine: "order", where: ["total~1"] }, out),
      /--where: where clause "total~1"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("repl: ls --where", async () => {
  await using s = await memorySession([order]);
  for (const { id, ...context } of ORDERS) await s.runtime.spawn("order", id, { context });
  const r = await s.run("ls --machine order --where customer=globex");
  assert.match(r.out, /g1/);
  assert.doesNotMatch(r.out, /a1|a2/);
  const bad = await s.run("ls --where total");
  assert.match(bad.err, /ls: where clause "total": expected/);
});
