// Schedules on both backends: a restart of the process on the same store (KV file, PostgreSQL
// schema) loses and repeats no tick; three cluster nodes on one store fire each tick once,
// on the owner of the schedule's partition, and go on when that owner dies.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { joinCluster, type Membership } from "../../lib/cluster/membership.ts";
import { K } from "../../lib/persist/keys.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import {
  addSchedule,
  getSchedule,
  Scheduler,
  type ScheduleRecord,
  tickId,
} from "../../lib/persist/schedules.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { beats, counter, iso } from "./_machines.ts";

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1);

async function settle(store: Store, ...schedulers: Scheduler[]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    for (const s of schedulers) await s.idle();
    await (store as unknown as { idle(): Promise<void> }).idle();
  }
}

backendTest("schedules: a restart loses and repeats no tick", async (b) => {
  const path = await b.path();
  const clock = new VirtualClock(T0);
  let store = await openStore({ path, machines: [counter], clock });
  await store.create("counter", "c1");
  await addSchedule(store, {
    name: "b",
    cron: "*/10 * * * *",
    send: { instance: "c1", event: "BEAT" },
    catchUp: "all",
  }, { now: clock.now() });
  let s = new Scheduler({ store, clock, refreshMs: 0 });
  s.start();
  await settle(store, s);
  for (let i = 0; i < 3; i++) {
    clock.advance(10 * MIN);
    await settle(store, s);
  }
  assert.deepEqual(await beats(store, "c1"), [
    iso(2025, 0, 1, 0, 10),
    iso(2025, 0, 1, 0, 20),
    iso(2025, 0, 1, 0, 30),
  ]);
  await s.stop();
  // A crash between the 00:40 tick's send landing and its acknowledgement: the event is
  // applied, the tick still pending in the record.
  const t4 = T0 + 40 * MIN;
  clock.advance(10 * MIN);
  await store.send("c1", { type: "BEAT", schedule: "b", tick: iso(2025, 0, 1, 0, 40) }, {
    eventId: tickId("b", t4),
    by: "schedule:b",
  });
  const e = await store.backend.get<ScheduleRecord>(K.schedule("b"));
  await store.backend.atomic([{ key: e.key, version: e.version }], [
    { type: "set", key: e.key, value: { ...e.value!, pending: [t4], next: t4 + 10 * MIN } },
  ]);
  await store.close();

  clock.advance(15 * MIN); // down until 00:55: the 00:50 tick is missed
  store = await openStore({ path, machines: [counter], clock });
  s = new Scheduler({ store, clock, refreshMs: 0 });
  s.start();
  await settle(store, s);
  clock.advance(5 * MIN);
  await settle(store, s);
  const want = [10, 20, 30, 40, 50, 60].map((m) => iso(2025, 0, 1, 0, m));
  assert.deepEqual(await beats(store, "c1"), want);
  const rec = await getSchedule(store, "b");
  assert.deepEqual([rec?.fired, rec?.skipped, rec?.pending], [6, 0, []]);
  await s.stop();
  await store.close();
});

interface Node {
  name: string;
  membership: Membership;
  store: Store;
  scheduler: Scheduler;
}

backendTest(
  "schedules: three nodes fire each tick once; the owner dies, another goes on",
  async (b) => {
    const path = await b.path();
    const clock = new VirtualClock(T0);
    const LEASE = 20 * MIN;
    const nodes: Node[] = [];
    for (const name of ["a", "b", "c"]) {
      const backend = await openBackend(path);
      const membership = await joinCluster(backend, {
        node: name,
        partitions: 8,
        leaseMs: LEASE,
        now: () => clock.now(),
        start: false,
      });
      const store = await openStore({ backend, cluster: membership, machines: [counter], clock });
      const scheduler = new Scheduler({ store, clock, refreshMs: 0 });
      nodes.push({ name, membership, store, scheduler });
    }
    const alive = () => nodes.filter((n) => n.name !== dead);
    let dead = "";
    const rounds = async () => {
      for (let i = 0; i < 3; i++) for (const n of alive()) await n.membership.tick();
    };
    const settleAll = async () => {
      for (let i = 0; i < 3; i++) {
        for (const n of alive()) await settle(n.store, n.scheduler);
      }
    };
    try {
      await rounds();
      await nodes[0].store.create("counter", "c1");
      await addSchedule(nodes[1].store, {
        name: "beat",
        cron: "*/5 * * * *",
        send: { instance: "c1", event: "BEAT" },
        catchUp: "all",
        maxCatchUp: 100,
      }, { now: clock.now() });
      for (const n of nodes) n.scheduler.start();
      await settleAll();
      const partition = nodes[0].membership.partitionOf("schedule:beat");
      const owner = nodes.find((n) => n.membership.owns(partition) !== undefined)!;
      assert.ok(owner !== undefined, "a node owns the schedule's partition");

      for (let i = 0; i < 3; i++) {
        clock.advance(5 * MIN);
        await rounds();
        await settleAll();
      }
      await waitFor("three beats", async () => (await beats(nodes[0].store, "c1")).length === 3);

      // The owner dies: no more rounds, no scheduler, its lease runs out.
      dead = owner.name;
      await owner.scheduler.stop();
      for (let i = 0; i < 6; i++) {
        clock.advance(5 * MIN); // 30 minutes: past the lease
        await rounds();
        await settleAll();
      }
      const heir = alive().find((n) => n.membership.owns(partition) !== undefined);
      assert.ok(heir !== undefined, "another node took the schedule's partition");
      const want = Array.from({ length: 9 }, (_, i) => iso(2025, 0, 1, 0, 5 * (i + 1)));
      const got = await waitFor("nine beats", async () => {
        const list = await beats(heir.store, "c1");
        return list.length >= 9 ? list : undefined;
      });
      assert.deepEqual(got, want);
      const rec = await getSchedule(heir.store, "beat");
      assert.deepEqual([rec?.fired, rec?.pending, rec?.waiting], [9, [], []]);
    } finally {
      for (const n of nodes) {
        await n.scheduler.stop();
        await n.store.close();
      }
    }
  },
);
