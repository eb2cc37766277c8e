/**
 * Cluster mode against one node alone (issue #11), on Deno KV and PostgreSQL, in one process:
 *
 *  1. one node alone (no cluster), 1,000 instances, closed loop: the baseline;
 *  2. the same node in cluster mode (single-writer commits: one epoch check per partition);
 *  3. N nodes (`--nodes`, 3) in cluster mode on the same store, each driving the instances of
 *     the partitions it owns: the aggregate;
 *  4. a forwarded send's extra latency: one send at a time to an instance owned by node 1, from
 *     node 1 (local) and from node 2 (through the inbox); p50 and p99 of each;
 *  5. Deno KV only: raw Deno KV writing the same bytes per event (the instance record with its
 *     snapshot inline, one journal entry) with ONE check per write, at the batch size the
 *     one-node cluster run reached and 2 writes in flight (the store's committer): the
 *     baseline of issue #11's "0.5x of raw" target.
 *
 *   deno task bench:cluster [--backend kv|postgres|both] [--seconds 5] [--instances 1000]
 *
 * Nodes here are stores in one process, each on its own backend connection: on a 2-core
 * machine separate processes would compete for the same cores anyway; what is measured is the
 * store's work and the storage's. Takeover times are measured by tests/cluster/chaos_test.ts.
 */
import { parseArgs } from "node:util";
import { defineMachine } from "../../mod.ts";
import { joinCluster, type Membership } from "../../lib/cluster/membership.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { pgAvailable, pgServer } from "../_pg.ts";
import { closedLoop, percentile } from "./_closed_loop.ts";
import { FALLBACK_SHAPE } from "./_raw_baseline.ts";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "both" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    instances: { type: "string", default: "1000" },
    nodes: { type: "string", default: "3" },
    sends: { type: "string", default: "300" },
  },
});
const MEASURE_MS = Number(opt.seconds) * 1000;
const WARMUP_MS = Number(opt.warmup) * 1000;
const INSTANCES = Number(opt.instances);
const NODES = Number(opt.nodes);
const SENDS = Number(opt.sends);

const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  states: { on: { on: { INC: { actions: ({ context }) => context.n++ } } } },
});

const log = (line: string) => console.error(`[bench] ${line}`);
const rows: string[][] = [];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

interface Node {
  store: Store;
  membership?: Membership;
}

async function openNode(path: string, name?: string): Promise<Node> {
  const backend = await openBackend(path);
  const membership = name === undefined ? undefined : await joinCluster(backend, {
    node: name,
    leaseMs: 10_000,
  });
  const store = await openStore({ backend, cluster: membership, machines: [counter] });
  return { store, membership };
}

async function loop(nodes: { store: Store; ids: string[] }[]) {
  const before = nodes.map((n) => n.store.commitStats);
  const results = await Promise.all(nodes.map((n) =>
    closedLoop({
      send: (id) => n.store.send(id, "INC"),
      ids: n.ids,
      workers: n.ids.length,
      mode: "owned",
      warmupMs: WARMUP_MS,
      measureMs: MEASURE_MS,
    })
  ));
  const events = results.reduce((s, r) => s + r.eventsPerSecond, 0);
  const lat = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const after = nodes.map((n) => n.store.commitStats);
  const commits = after.reduce((s, a, i) => s + a.commits - before[i].commits, 0);
  const ops = after.reduce((s, a, i) => s + a.operations - before[i].operations, 0);
  return { events, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), perOp: commits / ops };
}

async function create(store: Store, ids: string[]) {
  for (let i = 0; i < ids.length; i += 500) {
    await Promise.all(ids.slice(i, i + 500).map((id) => store.create("counter", id)));
  }
}

async function runBackend(name: string, location: () => Promise<string>): Promise<void> {
  const ids = Array.from({ length: INSTANCES }, (_, i) => `c${i}`);
  // 1. Alone, and 2. one node in cluster mode.
  const oneNode = async (label: string, node?: string) => {
    log(`${name}: ${label}`);
    const n = await openNode(await location(), node);
    await create(n.store, ids);
    const r = await loop([{ store: n.store, ids }]);
    await n.store.close();
    rows.push([name, label, fmt(r.events), r.p50.toFixed(1), r.p99.toFixed(1), r.perOp.toFixed(0)]);
    return r;
  };
  await oneNode("one node, not clustered");
  const clustered = await oneNode("one node, cluster mode", "n1");
  const one = clustered.events;
  const perOp = Math.max(1, Math.round(clustered.perOp));
  // 3. N nodes, each on its own partitions.
  {
    log(`${name}: ${NODES} nodes in cluster mode`);
    const path = await location();
    const nodes: Node[] = [];
    for (let i = 1; i <= NODES; i++) nodes.push(await openNode(path, `n${i}`));
    // Let the balance settle: a few rounds of every node (each joins with a round).
    for (let round = 0; round < 3; round++) {
      for (const n of nodes) await n.membership!.tick();
    }
    await create(nodes[0].store, ids);
    const mine = nodes.map((n) =>
      ids.filter((id) => n.membership!.owns(n.membership!.partitionOf(id)) !== undefined)
    );
    const r = await loop(nodes.map((n, i) => ({ store: n.store, ids: mine[i] })));
    rows.push([
      name,
      `${NODES} nodes, cluster mode (aggregate; owned ${mine.map((m) => m.length).join("/")})`,
      `${fmt(r.events)} (${(r.events / one).toFixed(2)}x one node)`,
      r.p50.toFixed(1),
      r.p99.toFixed(1),
      r.perOp.toFixed(0),
    ]);
    // 4. Forwarded against local, one send at a time.
    const [a, b] = nodes;
    const target = ids.find((id) => a.membership!.owns(a.membership!.partitionOf(id)))!;
    const time = async (store: Store) => {
      const lat: number[] = [];
      for (let i = 0; i < SENDS; i++) {
        const s = performance.now();
        await store.send(target, "INC");
        lat.push(performance.now() - s);
      }
      return lat.sort((x, y) => x - y);
    };
    const local = await time(a.store);
    const forwarded = await time(b.store);
    // 4b. The change feed: from node 1's acknowledgement to another process's onCommit.
    const seenAt = new Map<number, number>();
    const watcherBackend = await openBackend(path);
    const watcherMembership = await joinCluster(watcherBackend, {
      node: "watcher",
      role: "client",
    });
    const watcher = await openStore({
      backend: watcherBackend,
      cluster: watcherMembership,
      machines: [counter],
      onCommit: (c) => {
        if (c.id === target) { for (const e of c.entries) seenAt.set(e.seq, performance.now()); }
      },
    });
    const feedLat: number[] = [];
    for (let i = 0; i < Math.min(SENDS, 100); i++) {
      const ack = await a.store.send(target, "INC");
      const at = performance.now();
      const deadline = at + 5000;
      while (!seenAt.has(ack.seq) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      if (seenAt.has(ack.seq)) feedLat.push(seenAt.get(ack.seq)! - at);
    }
    await watcher.close();
    feedLat.sort((x, y) => x - y);
    rows.push([
      name,
      `change feed: node 1's commit reaches another process's onCommit, ${feedLat.length} of ${
        Math.min(SENDS, 100)
      }: p50 ${percentile(feedLat, 0.5).toFixed(1)} ms`,
      "-",
      `p99 ${percentile(feedLat, 0.99).toFixed(1)}`,
      "-",
      "-",
    ]);
    rows.push([
      name,
      `one send at a time: local p50 ${percentile(local, 0.5).toFixed(2)} ms, forwarded p50 ${
        percentile(forwarded, 0.5).toFixed(2)
      } ms (extra ${(percentile(forwarded, 0.5) - percentile(local, 0.5)).toFixed(2)} ms)`,
      "-",
      `${percentile(local, 0.99).toFixed(1)} / ${percentile(forwarded, 0.99).toFixed(1)}`,
      "-",
      "-",
    ]);
    for (const n of nodes) await n.store.close();
  }
  // 5. The raw baseline (Deno KV).
  if (name === "Deno KV") {
    log(`${name}: raw, ${perOp} events per write, one check per write`);
    const raw = await rawKv(await location(), perOp);
    rows.push([
      name,
      `raw Deno KV, same bytes, one check per write, ${perOp} events per write, 2 in flight`,
      `${fmt(raw)} (cluster one node: ${(one / raw).toFixed(2)}x of it)`,
      "-",
      "-",
      String(perOp),
    ]);
  }
}

/** Raw Deno KV: `per` events a write (record + journal entry each), one check, 2 in flight. */
async function rawKv(path: string, per: number): Promise<number> {
  const kv = await Deno.openKv(path);
  // The values a real store writes (see _raw_baseline.ts), with a node name on the journal.
  const record = FALLBACK_SHAPE.record;
  const journal = { ...FALLBACK_SHAPE.journal, node: "n1" };
  let events = 0, counting = false, seq = 0;
  const end = performance.now() + WARMUP_MS + MEASURE_MS;
  setTimeout(() => counting = true, WARMUP_MS);
  const writer = async () => {
    while (performance.now() < end) {
      const op = kv.atomic().check({ key: ["epoch", 0], versionstamp: null });
      const s = seq++;
      for (let i = 0; i < per; i++) {
        const id = `c${(s * per + i) % INSTANCES}`;
        op.set(["sc", "inst", id], { ...record, id, seq: s });
        op.set(["sc", "jrnl", id, s], { ...journal, seq: s });
      }
      await op.commit();
      if (counting) events += per;
    }
  };
  await Promise.all([writer(), writer()]);
  kv.close();
  return events / (MEASURE_MS / 1000);
}

const dir = await Deno.makeTempDir({ prefix: "statecraft-cluster-bench-" });
try {
  if (opt.backend !== "postgres") {
    let n = 0;
    await runBackend("Deno KV", () => Promise.resolve(`${dir}/s${n++}.kv`));
  }
  if (opt.backend !== "kv") {
    const pg = pgAvailable();
    if (!pg.ok) console.log(`PostgreSQL skipped: ${pg.reason}`);
    else {
      const server = await pgServer();
      await runBackend("PostgreSQL", () => Promise.resolve(server.url()));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(
  `cluster benchmark: ${INSTANCES} instances, ${MEASURE_MS / 1000} s windows after ${
    WARMUP_MS / 1000
  } s warm-up, ${NODES} nodes`,
);
console.log("| backend | case | events/s | ack p50 ms | ack p99 ms | commits per op |");
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
