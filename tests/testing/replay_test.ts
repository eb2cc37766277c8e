// Replay as a deploy gate: stored journals replayed under a new definition.
import assert from "node:assert/strict";
import { openStore } from "../../lib/persist/store.ts";
import { replayJournals } from "../../lib/testing/replay.ts";
import { importMachines, writeMachineFile, writeStore } from "./_replay_store.ts";

async function withStore(fn: (dir: string, kv: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-replay-" });
  try {
    await fn(dir, await writeStore(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("replay: the unchanged definition matches every journal", async () => {
  await withStore(async (dir, kv) => {
    const { order, note } = await importMachines(await writeMachineFile(dir, "same"));
    const report = await replayJournals({ kv, machine: [order, note] });
    assert.deepEqual(report, {
      ok: true,
      machines: ["order", "note"],
      instances: 4,
      // o1: 3 events; o2: 3 events and a timer; o3: 2 events; n1: 1 event.
      events: 10,
      differences: [],
    });
  });
});

Deno.test("replay: a changed guard is reported at the first instance and seq it changes", async () => {
  await withStore(async (dir, kv) => {
    const { order } = await importMachines(await writeMachineFile(dir, "guard"));
    const report = await replayJournals({ kv, machine: order });
    assert.equal(report.ok, false);
    assert.equal(report.instances, 3);
    // o1 checked out with one item: the new guard wants two. o2 had two; o3 never checked out.
    assert.deepEqual(report.differences, [{
      kind: "configuration",
      machine: "order",
      instance: "o1",
      seq: 2,
      entry: "event",
      event: { type: "CHECKOUT" },
      expected: ["paying"],
      actual: ["cart"],
    }]);
  });
});

Deno.test("replay: a changed target without a migration is a missing migration", async () => {
  await withStore(async (dir, kv) => {
    const { order } = await importMachines(await writeMachineFile(dir, "target"));
    const same = (await importMachines(await writeMachineFile(dir, "same"))).order;
    assert.notEqual(order.hash, same.hash);
    const report = await replayJournals({ kv, machine: order, limit: 1 });
    assert.equal(report.instances, 1);
    assert.equal(report.differences.length, 1);
    const [d] = report.differences;
    assert.equal(d.kind, "migration");
    if (d.kind !== "migration") return;
    assert.equal(d.instance, "o1");
    assert.equal(d.seq, 0);
    assert.deepEqual(d.stored, { version: 1, hash: same.hash });
    assert.deepEqual(d.current, { version: 1, hash: order.hash });
    assert.match(d.message, /no migration leads from one to the other/);
  });
});

Deno.test("replay: with its migration, a changed target differs where it is taken", async () => {
  await withStore(async (dir, kv) => {
    const { order, note } = await importMachines(await writeMachineFile(dir, "target-migrated"));
    // An open store is read as it is (and left open); machineId picks among the machines.
    const store = await openStore({ path: kv, machines: [order, note], mode: "inspect" });
    try {
      const report = await replayJournals({ store, machine: [order, note], machineId: "order" });
      assert.deepEqual(report.machines, ["order"]);
      assert.deepEqual(report.differences.map((d) => [d.kind, d.instance, d.seq]), [
        ["configuration", "o1", 3],
      ]);
      const [d] = report.differences;
      if (d.kind !== "configuration") throw new Error("expected a configuration difference");
      assert.deepEqual([d.event, d.expected, d.actual], [
        { type: "PAID" },
        ["shipped"],
        ["cancelled"],
      ]);
      assert.ok(await store.get("o1"), "the store stays open");
    } finally {
      await store.close();
    }
  });
});

Deno.test("replay: bad input is refused clearly", async () => {
  await withStore(async (dir, kv) => {
    const { order } = await importMachines(await writeMachineFile(dir, "same"));
    await assert.rejects(
      () => replayJournals({ kv: `${dir}/missing.kv`, machine: order }),
      /no store at .*missing\.kv/,
    );
    await assert.rejects(
      () => replayJournals({ kv, machine: order, machineId: "nope" }),
      /no machine "nope" among those given \("order"\)/,
    );
    await assert.rejects(
      () => replayJournals({ machine: order }),
      /give either `store` \(an open store\) or `kv`/,
    );
  });
});
