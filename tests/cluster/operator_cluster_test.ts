// Operator actions in cluster mode: three nodes in one process on one store (each with its own
// backend connection), the leases driven tick by tick. A cancel, a fork and a redrive sent to a
// node that does not own the instance are forwarded to its owner: the journal entry names the
// owner, and every node sees the result.
import assert from "node:assert/strict";
import { defineMachine, VirtualClock } from "../../mod.ts";
import { joinCluster, type Membership } from "../../lib/cluster/membership.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { openStore, type Store, StoreError } from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { flakyJob } from "../persist/_flaky_job.ts";

const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  states: {
    on: { on: { INC: { actions: ({ context }) => context.n++ } }, after: { 60_000: "late" } },
    late: {},
  },
});

/** Sends PING's effect to the sink plugin (through the outbox). */
const notifier = defineMachine({
  id: "notifier",
  states: {
    on: {
      on: { PING: { actions: ({ send }) => send({ type: "ping" }, { to: "plugin:sink.take" }) } },
    },
  },
});

/** The sink the nodes deliver to: fails while `down`; `runs` lists `<event>@<effect id>@<node>`. */
interface Sink {
  down: boolean;
  runs: string[];
}

interface Node {
  name: string;
  membership: Membership;
  store: Store;
}

const NAMES = ["a", "b", "c"] as const;

/** Nodes a, b and c on a fresh store, each owning its share of the partitions; closed after `fn`. */
async function withTrio(
  path: string,
  job: { ok: boolean; calls: number },
  fn: (nodes: Node[]) => Promise<void>,
  sink: Sink = { down: false, runs: [] },
): Promise<void> {
  const time = { now: 5_000_000 };
  // Leases on the test's time: they move only when the test ticks.
  const lease = { partitions: 12, leaseMs: 10_000, now: () => time.now, start: false };
  const nodes: Node[] = [];
  try {
    for (const name of NAMES) {
      const backend = await openBackend(path);
      const membership = await joinCluster(backend, { node: name, ...lease });
      const machines = [counter, flakyJob(job), notifier];
      const clock = new VirtualClock(time.now);
      const store = await openStore({
        backend,
        cluster: membership,
        machines,
        clock,
        onError: () => {},
        onSend: (_target, event, _from, effectId) => () => {
          sink.runs.push(`${event.type}@${effectId}@${name}`);
          if (sink.down) throw new Error("sink is down");
        },
      });
      nodes.push({ name, membership, store });
    }
    // Rounds until each node owns its share (the first takes everything, then hands over).
    for (let round = 0; round < 4; round++) {
      for (const n of nodes) await n.membership.tick();
    }
    const owned = nodes.map((n) => n.membership.owned());
    assert.ok(owned.every((o) => o.length > 0), `shares: ${JSON.stringify(owned)}`);
    assert.equal(owned.flat().length, 12);
    assert.equal(new Set(owned.flat()).size, 12, "one owner per partition");
    await fn(nodes);
  } finally {
    for (const n of nodes) await n.store.close();
  }
}

/** An instance id in a partition `owner` owns. */
function idOwnedBy(owner: Node, prefix: string): string {
  for (let i = 0;; i++) {
    const id = `${prefix}${i}`;
    if (owner.membership.owns(owner.membership.partitionOf(id)) !== undefined) return id;
  }
}

backendTest(
  "cluster: cancel, fork and redrive sent to another node run on the owner",
  async (b) => {
    const job = { ok: false, calls: 0 };
    await withTrio(await b.path(), job, async ([a, b2, c]) => {
      // Cancel: the instance is a's, the request goes to c.
      const x = idOwnedBy(a, "x");
      await b2.store.create("counter", x);
      await c.store.send(x, "INC");
      const forwardedBefore = c.membership.stats.forwarded;
      const cancelled = await c.store.cancel(x, { reason: "customer asked", by: "alice" });
      assert.equal(cancelled.status, "cancelled");
      assert.ok(c.membership.stats.forwarded > forwardedBefore, "c forwarded the cancel");
      const cancelEntry = (await b2.store.history(x)).at(-1)!;
      assert.deepEqual(
        [cancelEntry.kind, cancelEntry.node, cancelEntry.by, cancelEntry.reason],
        ["cancel", "a", "alice", "customer asked"],
      );
      for (const n of [a, b2, c]) {
        const info = await n.store.get(x);
        assert.equal(info?.status, "cancelled", `as seen from ${n.name}`);
        assert.equal(info?.cancelled?.by, "alice", `as seen from ${n.name}`);
      }
      // Refused everywhere afterwards, with the owner's error.
      await assert.rejects(
        b2.store.send(x, "INC"),
        (e) =>
          e instanceof StoreError && e.code === "cancelled" && /cancelled by alice/.test(e.message),
      );

      // Fork: the source is a's, the fork's id b's, the request goes to c; b runs it.
      const src = idOwnedBy(a, "s");
      await a.store.create("counter", src);
      for (let i = 0; i < 3; i++) await a.store.send(src, "INC");
      const forkId = idOwnedBy(b2, `${src}-f`);
      const forked = await c.store.fork(src, forkId, { seq: 2, by: "carol" });
      assert.deepEqual([forked.id, forked.seq, forked.context], [forkId, 0, { n: 2 }]);
      const forkEntry = (await a.store.history(forkId))[0];
      assert.deepEqual(
        [forkEntry.kind, forkEntry.node, forkEntry.by, forkEntry.origin],
        ["fork", "b", "carol", { id: src, seq: 2 }],
      );
      for (const n of [a, b2, c]) {
        assert.deepEqual((await n.store.get(forkId))?.context, { n: 2 }, `as seen from ${n.name}`);
        assert.deepEqual(
          (await n.store.forks(src)).map((l) => [l.id, l.seq, l.by]),
          [[forkId, 2, "carol"]],
          `forks as seen from ${n.name}`,
        );
      }
      // A fork to an id that exists: the owner's refusal comes back to the sender.
      await assert.rejects(
        a.store.fork(src, forkId),
        (e) => e instanceof StoreError && e.code === "exists",
      );

      // Redrive: the job is c's (its invocation runs there), the request goes to a.
      const j = idOwnedBy(c, "j");
      await b2.store.create("job", j);
      await waitFor(
        "the failure",
        async () => (await a.store.get(j))?.configuration[0] === "failed",
      );
      assert.equal(job.calls, 1);
      job.ok = true;
      const redriven = await a.store.redrive(j, { by: "dave" });
      const redriveEntry = (await b2.store.history(j, { from: redriven.seq }))[0];
      assert.deepEqual(
        [
          redriveEntry.kind,
          redriveEntry.node,
          redriveEntry.by,
          redriveEntry.to,
          redriveEntry.retried,
        ],
        ["redrive", "c", "dave", 0, 1],
      );
      for (const n of [a, b2, c]) {
        await waitFor(
          `the retry, as seen from ${n.name}`,
          async () => (await n.store.get(j))?.status === "done",
        );
      }
      assert.equal(job.calls, 2, "the invocation ran again once, on the owner");
      // Nothing left to retry: the owner's refusal, through b.
      await assert.rejects(
        b2.store.redrive(j),
        (e) =>
          e instanceof StoreError && e.code === "invalid" && /nothing to retry/.test(e.message),
      );
    });
  },
);

backendTest(
  "cluster: a redrive of a failed effect sent to another node delivers it on the owner",
  async (b) => {
    const sink: Sink = { down: true, runs: [] };
    await withTrio(await b.path(), { ok: true, calls: 0 }, async ([a, b2, c]) => {
      const id = idOwnedBy(a, "n");
      await b2.store.create("notifier", id);
      const ack = await b2.store.send(id, "PING");
      const effectId = `${id}:send:${ack.seq}:0`;
      // Delivered by the owner after its commit, and failed: recorded, seen from every node.
      for (const n of [a, b2, c]) {
        await waitFor(`the failure, as seen from ${n.name}`, async () => {
          const failed = (await n.store.get(id))?.failedEffects ?? [];
          return failed.length === 1 && failed[0].effectId === effectId;
        });
      }
      assert.deepEqual(sink.runs, [`ping@${effectId}@a`]);

      // The sink is back; the redrive goes to c, which forwards it to a, which delivers.
      sink.down = false;
      const redriven = await c.store.redrive(id, { by: "erin" });
      assert.deepEqual(redriven.redriven, [{ effectId, outcome: "delivered" }]);
      assert.deepEqual(sink.runs, [`ping@${effectId}@a`, `ping@${effectId}@a`]);
      const entry = (await b2.store.history(id)).at(-1)!;
      assert.deepEqual(
        [entry.kind, entry.node, entry.by, entry.effects],
        ["redrive", "a", "erin", [effectId]],
      );
      for (const n of [a, b2, c]) {
        assert.equal((await n.store.get(id))?.failedEffects, undefined, `from ${n.name}`);
      }
    }, sink);
  },
);
