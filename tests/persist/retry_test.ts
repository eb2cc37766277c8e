// Retries of a failing invocation in the durable store, on both backends, on virtual time: the
// wait between attempts is a durable timer (the store is closed during it and opened again; the
// next attempt starts at its due time, once), and the journal shows each attempt.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { chargingMachine } from "./_charging.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { backendTest } from "./_backends.ts";
import { waitFor } from "../_wait.ts";

/** Each attempt: its number and the clock time it started at. */
const calls: [number, number][] = [];
/** The test's clock (one per backend's run). */
let clock = new VirtualClock(1_000);

const flaky = chargingMachine("flaky", (attempt) => calls.push([attempt, clock.now()]));

async function journal(store: Store): Promise<[string, string | null, unknown, number][]> {
  return (await store.history("x")).map((e) => [
    e.kind,
    e.event?.type ?? null,
    e.event?.attempt ?? null,
    e.time,
  ]);
}

async function journalHas(store: Store, type: string, attempt: number): Promise<boolean> {
  const h = await store.history("x");
  return h.some((e) => e.event?.type === type && e.event?.attempt === attempt);
}

backendTest(
  "retry: a backoff wait survives closing the store; each attempt journaled",
  async (b) => {
    calls.length = 0;
    clock = new VirtualClock(1_000);
    const path = await b.path();
    const open = () => openStore({ path, machines: [flaky], clock, timerPollMs: 10 });
    let store = await open();
    try {
      await store.create("flaky", "x"); // attempt 1 at 1,000 fails: the wait is due at 1,500
      await waitFor("attempt 1's failure", () => journalHas(store, "error.attempt.charge", 1));
      await store.close();
      store = await open();
      // Loaded again (by an event it ignores): the restore waits, it does not run an attempt.
      await store.send("x", "PING").catch(() => {});
      assert.deepEqual(calls, [[1, 1_000]]);
      clock.advance(499);
      assert.deepEqual(calls, [[1, 1_000]]);
      clock.advance(1); // 1,500: attempt 2 fails, the next wait is due at 2,500
      await waitFor("attempt 2's failure", () => journalHas(store, "error.attempt.charge", 2));
      await store.close();
      clock.advance(600); // 2,100: nothing runs while the store is closed
      store = await open();
      clock.advance(0);
      assert.deepEqual(calls, [[1, 1_000], [2, 1_500]]);
      // Not loaded now: the timer poller loads it shortly before the wait is over.
      await waitFor("attempt 3 at its due time", async () => {
        if (clock.now() < 2_500) clock.advance(100);
        return (await store.get("x"))?.configuration[0] === "paid";
      });
      assert.deepEqual(calls, [[1, 1_000], [2, 1_500], [3, 2_500]]);
      assert.equal(
        ((await store.get("x"))!.context as { result: string }).result,
        "charged on attempt 3",
      );
      clock.advance(60_000);
      assert.equal(calls.length, 3, "each retry ran once");
      assert.deepEqual(await journal(store), [
        ["create", null, null, 1_000],
        ["invoke", "error.attempt.charge", 1, 1_000],
        ["event", "PING", null, 1_000],
        ["timer", "retry.invoke.charge", 2, 1_500],
        ["invoke", "error.attempt.charge", 2, 1_500],
        ["timer", "retry.invoke.charge", 3, 2_500],
        ["invoke", "done.invoke.charge", null, 2_500],
      ]);
      // A replay of the whole journal goes through the same attempts, and runs none again.
      const last = (await store.history("x")).at(-1)!.seq;
      const replayed = await store.rollback("x", { seq: last });
      assert.deepEqual(replayed.configuration, ["paid"]);
      assert.equal(calls.length, 3);
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);
