// Partition leases and membership (lib/cluster/membership.ts) on both backends, with a virtual
// clock and rounds driven by `tick()`: no test waits for real time. Each node opens its own
// backend handle on the store, as separate processes do.
import assert from "node:assert/strict";
import type { KvBackend } from "../../lib/persist/backend.ts";
import { BackendUnavailableError } from "../../lib/persist/backend.ts";
import { K } from "../../lib/persist/keys.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { preferredCounts } from "../../lib/cluster/balance.ts";
import {
  ClusterConfigError,
  clusterStatus,
  joinCluster,
  type LeaseRecord,
  type Membership,
  type MembershipOptions,
} from "../../lib/cluster/membership.ts";
import { backendTest, type TestBackend } from "../persist/_backends.ts";
import { pgServer } from "../_pg.ts";

const T0 = Date.UTC(2026, 0, 1);
const LEASE = 10_000;
const RENEW = 2_500;

/** A clock the test moves by hand. */
class Clock {
  t = T0;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Backend handles opened by a test (closed at its end) and nodes joined on them. */
class Cluster {
  readonly clock = new Clock();
  readonly backends: KvBackend[] = [];
  readonly errors: unknown[] = [];
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }

  async open(path = this.path): Promise<KvBackend> {
    const b = await openBackend(path);
    this.backends.push(b);
    return b;
  }

  /** A node on its own backend handle, not started (rounds by `tick`). */
  async join(node: string, options: MembershipOptions = {}, path?: string): Promise<Membership> {
    return await joinCluster(await this.open(path), {
      node,
      leaseMs: LEASE,
      renewMs: RENEW,
      now: this.clock.now,
      onError: (e) => this.errors.push(e),
      start: false,
      ...options,
    });
  }

  async close(): Promise<void> {
    for (const b of this.backends.splice(0)) await b.close();
  }
}

async function withCluster(
  backend: TestBackend,
  fn: (c: Cluster) => Promise<void>,
): Promise<void> {
  const c = new Cluster(await backend.path());
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

async function leaseTable(backend: KvBackend): Promise<Map<number, LeaseRecord>> {
  const out = new Map<number, LeaseRecord>();
  for await (const e of backend.list<LeaseRecord>({ prefix: K.leasePrefix() })) {
    out.set(e.key[e.key.length - 1] as number, e.value!);
  }
  return out;
}

/**
 * No partition is owned by two nodes at once (as the nodes see it), and a node that thinks it
 * owns a partition is the owner the lease table records, at the same epoch.
 */
async function assertSingleOwners(nodes: Membership[], backend: KvBackend): Promise<void> {
  const table = await leaseTable(backend);
  for (let p = 0; p < nodes[0].partitions; p++) {
    const owners = nodes.filter((n) => n.owns(p) !== undefined);
    assert.ok(owners.length <= 1, `partition ${p} owned by ${owners.map((n) => n.node)}`);
    if (owners.length === 1) {
      const lease = table.get(p)!;
      assert.equal(lease.owner, owners[0].node, `partition ${p}`);
      assert.equal(lease.epoch, owners[0].owns(p)!.epoch, `partition ${p}`);
    }
  }
}

/** Rounds of every node, `RENEW` apart, checking single ownership after each tick. */
async function rounds(c: Cluster, nodes: Membership[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    c.clock.advance(RENEW);
    for (const node of nodes) {
      await node.tick();
      await assertSingleOwners(nodes, c.backends[0]);
    }
  }
}

backendTest("cluster: one node takes all 64 partitions", async (b) => {
  await withCluster(b, async (c) => {
    assert.equal(await clusterStatus(await c.open()), null, "no cluster config before a join");
    const a = await c.join("node-a");
    const gained: number[] = [];
    a.onGained((p) => void gained.push(p));
    await a.tick();
    assert.equal(a.partitions, 64);
    assert.deepEqual(a.owned(), [...Array(64).keys()]);
    assert.deepEqual(gained.sort((x, y) => x - y), [...Array(64).keys()]);
    assert.equal(a.stats.owned, 64);
    assert.equal(a.stats.acquired, 64);
    assert.equal(a.stats.takeovers, 0);
    const table = await leaseTable(a.backend);
    for (let p = 0; p < 64; p++) {
      assert.deepEqual(table.get(p), { owner: "node-a", epoch: 1, expiresAt: T0 + LEASE });
      const epoch = await a.backend.get(K.epoch(p));
      assert.deepEqual(epoch.value, { epoch: 1, owner: "node-a" });
      assert.equal(a.owns(p)!.version, epoch.version, "the version commits check");
    }
    assert.equal(a.partitionOf("order-1"), a.partitionOf("order-1"));

    // Renewal moves the expiry, never the epoch record.
    const before = await a.backend.get(K.epoch(5));
    c.clock.advance(RENEW);
    await a.tick();
    assert.equal((await a.backend.get(K.epoch(5))).version, before.version);
    assert.equal((await leaseTable(a.backend)).get(5)!.expiresAt, T0 + RENEW + LEASE);
    assert.equal(a.owns(5)!.version, before.version);
    assert.equal(a.stats.acquired, 64);

    const status = await a.status();
    assert.equal(status.partitions, 64);
    assert.equal(status.self, "node-a");
    assert.equal(status.nodes.length, 1);
    assert.equal(status.nodes[0].live, true);
    assert.equal(status.nodes[0].owned, 64);
    assert.equal(status.partitionTable.length, 64);
    assert.deepEqual(c.errors, []);
  });
});

backendTest(
  "cluster: a second node joins; each ends with about half, never two owners",
  async (b) => {
    await withCluster(b, async (c) => {
      const a = await c.join("node-a");
      await a.tick();
      const bee = await c.join("node-b");
      await rounds(c, [a, bee], 4);
      const expected = preferredCounts(["node-a", "node-b"], 64);
      assert.equal(a.owned().length, expected.get("node-a"));
      assert.equal(bee.owned().length, expected.get("node-b"));
      assert.equal(a.owned().length + bee.owned().length, 64);
      for (const n of [a, bee]) {
        assert.ok(Math.abs(n.owned().length - 32) <= 8, `${n.node}: ${n.owned().length}`);
      }
      // Handed over gracefully: released by a, acquired by b at the next epoch, no takeover.
      assert.equal(a.stats.released, bee.owned().length);
      assert.equal(bee.stats.acquired, bee.owned().length);
      assert.equal(bee.stats.takeovers, 0);
      assert.equal(a.stats.lost, 0);
      for (const p of bee.owned()) assert.equal(bee.owns(p)!.epoch, 2);
      // Stable: more rounds move nothing.
      await rounds(c, [a, bee], 2);
      assert.equal(bee.stats.acquired, bee.owned().length);
      assert.deepEqual(c.errors, []);
    });
  },
);

backendTest(
  "cluster: a stopped node's partitions are taken within one tick past its lease",
  async (b) => {
    await withCluster(b, async (c) => {
      const a = await c.join("node-a");
      const bee = await c.join("node-b");
      await rounds(c, [a, bee], 3);
      const hers = bee.owned();
      assert.ok(hers.length > 0);
      const before = await leaseTable(a.backend);
      const lastRenewal = c.clock.t;
      bee.stop(); // a crash, as the others see it: no release
      // a keeps its rounds; b's leases run out at lastRenewal + LEASE.
      let taken: number | null = null;
      for (let i = 0; i < 10 && taken === null; i++) {
        c.clock.advance(RENEW);
        await a.tick();
        await assertSingleOwners([a], a.backend);
        if (a.owned().length === 64) taken = c.clock.t;
      }
      assert.ok(taken !== null, "a took every partition");
      assert.ok(taken > lastRenewal + LEASE, "not before b's lease ran out");
      assert.ok(taken <= lastRenewal + LEASE + RENEW, "within one round past the lease");
      const after = await leaseTable(a.backend);
      for (const p of hers) {
        assert.equal(after.get(p)!.epoch, before.get(p)!.epoch + 1, `partition ${p}`);
        assert.equal(after.get(p)!.owner, "node-a");
      }
      assert.equal(a.stats.takeovers, hers.length);
      assert.equal(a.stats.lost, 0);
      const status = await a.status();
      assert.deepEqual(status.nodes.map((n) => [n.node, n.live, n.owned]), [
        ["node-a", true, 64],
        ["node-b", false, 0],
      ]);
    });
  },
);

backendTest("cluster: leave() hands over at once", async (b) => {
  await withCluster(b, async (c) => {
    const a = await c.join("node-a");
    const bee = await c.join("node-b");
    await rounds(c, [a, bee], 3);
    const hers = bee.owned();
    const drained: number[] = [];
    bee.onLost(async (p) => {
      await Promise.resolve();
      drained.push(p);
    });
    await bee.leave();
    assert.deepEqual(drained.sort((x, y) => x - y), hers, "lost listeners awaited");
    assert.deepEqual(bee.owned(), []);
    assert.equal(bee.stats.released, hers.length);
    assert.equal((await a.backend.get(K.node("node-b"))).value, null, "node record deleted");
    const released = await leaseTable(a.backend);
    for (const p of hers) assert.equal(released.get(p)!.owner, null);
    await a.tick(); // same instant: no waiting for any lease
    assert.equal(a.owned().length, 64);
    assert.equal(a.stats.takeovers, 0);
    const after = await leaseTable(a.backend);
    for (const p of hers) assert.equal(after.get(p)!.epoch, released.get(p)!.epoch + 1);
    await bee.tick(); // does nothing after leave
    assert.deepEqual(bee.owned(), []);
  });
});

backendTest("cluster: a paused node that resumes loses its partitions and is fenced", async (b) => {
  await withCluster(b, async (c) => {
    const a = await c.join("node-a");
    const bee = await c.join("node-b");
    await rounds(c, [a, bee], 3);
    const hers = bee.owned();
    const p = hers[0];
    const old = bee.owns(p)!;
    assert.equal(old.version, (await a.backend.get(K.epoch(p))).version);

    bee.stop(); // paused (SIGSTOP): no rounds, nothing released
    for (let i = 0; i < 6; i++) {
      c.clock.advance(RENEW);
      await a.tick();
    }
    assert.equal(a.owned().length, 64, "a took over");

    const lost: number[] = [];
    bee.onLost((q) => void lost.push(q));
    await bee.tick(); // resumed (SIGCONT)
    for (const q of hers) assert.ok(lost.includes(q), `lost ${q}`);
    assert.equal(bee.owns(p), undefined);
    assert.equal(bee.stats.lost, hers.length);
    await assertSingleOwners([a, bee], a.backend);

    // What the store relies on: a commit checking the old epoch version fails.
    const commit = await bee.backend.atomic(
      [{ key: K.epoch(p), version: old.version }],
      [{ type: "set", key: ["app", "written-by-b"], value: 1 }],
    );
    assert.equal(commit.ok, false);
    assert.equal((await bee.backend.get(["app", "written-by-b"])).value, null);
  });
});

backendTest("cluster: a node whose clock lags is fenced, and fenced() drops at once", async (b) => {
  await withCluster(b, async (c) => {
    const a = await c.join("node-a");
    // b's clock runs 6 s behind: when a takes over, b still believes its lease.
    const lag = 6_000;
    const bee = await c.join("node-b", { now: () => c.clock.t - lag });
    await rounds(c, [a, bee], 3);
    const p = bee.owned()[0];
    const old = bee.owns(p)!;
    bee.stop();
    // b's leases end 4 s after its last round on a's clock, 10 s on its own: a takes over
    // after two rounds, while b still believes.
    for (let i = 0; i < 2; i++) {
      c.clock.advance(RENEW);
      await a.tick();
    }
    assert.ok(a.owns(p) !== undefined, "a took it");
    assert.deepEqual(bee.owns(p), old, "b, behind, still believes it owns p");
    const commit = await bee.backend.atomic(
      [{ key: K.epoch(p), version: old.version }],
      [{ type: "set", key: ["app", "x"], value: 1 }],
    );
    assert.equal(commit.ok, false, "fenced by the epoch record");
    const lost: number[] = [];
    bee.onLost((q) => void lost.push(q));
    bee.fenced(p, old.epoch);
    assert.equal(bee.owns(p), undefined);
    assert.deepEqual(lost, [p]);
    assert.equal(bee.stats.fencedCommits, 1);
    assert.equal(bee.stats.lost, 1);
    bee.fenced(p); // not owned any more: counted, nothing dropped
    assert.equal(bee.stats.fencedCommits, 2);
    assert.equal(bee.stats.lost, 1);
    // Its next round drops the rest (a's leases, not its own), without fencing a.
    await bee.tick();
    assert.deepEqual(bee.owned().filter((q) => a.owns(q) !== undefined), []);
  });
});

backendTest("cluster: another partition count is refused clearly", async (b) => {
  await withCluster(b, async (c) => {
    const a = await c.join("node-a", { partitions: 16 });
    assert.equal(a.partitions, 16);
    await assert.rejects(
      () => c.join("node-b", { partitions: 32 }),
      (e: unknown) => {
        assert.ok(e instanceof ClusterConfigError);
        assert.match(e.message, /has 16 partitions/);
        assert.match(e.message, /asks for 32/);
        return true;
      },
    );
    const bee = await c.join("node-c"); // no option: the recorded count
    assert.equal(bee.partitions, 16);
    await assert.rejects(() => c.join("node-d", { partitions: 0 }), ClusterConfigError);
    await assert.rejects(
      () => c.join("node-a"),
      (e: unknown) => e instanceof ClusterConfigError && /in use by a live node/.test(e.message),
    );
  });
});

backendTest("cluster: client-role nodes register and own nothing", async (b) => {
  await withCluster(b, async (c) => {
    const client = await c.join("repl-1", { role: "client" });
    await client.tick();
    assert.deepEqual(client.owned(), []);
    assert.equal((await leaseTable(client.backend)).size, 0);
    const a = await c.join("node-a");
    await rounds(c, [client, a], 2);
    assert.equal(a.owned().length, 64);
    assert.deepEqual(client.owned(), []);
    const status = await a.status();
    const row = status.nodes.find((n) => n.node === "repl-1")!;
    assert.equal(row.role, "client");
    assert.equal(row.live, true);
    assert.equal(row.owned, 0);
  });
});

backendTest(
  "cluster: an unreachable server is reported, leases lapse past expiry, then recover",
  async (b) => {
    const server = await pgServer();
    if (!server.canKill) {
      console.warn("STATECRAFT_TEST_PG is an external server: this test needs its own (skipped)");
      return;
    }
    // Short bounds: a dead server is reported in well under a second, not ten.
    const path = `${await b.path()}&retryMs=300&connectTimeoutMs=300`;
    const c = new Cluster(path);
    try {
      const a = await c.join("node-a");
      await a.tick();
      assert.equal(a.owned().length, 64);
      const lost: number[] = [];
      a.onLost((p) => void lost.push(p));
      await server.kill("KILL");
      try {
        c.clock.advance(RENEW);
        await a.tick(); // must not reject
        assert.ok(c.errors.length > 0, "reported through onError");
        assert.ok(c.errors[0] instanceof BackendUnavailableError, String(c.errors[0]));
        assert.equal(a.owned().length, 64, "still within the lease");
        c.clock.advance(LEASE);
        await a.tick();
        assert.equal(a.owned().length, 0, "past expiry: lost");
        assert.equal(lost.length, 64);
        assert.equal(a.stats.lost, 64);
      } finally {
        await server.start();
      }
      c.errors.length = 0;
      c.clock.advance(RENEW);
      await a.tick();
      assert.deepEqual(c.errors, []);
      assert.equal(a.owned().length, 64, "recovered");
      for (const p of a.owned()) assert.equal(a.owns(p)!.epoch, 2, "a new epoch");
    } finally {
      await c.close();
    }
  },
  { only: "postgres" },
);

backendTest("cluster: three nodes ticking at once; one crashes, one joins", async (b) => {
  await withCluster(b, async (c) => {
    const nodes = [await c.join("n1"), await c.join("n2"), await c.join("n3")];
    const concurrent = async (live: Membership[], n: number) => {
      for (let i = 0; i < n; i++) {
        c.clock.advance(RENEW);
        await Promise.all(live.map((m) => m.tick()));
        await assertSingleOwners(nodes, c.backends[0]);
      }
    };
    await concurrent(nodes, 4);
    const counts = preferredCounts(["n1", "n2", "n3"], 64);
    for (const m of nodes) assert.equal(m.owned().length, counts.get(m.node), m.node);
    nodes[2].stop();
    await concurrent(nodes.slice(0, 2), 6);
    assert.equal(nodes[0].owned().length + nodes[1].owned().length, 64);
    const n4 = await c.join("n4");
    nodes.push(n4);
    await concurrent([nodes[0], nodes[1], n4], 4);
    const after = preferredCounts(["n1", "n2", "n4"], 64);
    for (const m of [nodes[0], nodes[1], n4]) {
      assert.equal(m.owned().length, after.get(m.node), m.node);
    }
    assert.deepEqual(c.errors, []);
  });
});

backendTest("cluster: joinCluster starts the rounds on a timer; leave stops them", async (b) => {
  await withCluster(b, async (c) => {
    const a = await joinCluster(await c.open(), { node: "timer-a", leaseMs: 2_000 });
    try {
      assert.equal(a.running, true);
      assert.equal(a.renewMs, 500);
      assert.equal(a.owned().length, 64, "the first round ran before joinCluster returned");
    } finally {
      await a.leave();
    }
    assert.equal(a.running, false);
    assert.equal(a.owned().length, 0);
    const status = await clusterStatus(c.backends[0]);
    assert.ok(status !== null);
    assert.deepEqual(status.nodes, []);
    assert.ok(status.partitionTable.every((row) => row.owner === null));
  });
});
