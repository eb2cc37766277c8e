// Sorted `list` (docs/operations.md, "Search"): by a search field, id, updatedAt or createdAt,
// ascending or descending, ties by id in the same direction, instances without a value last;
// pages joined give exactly the whole order (with the order's index read only as far as the
// page, with a selective filter sorted in memory); cursors stay right when instances come and
// go between pages; bad sorts and cursors are errors naming them. On Deno KV and PostgreSQL.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { parseWhere } from "../../lib/persist/search.ts";
import { parseSort } from "../../lib/persist/search_sort.ts";
import {
  type InstanceInfo,
  type ListOptions,
  openStore,
  type Store,
  StoreError,
} from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { counting, type OrderCtx, orderMachine } from "./_orders.ts";

const order = orderMachine(true);

/** Every page of a sorted list, joined, with the page sizes seen. */
async function pages(store: Store, options: ListOptions): Promise<InstanceInfo[]> {
  const out: InstanceInfo[] = [];
  let cursor = options.cursor;
  for (let n = 0; n < 100; n++) {
    const page = await store.list({ ...options, cursor });
    assert.ok(page.items.length <= (options.limit ?? 100));
    out.push(...page.items);
    cursor = page.cursor;
    if (cursor === undefined) return out;
  }
  throw new Error("more than 100 pages");
}

const CUSTOMERS = ["acme", "globex", "initech"];

/**
 * 30 instances `o00`..`o29`: totals 0..40 in steps of 10 (six of each: ties), except every
 * seventh, whose total is an object (not indexed: no value); created one second apart.
 */
async function fill(store: Store, clock: VirtualClock): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const id = `o${String(i).padStart(2, "0")}`;
    const total = i % 7 === 3 ? { not: "indexed" } : (i * 7 % 5) * 10;
    await store.create("order", id, { context: { customer: CUSTOMERS[i % 3], total } });
    clock.advance(1000);
  }
}

/** The expected order of `infos` by total (absent last), ties by id, both in `dir`. */
function byTotal(infos: InstanceInfo[], dir: "asc" | "desc"): string[] {
  const total = (i: InstanceInfo) => {
    const t = (i.context as OrderCtx).total;
    return typeof t === "number" ? t : undefined;
  };
  const sign = dir === "asc" ? 1 : -1;
  return [...infos].sort((a, b) => {
    const ta = total(a), tb = total(b);
    if (ta === undefined || tb === undefined) {
      if (ta !== tb) return ta === undefined ? 1 : -1;
    } else if (ta !== tb) return sign * (ta - tb);
    return sign * (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }).map((i) => i.id);
}

const idsOf = (infos: InstanceInfo[]) => infos.map((i) => i.id);

backendTest("sort: by a field, both directions, ties by id, pages join up", async (b) => {
  const clock = new VirtualClock(1_700_000_000_000);
  const c = counting(await openBackend(await b.path()));
  const store = await openStore({ backend: c.backend, machines: [order], clock });
  try {
    await fill(store, clock);
    await store.searchReady();
    const all = await pages(store, { machine: "order", limit: 1000 });
    assert.equal(all.length, 30);

    for (const dir of ["asc", "desc"] as const) {
      for (const limit of [1, 4, 7, 100]) {
        const got = await pages(store, {
          machine: "order",
          sort: { by: "total", order: dir },
          limit,
        });
        assert.deepEqual(idsOf(got), byTotal(all, dir), `total:${dir}, pages of ${limit}`);
      }
    }
    // Descending with ties: the five of 40 first, highest id first; those without a total last.
    const desc = idsOf(await pages(store, { machine: "order", sort: parseSort("total:desc") }));
    assert.deepEqual(desc.slice(0, 5), ["o27", "o22", "o12", "o07", "o02"]);
    assert.deepEqual(desc.slice(-4), ["o24", "o17", "o10", "o03"]);
    const asc = idsOf(await pages(store, { machine: "order", sort: parseSort("total") }));
    assert.deepEqual(asc.slice(0, 3), ["o00", "o05", "o15"]);
    assert.deepEqual(asc.slice(-4), ["o03", "o10", "o17", "o24"]);

    // The order's index is read as far as the page: 3 records for a page of 3, not 30.
    let before = c.gets();
    const top = await store.list({
      machine: "order",
      sort: { by: "total", order: "desc" },
      limit: 3,
    });
    assert.equal(top.items.length, 3);
    assert.ok(c.gets() - before <= 4, `read ${c.gets() - before} records for a page of 3`);

    // A range on the sorted field bounds the index read; the order holds across pages.
    const mid = await pages(store, {
      machine: "order",
      where: parseWhere(["total>=10", "total<40"]),
      sort: { by: "total", order: "desc" },
      limit: 4,
    });
    assert.deepEqual(
      idsOf(mid),
      byTotal(all, "desc").filter((id) => {
        const t = (all.find((i) => i.id === id)!.context as OrderCtx).total;
        return typeof t === "number" && t >= 10 && t < 40;
      }),
    );

    // A selective filter (an equality on another field) is read and sorted in memory.
    before = c.gets();
    const acme = await pages(store, {
      machine: "order",
      where: parseWhere(["customer=acme"]),
      sort: { by: "total", order: "desc" },
      limit: 3,
    });
    assert.deepEqual(
      idsOf(acme),
      byTotal(all.filter((i) => (i.context as OrderCtx).customer === "acme"), "desc"),
    );
    // Ten matches, four pages: each page reads the ten matches, nothing of the others.
    assert.ok(c.gets() - before <= 4 * 10 + 10, `read ${c.gets() - before}`);

    // By id, updatedAt and createdAt, both directions.
    const ids = idsOf(all).sort();
    assert.deepEqual(idsOf(await pages(store, { sort: { by: "id" }, limit: 7 })), ids);
    assert.deepEqual(
      idsOf(await pages(store, { machine: "order", sort: { by: "id", order: "desc" }, limit: 7 })),
      [...ids].reverse(),
    );
    assert.deepEqual(
      idsOf(await pages(store, { sort: { by: "createdAt", order: "desc" }, limit: 4 })),
      [...ids].reverse(),
    );
    // Touch o05 last, then o20: they come first by updatedAt descending.
    await store.send("o05", { type: "SET", patch: { customer: "zeta" } });
    clock.advance(250);
    await store.send("o20", { type: "SET", patch: { customer: "zeta" } });
    for (const options of [{}, { machine: "order" }] as ListOptions[]) {
      const recent = idsOf(
        await pages(store, { ...options, sort: { by: "updatedAt", order: "desc" }, limit: 4 }),
      );
      const others = [...ids].reverse().filter((id) => id !== "o20" && id !== "o05");
      assert.deepEqual(recent, ["o20", "o05", ...others]);
      const oldest = idsOf(
        await pages(store, { ...options, sort: { by: "updatedAt" }, limit: 4 }),
      );
      assert.deepEqual(oldest, [...recent].reverse());
    }
    // With updatedAfter: only the two, in order.
    assert.deepEqual(
      idsOf(
        await pages(store, {
          updatedAfter: clock.now() - 100,
          sort: { by: "updatedAt", order: "desc" },
          limit: 1,
        }),
      ),
      ["o20"],
    );
  } finally {
    await store.close();
  }
});

backendTest("sort: cursors stay right when instances come and go between pages", async (b) => {
  const clock = new VirtualClock(1_700_000_000_000);
  const store = await openStore({ path: await b.path(), machines: [order], clock });
  try {
    await fill(store, clock);
    const sort = { by: "total", order: "desc" } as const;
    const first = await store.list({ machine: "order", sort, limit: 10 });
    const seen = idsOf(first.items);
    // Between pages: one instance ahead of the cursor goes, one is added ahead and one behind,
    // and the page's last item itself is deleted.
    const last = seen.at(-1)!;
    await store.delete(last);
    await store.create("order", "n-high", { context: { customer: "acme", total: 1000 } });
    await store.create("order", "n-low", { context: { customer: "acme", total: -5 } });
    const ahead = byTotal(await pages(store, { machine: "order", limit: 1000 }), "desc")
      .filter((id) => !seen.includes(id));
    await store.delete(ahead[4]);
    const rest = idsOf(
      await pages(store, { machine: "order", sort, limit: 10, cursor: first.cursor }),
    );
    // Nothing twice, nothing of before the cursor (n-high), and the rest in order.
    assert.equal(ahead[0], "n-high");
    assert.deepEqual(rest, ahead.filter((id) => id !== ahead[4] && id !== "n-high"));
    assert.ok(rest.includes("n-low"));
  } finally {
    await store.close();
  }
});

Deno.test("sort: bad sorts and cursors are errors naming them", async () => {
  assert.deepEqual(parseSort("total:desc"), { by: "total", order: "desc" });
  assert.deepEqual(parseSort("updatedAt"), { by: "updatedAt", order: "asc" });
  assert.throws(
    () => parseSort("total:down"),
    (e) => e instanceof StoreError && e.code === "invalid" && e.message.includes('"total:down"'),
  );
  const store = await openStore({ path: ":memory:", machines: [order] });
  try {
    await store.create("order", "a", { context: { customer: "acme", total: 1 } });
    await store.create("order", "b", { context: { customer: "acme", total: 2 } });
    await assert.rejects(
      store.list({ machine: "order", sort: { by: "totl" } }),
      /sort by "totl": not a search field of machine "order" \(its search fields: customer, total/,
    );
    await assert.rejects(
      store.list({ sort: { by: "total" } }),
      /sort by "total": sorting by a search field needs a machine/,
    );
    await assert.rejects(
      store.list({ machine: "order", sort: { by: "total", order: "up" as "asc" } }),
      /sort by "total": order must be asc or desc/,
    );
    const page = await store.list({ machine: "order", sort: { by: "total" }, limit: 1 });
    await assert.rejects(
      store.list({ machine: "order", sort: { by: "id" }, cursor: page.cursor }),
      /cursor: made for sort "total:asc", not id:asc/,
    );
    await assert.rejects(
      store.list({ machine: "order", sort: { by: "id" }, cursor: "%%%" }),
      /cursor: not a cursor of a sorted list/,
    );
  } finally {
    await store.close();
  }
});
