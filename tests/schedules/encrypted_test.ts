// Schedules in an encrypted store, on both backends: the stored record holds neither a send's
// event payload nor a create's context in clear, the schedule fires with them all the same,
// a reader without the key is refused, and a record stored in clear before is sealed at start.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { K } from "../../lib/persist/keys.ts";
import { StoreDataError } from "../../lib/persist/codec.ts";
import {
  addSchedule,
  getSchedule,
  listSchedules,
  Scheduler,
  syncSchedules,
} from "../../lib/persist/schedules.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { scheduleListCommand } from "../../lib/cli/schedule.ts";
import { backendTest } from "../persist/_backends.ts";
import { beats, counter, job } from "./_machines.ts";

const T0 = Date.UTC(2025, 0, 1);
const KEY = "correct horse battery staple";
const SECRET = "TOPSECRET-4111";

/** Everything a stored value holds, bytes read as text: what a look at the database shows. */
function raw(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v,
  );
}

async function settle(store: Store, s: Scheduler): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await s.idle();
    await (store as unknown as { idle(): Promise<void> }).idle();
  }
}

backendTest("schedules: encrypted at rest in an encrypted store, and still firing", async (b) => {
  const path = await b.path();
  const clock = new VirtualClock(T0);
  const store = await openStore({ path, machines: [counter, job], clock, encryptionKey: KEY });
  const errors: unknown[] = [];
  const s = new Scheduler({ store, clock, refreshMs: 0, onError: (e) => errors.push(e) });
  try {
    await store.create("counter", "c1");
    await addSchedule(store, {
      name: "beat",
      cron: "0 * * * *",
      send: { instance: "c1", event: { type: "BEAT", card: SECRET } },
    }, { now: clock.now() });
    await addSchedule(store, {
      name: "jobs",
      cron: "0 * * * *",
      create: { machine: "job", context: { card: SECRET } },
    }, { now: clock.now() });
    for (const name of ["beat", "jobs"]) {
      const stored = raw((await store.backend.get(K.schedule(name))).value);
      assert.ok(!stored.includes(SECRET), stored);
      assert.ok(!stored.includes(name === "beat" ? "BEAT" : "job"), stored);
      assert.match(stored, /^\{"sealed":/);
    }

    s.start();
    await settle(store, s); // the first pass arms the timer of 01:00
    clock.advance(3_600_000);
    await settle(store, s);
    assert.deepEqual(errors, []);
    // Fired, with the payload and the context as declared.
    assert.deepEqual(await beats(store, "c1"), [new Date(T0 + 3_600_000).toISOString()]);
    const sent = (await store.history("c1")).at(-1)?.event as Record<string, unknown>;
    assert.equal(sent.card, SECRET);
    const made = await store.snapshot("jobs-20250101T010000Z");
    assert.deepEqual(made.context, { card: SECRET });
    const beat = await getSchedule(store, "beat");
    assert.equal(beat?.fired, 1);
    assert.equal(beat?.last?.outcome, "fired");
    // The scheduler's own writes are sealed too.
    const after = raw((await store.backend.get(K.schedule("beat"))).value);
    assert.ok(!after.includes(SECRET) && !after.includes('"fired"'), after);

    // Without the key: refused, naming the schedule.
    await assert.rejects(
      listSchedules({ backend: store.backend }),
      (e: unknown) => e instanceof StoreDataError && /schedule "beat" is encrypted/.test(e.message),
    );

    // A record stored in clear (before schedules were encrypted) is sealed at the next start.
    const legacy = { ...beat!, spec: { ...beat!.spec, name: "legacy" } } as Record<string, unknown>;
    delete legacy.name;
    await store.backend.atomic([], [{ type: "set", key: K.schedule("legacy"), value: legacy }]);
    assert.equal((await getSchedule(store, "legacy"))?.spec.send?.event.card, SECRET);
    await syncSchedules(store, [], clock.now());
    const resealed = raw((await store.backend.get(K.schedule("legacy"))).value);
    assert.ok(!resealed.includes(SECRET), resealed);
    assert.equal((await getSchedule(store, "legacy"))?.fired, 1);

    // The CLI reads them with the key from the environment, and says which variable without it.
    const lines: string[] = [];
    Deno.env.set("STATECRAFT_SCHEDULE_TEST_KEY", KEY);
    try {
      await scheduleListCommand({ kv: path, keyEnv: "STATECRAFT_SCHEDULE_TEST_KEY", json: true }, {
        line: (l) => lines.push(l),
      });
    } finally {
      Deno.env.delete("STATECRAFT_SCHEDULE_TEST_KEY");
    }
    assert.deepEqual(lines.map((l) => JSON.parse(l).name), ["beat", "jobs", "legacy"]);
    assert.equal(JSON.parse(lines[0]).spec.send.event.card, SECRET);
    await assert.rejects(
      scheduleListCommand({ kv: path, keyEnv: "STATECRAFT_SCHEDULE_TEST_KEY" }, { line: () => {} }),
      /is encrypted: set \$STATECRAFT_SCHEDULE_TEST_KEY/,
    );
  } finally {
    await s.stop();
    await store.close();
  }
});
