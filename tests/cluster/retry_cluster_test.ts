// Retries in cluster mode: three nodes in one process on one store (each with its own backend
// connection and clock), the leases driven tick by tick. An invocation that fails on its
// owner waits for its next attempt on a durable timer; the owner stops (no more renewals, its
// clock stands still), another node takes its partitions over and runs the remaining attempts
// at their due times, each once, and the instance ends as the retry policy says.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { joinCluster, type Membership } from "../../lib/cluster/membership.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { chargingMachine } from "../persist/_charging.ts";

const LEASE = 10_000;
const START = 3_000_000;

/** Each attempt: its number and the node it ran on. */
type Calls = [number, string][];

/**
 * The machine, as node `node` builds it: the same definition (and hash) on every node; its
 * invoked function records where each attempt ran (attempts 1 and 2 fail, the third succeeds).
 */
function charging(calls: Calls, node: string) {
  return chargingMachine("charging", (attempt) => calls.push([attempt, node]));
}

interface Node {
  name: string;
  membership: Membership;
  store: Store;
  clock: VirtualClock;
}

backendTest("cluster: a retry waiting on its timer goes on after a takeover", async (b) => {
  const path = await b.path();
  const time = { now: START };
  const calls: Calls = [];
  const nodes: Node[] = [];
  try {
    for (const name of ["a", "b", "c"]) {
      const backend = await openBackend(path);
      const membership = await joinCluster(backend, {
        node: name,
        partitions: 9,
        leaseMs: LEASE,
        now: () => time.now,
        start: false,
      });
      const clock = new VirtualClock(START);
      const store = await openStore({
        backend,
        cluster: membership,
        machines: [charging(calls, name)],
        clock,
        timerPollMs: 20,
      });
      nodes.push({ name, membership, store, clock });
    }
    for (let round = 0; round < 4; round++) {
      for (const n of nodes) await n.membership.tick();
    }
    const [a, ...others] = nodes;
    assert.ok(nodes.every((n) => n.membership.owned().length > 0), "each owns a share");
    let id = "";
    for (let i = 0; id === ""; i++) {
      if (a.membership.owns(a.membership.partitionOf(`pay${i}`)) !== undefined) id = `pay${i}`;
    }

    // Created through b; a owns it and runs attempt 1, which fails: the retry waits 500 ms.
    await others[0].store.create("charging", id);
    const failed = async (attempt: number) =>
      (await others[1].store.history(id)).some((e) =>
        e.event?.type === "error.attempt.charge" && e.event?.attempt === attempt
      );
    await waitFor("attempt 1's failure", () => failed(1));
    assert.deepEqual(calls, [[1, "a"]]);
    assert.equal((await a.store.get(id))?.configuration[0], "calling");

    // a stops renewing (its clock stands still: its timer never fires); past its lease, b and
    // c take its partitions over.
    a.membership.stop();
    time.now += LEASE + 1;
    for (let round = 0; round < 3; round++) {
      for (const n of others) await n.membership.tick();
    }
    const owner = others.find((n) => n.membership.owns(n.membership.partitionOf(id)));
    assert.ok(owner, "b or c owns the instance's partition now");

    // The new owner's clock moves on: attempt 2 runs there at its due time (and fails), then,
    // 1000 ms later, attempt 3 succeeds. (The timer poller loads the instance shortly before
    // a wait is over, so the clocks move in small steps.)
    await waitFor("the payment", async () => {
      if (others[0].clock.now() < START + 2_000) { for (const n of others) n.clock.advance(100); }
      return (await others[0].store.get(id))?.configuration[0] === "paid";
    });
    assert.deepEqual(calls, [[1, "a"], [2, owner.name], [3, owner.name]], "each attempt once");
    const info = await a.store.get(id);
    assert.deepEqual(info?.context, { result: "charged on attempt 3" });
    // The journal: each attempt's result, the later ones committed by the new owner.
    const results = (await a.store.history(id))
      .filter((e) => e.kind === "invoke")
      .map((e) => [e.event?.type, e.event?.attempt ?? null, e.node, e.time]);
    assert.deepEqual(results.map((r) => r.slice(0, 3)), [
      ["error.attempt.charge", 1, "a"],
      ["error.attempt.charge", 2, owner.name],
      ["done.invoke.charge", null, owner.name],
    ]);
    // Not before their due times (the new owner's poller finds an overdue wait a little late).
    const [t1, t2, t3] = results.map((r) => r[3] as number);
    assert.equal(t1, START);
    assert.ok(t2 >= START + 500, `attempt 2 at ${t2 - START}, due at 500`);
    assert.ok(t3 >= t2 + 1000, `attempt 3 at ${t3 - START}, due 1000 after attempt 2`);
  } finally {
    for (const n of nodes) await n.store.close();
  }
});
