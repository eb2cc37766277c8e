/**
 * Durable throughput and ack latency of the store on a local KV file, and the cost of opening
 * a store that holds many instances. A script rather than `Deno.bench`: it reports
 * throughput and latency percentiles of many concurrent sends, which `Deno.bench` does not.
 *
 *   deno run --unstable-kv --allow-read --allow-write=/tmp --allow-env tests/bench/persist_throughput.ts
 *
 * Options: --instances N (1000), --events N per instance (20), --rate N offered events/s for
 * the open-loop run (20000), --open N instances for the open-time run (100000; 0 skips it).
 */
import { defineMachine } from "../../mod.ts";
import { openStore } from "../../lib/persist/store.ts";

const args = new Map<string, number>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i].replace(/^--/, ""), Number(Deno.args[i + 1]));
}
const INSTANCES = args.get("instances") ?? 1000;
const PER = args.get("events") ?? 20;
const RATE = args.get("rate") ?? 20_000;
const OPEN = args.get("open") ?? 100_000;

const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  states: { on: { on: { INC: { actions: ({ context }) => context.n++ } } } },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const dir = await Deno.makeTempDir({ prefix: "statecraft-bench-" });
const rows: string[][] = [];
try {
  // 1. One instance, sequential: every event waits for its own commit.
  {
    const store = await openStore({ path: `${dir}/seq.kv`, machines: [counter] });
    await store.create("counter", "one");
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.send("one", "INC");
    const secs = (performance.now() - t0) / 1000;
    rows.push(["1 instance, sequential", `${Math.round(n / secs)}`, "-", "-", "-"]);
    await store.close();
  }

  // 2. Many instances, closed loop: each instance sends its next event when the last is acked.
  {
    const store = await openStore({ path: `${dir}/closed.kv`, machines: [counter] });
    const ids = Array.from({ length: INSTANCES }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id) => store.create("counter", id)));
    const lat: number[] = [];
    const before = store.commitStats;
    const t0 = performance.now();
    await Promise.all(ids.map(async (id) => {
      for (let i = 0; i < PER; i++) {
        const s = performance.now();
        await store.send(id, "INC");
        lat.push(performance.now() - s);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const after = store.commitStats;
    const perOp = (after.commits - before.commits) / (after.operations - before.operations);
    rows.push([
      `${INSTANCES} instances, closed loop`,
      `${Math.round(lat.length / secs)}`,
      percentile(lat, 0.5).toFixed(1),
      percentile(lat, 0.99).toFixed(1),
      perOp.toFixed(0),
    ]);
    await store.close();
  }

  // 3. Many instances, open loop: events arrive at a fixed rate, spread over the instances.
  {
    const store = await openStore({ path: `${dir}/open.kv`, machines: [counter] });
    const ids = Array.from({ length: INSTANCES }, (_, i) => `o${i}`);
    await Promise.all(ids.map((id) => store.create("counter", id)));
    const total = INSTANCES * PER;
    const lat: number[] = [];
    const pending: Promise<void>[] = [];
    const before = store.commitStats;
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      for (; sent < Math.min(due, total); sent++) {
        const id = ids[sent % ids.length];
        const s = performance.now();
        pending.push(
          store.send(id, "INC").then(() => {
            lat.push(performance.now() - s);
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const after = store.commitStats;
    const perOp = (after.commits - before.commits) / (after.operations - before.operations);
    rows.push([
      `${INSTANCES} instances, open loop at ${RATE}/s offered`,
      `${Math.round(total / secs)}`,
      percentile(lat, 0.5).toFixed(1),
      percentile(lat, 0.99).toFixed(1),
      perOp.toFixed(0),
    ]);
    await store.close();
  }

  // 4. Opening a store that holds many instances: cost must not grow with their number.
  if (OPEN > 0) {
    const path = `${dir}/big.kv`;
    const store = await openStore({ path, machines: [counter] });
    const batch = 2000;
    for (let i = 0; i < OPEN; i += batch) {
      await Promise.all(
        Array.from(
          { length: Math.min(batch, OPEN - i) },
          (_, k) => store.create("counter", `b${i + k}`),
        ),
      );
    }
    await store.close();
    const t0 = performance.now();
    const reopened = await openStore({ path, machines: [counter] });
    const opened = performance.now() - t0;
    const info = await reopened.get(`b${OPEN - 1}`);
    const firstGet = performance.now() - t0 - opened;
    if (info === null) throw new Error("the last instance is missing");
    await reopened.close();
    console.log(
      `open a store of ${OPEN} instances: ${opened.toFixed(1)} ms; first get ${
        firstGet.toFixed(1)
      } ms`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log("| run | durable events/s | ack p50 ms | ack p99 ms | commits per KV op |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
