// Search (docs/operations.md, "Search"): declared context fields and state tags are indexed in
// the commit of each macrostep; `list` with `where` reads only the matching index entries (the
// backend's reads are counted); paging with cursors; a changed declaration re-indexes the
// stored instances in the background; three cluster nodes on one store list what the owners
// indexed. On Deno KV and PostgreSQL.
import assert from "node:assert/strict";
import { defineMachine, VirtualClock } from "../../mod.ts";
import { joinCluster } from "../../lib/cluster/membership.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { parseWhere } from "../../lib/persist/search.ts";
import {
  type ListOptions,
  openStore,
  type ReindexProgress,
  type Store,
  StoreError,
} from "../../lib/persist/store.ts";
import { backendTest } from "./_backends.ts";
import { counting, orderMachine } from "../search/_orders.ts";

async function ids(store: Store, options: ListOptions): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ ...options, cursor, limit: options.limit ?? 1000 });
    out.push(...page.items.map((i) => i.id));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out.sort();
}

const CUSTOMERS = ["acme", "globex", "initech", "umbrella"];

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `o${String(i).padStart(3, "0")}`;
    await store.create("order", id, {
      context: { customer: CUSTOMERS[i % CUSTOMERS.length], total: i * 10 },
    });
  }
}

const expected = (n: number, pred: (i: number) => boolean): string[] =>
  Array.from({ length: n }, (_, i) => i).filter(pred).map((i) => `o${String(i).padStart(3, "0")}`);

backendTest("where: equality, ranges and tags read only the matching instances", async (b) => {
  const c = counting(await openBackend(await b.path()));
  const store = await openStore({ backend: c.backend, machines: [orderMachine(true)] });
  try {
    const N = 80;
    await fill(store, N);
    await store.searchReady();

    let before = c.gets();
    const acme = await ids(store, { machine: "order", where: parseWhere(["customer=acme"]) });
    assert.deepEqual(acme, expected(N, (i) => i % 4 === 0));
    // One record read per match (and nothing for the 60 others).
    assert.equal(c.gets() - before, acme.length);

    before = c.gets();
    const mid = await ids(store, {
      machine: "order",
      where: parseWhere(["total>=100", "total<200"]),
    });
    assert.deepEqual(mid, expected(N, (i) => i * 10 >= 100 && i * 10 < 200));
    assert.equal(c.gets() - before, mid.length);
    assert.deepEqual(
      await ids(store, { machine: "order", where: parseWhere(["total>770"]) }),
      expected(N, (i) => i * 10 > 770),
    );
    assert.deepEqual(
      await ids(store, { machine: "order", where: parseWhere(["total<=20", "customer=globex"]) }),
      ["o001"],
    );

    // Paging through a range, in the field's order.
    const page1 = await store.list({ machine: "order", where: parseWhere(["total>=0"]), limit: 7 });
    assert.equal(page1.items.length, 7);
    assert.deepEqual(
      page1.items.map((i) => i.context),
      expected(7, () => true).map((_, i) => ({
        customer: CUSTOMERS[i % 4],
        total: i * 10,
      })),
    );
    const page2 = await store.list({
      machine: "order",
      where: parseWhere(["total>=0"]),
      limit: 7,
      cursor: page1.cursor,
    });
    assert.deepEqual(page2.items.map((i) => i.id), expected(14, (i) => i >= 7));

    // A macrostep moves the entries in its own commit.
    await store.send("o000", { type: "SET", patch: { customer: "zeta", total: 5 } });
    await store.send("o004", "PAY");
    await store.send("o008", "PAY");
    assert.deepEqual(
      await ids(store, { machine: "order", where: parseWhere(["customer=zeta"]) }),
      ["o000"],
    );
    assert.equal(
      (await ids(store, { machine: "order", where: parseWhere(["customer=acme"]) })).length,
      19,
    );
    before = c.gets();
    assert.deepEqual(await ids(store, { where: parseWhere(["tag=vip"]) }), ["o004", "o008"]);
    assert.equal(c.gets() - before, 2);
    assert.deepEqual(
      await ids(store, { where: parseWhere(["tag=vip", "customer=acme"]), machine: "order" }),
      ["o004", "o008"],
    );
    assert.deepEqual(
      await ids(store, { machine: "order", state: "paid", where: parseWhere(["total<60"]) }),
      ["o004"],
    );

    // Archived and deleted instances leave the indexes.
    await store.archive("o004");
    assert.deepEqual(await ids(store, { where: parseWhere(["tag=vip"]) }), ["o008"]);
    assert.deepEqual(
      await ids(store, { where: parseWhere(["tag=vip"]), status: "archived" }),
      ["o004"],
    );
    await store.delete("o008");
    const left: unknown[] = [];
    for await (const e of c.backend.list({ prefix: ["sc", "ixg", "vip"] })) left.push(e.key);
    assert.deepEqual(left, [["sc", "ixg", "vip", "order", "o004"]]);
  } finally {
    await store.close();
  }
});

backendTest("a changed declaration re-indexes stored instances, with progress", async (b) => {
  const path = await b.path();
  const plain = await openStore({ path, machines: [orderMachine(false)] });
  await fill(plain, 30);
  await plain.close();

  const progress: ReindexProgress[] = [];
  const store = await openStore({
    path,
    machines: [orderMachine(true)],
    onReindex: (p) => progress.push(p),
  });
  try {
    await store.searchReady();
    const last = progress.at(-1)!;
    assert.match(last.holder ?? "", /^store-/);
    assert.deepEqual({ ...last, holder: undefined }, {
      machine: "order",
      done: 30,
      total: 30,
      updated: 30,
      finished: true,
      holder: undefined,
    });
    assert.deepEqual(
      await ids(store, { machine: "order", where: parseWhere(["customer=initech"]) }),
      expected(30, (i) => i % 4 === 2),
    );
    assert.equal((await ids(store, { where: parseWhere(["tag=pending"]) })).length, 30);
  } finally {
    await store.close();
  }

  // The same declaration again: nothing to do. Without it: the entries go.
  const again: ReindexProgress[] = [];
  const same = await openStore({
    path,
    machines: [orderMachine(true)],
    onReindex: (p) => again.push(p),
  });
  await same.searchReady();
  assert.deepEqual(again, []);
  await same.replaceMachine(orderMachine(false));
  await same.searchReady();
  assert.equal((again as ReindexProgress[]).at(-1)?.finished, true);
  await same.close();
  const backend = await openBackend(path);
  try {
    const left: unknown[] = [];
    for await (const e of backend.list({ prefix: ["sc", "ixf"] })) left.push(e.key);
    for await (const e of backend.list({ prefix: ["sc", "ixg"] })) left.push(e.key);
    assert.deepEqual(left, []);
  } finally {
    await backend.close();
  }
});

backendTest("three cluster nodes: owners index, any node lists", async (b) => {
  const path = await b.path();
  const time = { now: 1_000_000 };
  const nodes: { store: Store; tick: () => Promise<void> }[] = [];
  for (const name of ["a", "b", "c"]) {
    const backend = await openBackend(path);
    const membership = await joinCluster(backend, {
      node: name,
      partitions: 6,
      leaseMs: 10_000,
      now: () => time.now,
      start: false,
    });
    const store = await openStore({
      backend,
      cluster: membership,
      machines: [orderMachine(true)],
      clock: new VirtualClock(time.now),
    });
    nodes.push({ store, tick: () => membership.tick() });
  }
  try {
    for (let round = 0; round < 3; round++) for (const n of nodes) await n.tick();
    // Creates go to each partition's owner (forwarded when it is another node).
    await fill(nodes[0].store, 24);
    await nodes[1].store.send("o005", "PAY");
    for (const n of nodes) {
      assert.deepEqual(
        await ids(n.store, { machine: "order", where: parseWhere(["customer=globex"]) }),
        expected(24, (i) => i % 4 === 1),
      );
      assert.deepEqual(await ids(n.store, { where: parseWhere(["tag=vip"]) }), ["o005"]);
    }
  } finally {
    for (const n of nodes) await n.store.close();
  }
});

Deno.test("parseWhere: values, and errors that name the clause", () => {
  assert.deepEqual(parseWhere(["customer=acme", "total>=100", 'code="7"', "ok=true", "tag=vip"]), [
    { field: "customer", op: "=", value: "acme" },
    { field: "total", op: ">=", value: 100 },
    { field: "code", op: "=", value: "7" },
    { field: "ok", op: "=", value: true },
    { tag: "vip" },
  ]);
  assert.throws(
    () => parseWhere(["total>=1", "total~3"]),
    (e) => e instanceof StoreError && e.code === "invalid" && e.message.includes('"total~3"'),
  );
  assert.throws(() => parseWhere(["tag>x"]), /tag=name/);
  assert.throws(() => parseWhere(["ok>true"]), /booleans have no order/);
});

Deno.test("a field filter without a machine is refused, naming the field", async () => {
  const store = await openStore({ path: ":memory:", machines: [orderMachine(true)] });
  try {
    await assert.rejects(
      store.list({ where: parseWhere(["customer=acme"]) }),
      /where clause on "customer": field filters need a machine/,
    );
  } finally {
    await store.close();
  }
});

Deno.test("search declarations are checked when the machine is defined", () => {
  assert.throws(
    () =>
      defineMachine({
        id: "bad",
        search: { context: "customer" as unknown as string[], tags: 1 as unknown as boolean },
        states: { a: { tags: [""] } },
      }),
    (e) =>
      e instanceof Error && /search\.context must be an array/.test(e.message) &&
      /search\.tags must be true or false/.test(e.message) &&
      /tags must be an array of non-empty strings/.test(e.message),
  );
});
