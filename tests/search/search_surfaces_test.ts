// Search from the outside: `GET /instances?where=...&sort=...` (both backends), `statecraft kv
// ls --where --sort` and the REPL's `ls --where --sort`, each with an error that names the bad
// clause or sort.
import assert from "node:assert/strict";
import { kvLsCommand, type KvLsOptions } from "../../lib/cli/kv.ts";
import { openStore } from "../../lib/persist/store.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { type ApiApp, createApp } from "../../lib/server/app.ts";
import { order } from "../fixtures/search/machines.ts";
import { backendTest, type TestBackend } from "../persist/_backends.ts";
import { memorySession } from "../repl/_memory_session.ts";

const FIXTURES = new URL("../fixtures/search/", import.meta.url).pathname;
const ORDERS = [
  { id: "a1", customer: "acme", total: 50 },
  { id: "a2", customer: "acme", total: 150 },
  { id: "g1", customer: "globex", total: 300 },
];

/** More orders, with ties on `total`, for the sorts. */
const MORE = [
  { id: "b1", customer: "acme", total: 150 },
  { id: "b2", customer: "globex", total: 50 },
  { id: "b3", customer: "acme", total: 300 },
];

type Order = (typeof ORDERS)[number];

/** Runs `test` on the HTTP app over a runtime (the fixtures' machines) on `b` holding `orders`. */
async function withApp(
  b: TestBackend,
  orders: Order[],
  test: (app: ApiApp, rt: Runtime) => Promise<void>,
): Promise<void> {
  const options = { projectDir: FIXTURES, machines: ["machines.ts"], noPlugins: true };
  const rt = await Runtime.open({ ...options, kv: await b.path(), log: () => {} });
  try {
    const app = createApp(rt);
    for (const { id, ...context } of orders) await rt.spawn("order", id, { context });
    await test(app, rt);
  } finally {
    await rt.close();
  }
}

/**
 * Runs `test` with `statecraft kv ls` over a Deno KV file holding `orders`: `ls` runs it on the
 * fixtures' machines with JSON lines and gives its exit code; `printed` is what it printed.
 */
async function withKvLs(
  orders: Order[],
  test: (
    ls: (options: Partial<KvLsOptions>) => Promise<number>,
    printed: { lines: string[]; warns: string[] },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-search-" });
  try {
    const path = `${dir}/state.kv`;
    const store = await openStore({ path, machines: [order] });
    for (const { id, ...context } of orders) await store.create("order", id, { context });
    await store.close();
    const lines: string[] = [];
    const warns: string[] = [];
    const out = { line: (t: string) => lines.push(t), warn: (t: string) => warns.push(t) };
    const options = { kv: path, machines: [`${FIXTURES}machines.ts`], json: true };
    await test((more) => kvLsCommand({ ...options, ...more }, out), { lines, warns });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

backendTest("http: GET /instances?where=...", async (b) => {
  await withApp(b, ORDERS, async (app, rt) => {
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
  });
});

Deno.test("kv ls --where", async () => {
  await withKvLs(ORDERS, async (ls, { lines }) => {
    assert.equal(await ls({ machine: "order", where: ["customer=acme", "total>100"] }), 0);
    assert.deepEqual(lines.map((l) => JSON.parse(l).id), ["a2"]);
    await assert.rejects(
      ls({ machine: "order", where: ["total~1"] }),
      /--where: where clause "total~1"/,
    );
  });
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

backendTest("http: GET /instances?sort=total:desc, paged", async (b) => {
  await withApp(b, [...ORDERS, ...MORE], async (app) => {
    const pages = async (query: string) => {
      const out: string[] = [];
      let cursor: string | undefined;
      do {
        const q = cursor === undefined ? query : `${query}&cursor=${encodeURIComponent(cursor)}`;
        const res = await app.request(`/instances?${q}`);
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        out.push(...body.items.map((i: { id: string }) => i.id));
        cursor = body.cursor;
      } while (cursor !== undefined);
      return out;
    };
    // Ties (150, 300, 50 twice each) by id, in the same direction.
    assert.deepEqual(
      await pages("machine=order&sort=total:desc&limit=2"),
      ["g1", "b3", "b1", "a2", "b2", "a1"],
    );
    assert.deepEqual(
      await pages("machine=order&sort=total&limit=4"),
      ["a1", "b2", "a2", "b1", "b3", "g1"],
    );
    assert.deepEqual(
      await pages("machine=order&where=customer=acme&sort=total:desc&limit=1"),
      ["b3", "b1", "a2", "a1"],
    );
    assert.deepEqual(await pages("sort=id:desc&limit=5"), ["g1", "b3", "b2", "b1", "a2", "a1"]);

    let res = await app.request("/instances?machine=order&sort=totl:desc");
    assert.equal(res.status, 400);
    let body = await res.json();
    assert.equal(body.field, "sort");
    assert.match(body.message, /sort by "totl": not a search field of machine "order"/);
    res = await app.request("/instances?machine=order&sort=total:sideways");
    assert.equal(res.status, 400);
    body = await res.json();
    assert.equal(body.field, "sort");
    assert.match(body.message, /sort "total:sideways": expected field, field:asc or field:desc/);
    res = await app.request("/instances?sort=total");
    assert.equal(res.status, 400);
    assert.match((await res.json()).message, /sorting by a search field needs a machine/);
    res = await app.request("/instances?machine=order&sort=total&cursor=bm9wZQ");
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, "cursor");
  });
});

Deno.test("kv ls --sort", async () => {
  await withKvLs([...ORDERS, ...MORE], async (ls, { lines, warns }) => {
    assert.equal(
      await ls({ machine: "order", where: ["total>=100"], sort: "total:desc", limit: 3 }),
      0,
    );
    assert.deepEqual(lines.map((l) => JSON.parse(l).id), ["g1", "b3", "b1"]);
    assert.deepEqual(warns, ["(more than 3 instances: raise --limit to see more)"]);
    await assert.rejects(
      ls({ machine: "order", sort: "total:up" }),
      /--sort: sort "total:up": expected/,
    );
    await assert.rejects(
      ls({ machine: "order", sort: "customr" }),
      /--sort: sort by "customr": not a search field of machine "order"/,
    );
  });
});

Deno.test("repl: ls --sort", async () => {
  await using s = await memorySession([order]);
  for (const { id, ...context } of [...ORDERS, ...MORE]) {
    await s.runtime.spawn("order", id, { context });
  }
  const r = await s.run("ls --machine order --where customer=acme --sort total:desc");
  const order_ = ["b3", "b1", "a2", "a1"].map((id) => r.out.indexOf(id));
  assert.ok(order_.every((at, i) => at >= 0 && (i === 0 || at > order_[i - 1])), r.out);
  const bad = await s.run("ls --machine order --sort total:up");
  assert.match(bad.err, /ls: sort "total:up": expected/);
  const unknown = await s.run("ls --machine order --sort nope");
  assert.match(unknown.err, /sort by "nope": not a search field/);
});
