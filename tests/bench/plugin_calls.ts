/**
 * Plugin call round trip (p50/p99, one call at a time) and throughput (64 calls in flight)
 * for each isolation mode, through the supervisor. A script rather than `Deno.bench`: it
 * reports latency percentiles and concurrent throughput.
 *
 *   deno run --allow-read --allow-run=deno --allow-env tests/bench/plugin_calls.ts [calls]
 */
import { type PluginSpec, PluginSupervisor } from "../../lib/plugins/supervisor.ts";

const CALLS = Number(Deno.args[0] ?? 5000);
const dir = new URL("../fixtures/plugins/bench/echo", import.meta.url).pathname;
const payload = { id: 42, text: "hello", tags: ["a", "b"] };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const rows: string[] = [];
for (const isolation of ["trusted", "worker", "process"] as const) {
  const s = new PluginSupervisor({ heartbeatMs: 0, log: () => {} });
  const spec: PluginSpec = {
    name: "echo",
    version: "1.0.0",
    dir,
    entryPath: `${dir}/mod.ts`,
    isolation,
    permissions: { read: [], write: [], net: [], env: [], run: [], ffi: [], sys: [] },
    provides: ["echo"],
    idempotent: [],
    subscribes: [],
    hooks: [],
    limits: { callTimeoutMs: 5000, callsPerSecond: 1e9, memoryMb: 128, maxMessageBytes: 1_000_000 },
    config: {},
  };
  try {
    await s.add(spec);
    for (let i = 0; i < 500; i++) await s.call("echo", "echo", payload); // warm-up
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await s.call("echo", "echo", payload);
      lat.push((performance.now() - t) * 1000);
    }
    lat.sort((a, b) => a - b);
    const inFlight = 64;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next++ < CALLS * 2) await s.call("echo", "echo", payload);
    }));
    const perSec = (CALLS * 2) / ((performance.now() - t0) / 1000);
    rows.push(
      `| ${isolation} | ${percentile(lat, 0.5).toFixed(0)} | ${
        percentile(lat, 0.99).toFixed(0)
      } | ${Math.round(perSec).toLocaleString("en")} |`,
    );
  } finally {
    await s.close();
  }
}
console.log("| isolation | p50 µs (one at a time) | p99 µs | calls/s (64 in flight) |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
