// The instances a store keeps in memory: bounded by bytes, least recently used out first,
// busy ones kept; the default budget follows the machine's memory.
import assert from "node:assert/strict";
import { defineMachine } from "../../mod.ts";
import {
  defaultCacheBytes,
  estimateBytes,
  InstanceCache,
  type Loaded,
} from "../../lib/persist/instance_cache.ts";
import { openStore } from "../../lib/persist/store.ts";

const MIB = 1024 * 1024;
const blink = defineMachine({ id: "blink", states: { on: { on: { T: "off" } }, off: {} } });

function loaded(id: string, bytes: number): Loaded & { stopped: boolean } {
  const instance = blink.start();
  const entry = {
    rec: { id } as Loaded["rec"],
    version: "1",
    instance,
    machine: blink,
    bytes,
    effects: { ids: {}, seq: 0, restoring: false, outbox: [] },
    stopped: false,
  };
  const stop = instance.stop.bind(instance);
  instance.stop = () => {
    entry.stopped = true;
    stop();
  };
  return entry;
}

Deno.test("instance cache: bounded by bytes, least recently used first, busy ones kept", () => {
  const cache = new InstanceCache(1000);
  const a = loaded("a", 400), b = loaded("b", 400), c = loaded("c", 400);
  cache.put(a, () => false);
  cache.put(b, () => false);
  cache.use("a"); // b is now the least recently used
  cache.put(c, () => false);
  assert.deepEqual([...cache.values()].map((l) => l.rec.id), ["a", "c"]);
  assert.ok(b.stopped, "a dropped instance is stopped (its timers no longer fire)");
  assert.equal(cache.bytes, 800);
  // A busy instance stays even when it is the oldest.
  const d = loaded("d", 400);
  cache.put(d, (id) => id === "a");
  assert.deepEqual([...cache.values()].map((l) => l.rec.id), ["a", "d"]);
  cache.resize(d, 100);
  assert.equal(cache.bytes, 500);
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("instance cache: the default budget is a sixteenth of the machine's memory", () => {
  const budget = defaultCacheBytes();
  const sys = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state;
  if (sys !== "granted") {
    assert.equal(budget, 256 * MIB);
    return;
  }
  const total = Deno.systemMemoryInfo().total;
  const expected = Math.max(64 * MIB, Math.min(2048 * MIB, Math.floor(total / 16)));
  assert.equal(budget, expected);
  assert.ok(budget >= 64 * MIB && budget <= 2048 * MIB);
});

Deno.test("a store keeps 20,000 small instances in memory within its default budget", async () => {
  const store = await openStore({ path: ":memory:", machines: [blink] });
  try {
    const n = 20_000;
    for (let i = 0; i < n; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, k) => store.create("blink", `b${i + k}`)));
    }
    const stats = (store as unknown as { cacheStats: { instances: number; bytes: number } })
      .cacheStats;
    assert.equal(stats.instances, n, "none was dropped");
    assert.ok(stats.bytes <= n * estimateBytes(400), `estimate ${stats.bytes} bytes`);
  } finally {
    await store.close();
  }
});
