// `statecraft cluster status` as a user runs it, on both backends: a cluster built in-process
// (two members and a client, rounds by `tick`), the CLI as a subprocess.
import assert from "node:assert/strict";
import { joinCluster } from "../../lib/cluster/membership.ts";
import type { KvBackend } from "../../lib/persist/backend.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { backendTest } from "../persist/_backends.ts";
import { noStackTrace, runStoreCli } from "./_run_cli.ts";

/** The CLI with what both backends need: files under /tmp, the network to 127.0.0.1. */
function statecraft(...args: string[]) {
  return runStoreCli(...args);
}

/** Two members (balanced) and a client on the store at `path`; the backends are closed after. */
async function buildCluster(path: string): Promise<void> {
  const backends: KvBackend[] = [];
  try {
    const join = async (node: string, role: "member" | "client" = "member") => {
      const b = await openBackend(path);
      backends.push(b);
      return await joinCluster(b, { node, role, start: false, partitions: 8 });
    };
    const a = await join("node-a");
    const b = await join("node-b");
    const c = await join("repl-1", "client");
    for (let i = 0; i < 3; i++) for (const m of [a, b, c]) await m.tick();
    assert.equal(a.owned().length + b.owned().length, 8);
  } finally {
    for (const b of backends) await b.close();
  }
}

backendTest("cli: cluster status prints nodes and partitions", async (backend) => {
  const path = await backend.path();
  await buildCluster(path);
  const r = await statecraft("cluster", "status", "--kv", path);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /8 partitions, lease 10\.0 s; 3 of 3 nodes live; 8 of 8 partitions owned/);
  assert.match(r.stdout, /^NODE\s+ROLE\s+LIVE\s+HEARTBEAT AGO\s+OWNED/m);
  assert.match(r.stdout, /^node-a\s+member\s+yes\s+\d+\.\d s\s+\d+/m);
  assert.match(r.stdout, /^node-b\s+member\s+yes\s+/m);
  assert.match(r.stdout, /^repl-1\s+client\s+yes\s+\d+\.\d s\s+0/m);
  assert.match(r.stdout, /^PARTITION\s+OWNER\s+EPOCH\s+EXPIRES IN \(s\)$/m);
  const rows = r.stdout.split("\n").filter((l) => /^\s*\d+\s+node-[ab]\s+\d+\s+\d+\.\d$/.test(l));
  assert.equal(rows.length, 8, r.stdout);

  const json = await statecraft("cluster", "status", "--kv", path, "--json");
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout);
  assert.equal(status.partitions, 8);
  assert.equal(status.leaseMs, 10_000);
  assert.equal(typeof status.now, "number");
  assert.deepEqual(status.nodes.map((n: { node: string }) => n.node), [
    "node-a",
    "node-b",
    "repl-1",
  ]);
  assert.equal(status.partitionTable.length, 8);
  const owned = status.nodes.reduce((s: number, n: { owned: number }) => s + n.owned, 0);
  assert.equal(owned, 8);
});

backendTest(
  "cli: cluster status on a store never run in cluster mode: one line, exit 1",
  async (backend) => {
    const path = await backend.path();
    const b = await openBackend(path);
    await b.atomic([], [{ type: "set", key: ["sc", "format"], value: 1 }]);
    await b.close();
    const r = await statecraft("cluster", "status", "--kv", path);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: store .* has never run in cluster mode/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(noStackTrace(r.stderr));
  },
);

Deno.test("cli: cluster status --kv <missing file>: one line, exit 1", async () => {
  const r = await statecraft("cluster", "status", "--kv", "/tmp/statecraft-no-such-dir/x.kv");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: no store at \/tmp\/statecraft-no-such-dir\/x\.kv/);
  assert.ok(noStackTrace(r.stderr));
});
