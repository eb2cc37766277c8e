// A changed search declaration re-indexed by one node of three on one store (docs/operations.md,
// "Search"): the lease holder does every instance, the others report its progress and rewrite
// nothing; a holder that closes midway hands over at once, one that hangs (or died) loses its
// lease when it expires; either way another node resumes after the last instance stored as
// done instead of starting over. On Deno KV and PostgreSQL.
import assert from "node:assert/strict";
import { defineMachine } from "../../mod.ts";
import type { KvBackend, KvMutation } from "../../lib/persist/backend.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { parseWhere } from "../../lib/persist/search.ts";
import {
  type ReindexLease,
  reindexLeaseKey,
  reindexTuning,
} from "../../lib/persist/search_reindex.ts";
import { openStore, type ReindexProgress, type Store } from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";

type Ctx = { customer: string };

function orderMachine(search: boolean) {
  return defineMachine<Ctx>({
    id: "order",
    ...(search ? { search: { context: ["customer"] } } : {}),
    context: { customer: "" },
    initial: "open",
    states: { open: {} },
  });
}

const N = 120;
const CUSTOMERS = ["acme", "globex", "initech"];

/** `N` instances stored without a search declaration. */
async function fill(path: string): Promise<void> {
  const plain = await openStore({ path, machines: [orderMachine(false)] });
  try {
    for (let i = 0; i < N; i++) {
      await plain.create("order", `o${String(i).padStart(3, "0")}`, {
        context: { customer: CUSTOMERS[i % 3] },
      });
    }
  } finally {
    await plain.close();
  }
}

/** A node: a store on its own connection, counting the instance records it rewrites. */
interface Node {
  store: Store;
  progress: ReindexProgress[];
  writes: () => number;
}

async function node(path: string): Promise<Node> {
  const backend = await openBackend(path);
  let writes = 0;
  const counted = new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === "atomic") {
        return (checks: unknown, mutations: KvMutation[]) => {
          writes += mutations.filter((m) => m.type === "set" && m.key[1] === "inst").length;
          return (v as (...a: unknown[]) => unknown).call(target, checks, mutations);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as KvBackend;
  const progress: ReindexProgress[] = [];
  const store = await openStore({
    backend: counted,
    machines: [orderMachine(true)],
    onReindex: (p) => progress.push(p),
  });
  return { store, progress, writes: () => writes };
}

/** Calls of the re-index hook by holder; holds the first holder at instance `holdAt`. */
function hook(holdAt: number) {
  const calls = new Map<string, number>();
  const gate = Promise.withResolvers<void>();
  const state = { first: undefined as string | undefined, held: false };
  reindexTuning.beforeInstance = async (holder) => {
    state.first ??= holder;
    const n = calls.get(holder) ?? 0;
    calls.set(holder, n + 1);
    if (holder === state.first && n === holdAt) {
      state.held = true;
      await gate.promise;
    }
  };
  return { calls, gate, state };
}

/** Shortens the lease for a test; restores the defaults after. */
async function tuned(leaseMs: number, fn: () => Promise<void>): Promise<void> {
  const saved = { ...reindexTuning };
  Object.assign(reindexTuning, { leaseMs, pollMs: 20, renewEvery: 10 });
  try {
    await fn();
  } finally {
    Object.assign(reindexTuning, saved);
    reindexTuning.beforeInstance = saved.beforeInstance;
  }
}

async function acmeCount(store: Store): Promise<number> {
  const page = await store.list({
    machine: "order",
    where: parseWhere(["customer=acme"]),
    limit: 1000,
  });
  return page.items.length;
}

backendTest("three nodes: one re-indexes, the others show its progress", async (b) => {
  const path = await b.path();
  await fill(path);
  await tuned(10_000, async () => {
    const h = hook(0);
    const nodes = await Promise.all([node(path), node(path), node(path)]);
    try {
      await waitFor("a holder to start", () => h.state.held);
      // Every node, the holder included, reports the same holder's progress.
      await waitFor("each node to report", () => nodes.every((n) => n.progress.length > 0));
      const holders = new Set(nodes.flatMap((n) => n.progress.map((p) => p.holder)));
      assert.deepEqual([...holders], [h.state.first]);
      h.gate.resolve();
      for (const n of nodes) await n.store.searchReady();
      // One node rewrote each instance once; the other two wrote nothing.
      const writes = nodes.map((n) => n.writes()).sort((x, y) => x - y);
      assert.deepEqual(writes, [0, 0, N]);
      assert.deepEqual([...h.calls.keys()], [h.state.first]);
      for (const n of nodes) {
        assert.deepEqual(n.progress.at(-1), {
          machine: "order",
          done: N,
          total: N,
          updated: N,
          finished: true,
          holder: h.state.first,
        });
        assert.equal(await acmeCount(n.store), N / 3);
      }
    } finally {
      h.gate.resolve();
      for (const n of nodes) await n.store.close();
    }
  });
});

backendTest("a holder that closes midway hands over; another resumes", async (b) => {
  const path = await b.path();
  await fill(path);
  await tuned(10_000, async () => {
    const h = hook(50);
    const a = await node(path);
    await waitFor("node a to hold the lease at instance 50", () => h.state.held);
    const others = [await node(path), await node(path)];
    try {
      await waitFor("the others to wait on a", () => others.every((n) => n.progress.length > 0));
      const closing = a.store.close();
      h.gate.resolve();
      await closing;
      for (const n of others) await n.store.searchReady();
      // a did 50 (and stored it), the takeover the other 70: nothing twice.
      assert.equal(a.writes(), 50);
      const [x, y] = others.map((n) => n.writes());
      assert.deepEqual([x, y].sort((p, q) => p - q), [0, N - 50]);
      const calls = [...h.calls].filter(([holder]) => holder !== h.state.first);
      assert.equal(calls.length, 1);
      assert.equal(calls[0][1], N - 50);
      for (const n of others) {
        const last = n.progress.at(-1)!;
        assert.deepEqual({ ...last, holder: undefined }, {
          machine: "order",
          done: N,
          total: N,
          updated: N,
          finished: true,
          holder: undefined,
        });
        assert.equal(last.holder, calls[0][0]);
        assert.equal(await acmeCount(n.store), N / 3);
      }
    } finally {
      h.gate.resolve();
      await a.store.close();
      for (const n of others) await n.store.close();
    }
  });
});

backendTest("a holder that stops renewing loses the lease when it expires", async (b) => {
  const path = await b.path();
  await fill(path);
  await tuned(400, async () => {
    const h = hook(30);
    const a = await node(path);
    await waitFor("node a to hang at instance 30", () => h.state.held);
    const other = await node(path);
    try {
      // a hangs (as a dead node would): its lease runs out, the other takes over and resumes
      // after the last instance a stored as done.
      await other.store.searchReady();
      assert.equal(other.writes(), N - 30);
      assert.equal(await acmeCount(other.store), N / 3);
      const backend = await openBackend(path);
      try {
        const lease = (await backend.get<ReindexLease>(reindexLeaseKey("order"))).value!;
        assert.equal(lease.finished, true);
        assert.notEqual(lease.holder, h.state.first);
        assert.equal(lease.done, N);
      } finally {
        await backend.close();
      }
      // a wakes up: its lease is gone, it rewrites nothing more than the instance it was at.
      h.gate.resolve();
      await a.store.searchReady();
      assert.ok(a.writes() <= 31, `a wrote ${a.writes()}`);
      assert.equal(a.progress.at(-1)?.finished, true);
    } finally {
      h.gate.resolve();
      await a.store.close();
      await other.store.close();
    }
  });
});
