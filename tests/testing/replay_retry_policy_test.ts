// The retry policy in force goes with the attempts: a journal whose attempts followed a plugin
// action's policy (its manifest) replays the same where that plugin is not loaded
// (`replayJournals`, a fork at any seq), and a store restarted mid-wait without the plugin
// goes on under the manifest's policy, not `invokeDefaults`.
import assert from "node:assert/strict";
import { defineMachine, type InvokeArgs, type Snapshot, VirtualClock } from "../../mod.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { replayJournals } from "../../lib/testing/replay.ts";
import { waitFor } from "../_wait.ts";

/** The manifest's policy of the action, while its plugin is loaded. */
const MANIFEST = {
  retry: { attempts: 4, initial: 1000, factor: 3, max: Infinity, nonRetryable: [] },
  timeout: null,
};

/** The machine; its invoked action has the manifest's policy only while `loaded.plugin`. */
function charger(loaded: { plugin: boolean }, calls: number[], clock: VirtualClock) {
  const charge = Object.assign(
    ({ attempt }: InvokeArgs) => {
      calls.push(clock.now());
      return Promise.reject(new Error(`gateway down (attempt ${attempt})`));
    },
    { retryPolicy: () => loaded.plugin ? MANIFEST : undefined },
  );
  return defineMachine({
    id: "charger",
    initial: "charging",
    // What an invocation falls back to without the plugin: one attempt, no wait.
    invokeDefaults: { retry: { attempts: 1 } },
    states: {
      charging: { invoke: { id: "charge", src: charge, onError: "failed" } },
      failed: {},
    },
  });
}

async function attemptsFailed(store: Store, n: number): Promise<boolean> {
  return (await store.history("c")).filter((e) => e.event?.type === "error.attempt.charge")
    .length === n;
}

/** What a snapshot says of the retry: its timers (send id, due) and retry state. */
function retryPart(s: Snapshot): unknown {
  return { timers: s.timers.map((t) => [t.sendId, t.due]), retries: s.retries };
}

Deno.test("replay: attempts under a plugin's policy replay the same without the plugin", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-replay-retry-" });
  const path = `${dir}/state.kv`;
  const clock = new VirtualClock(10_000);
  const calls: number[] = [];
  const loaded = { plugin: true };
  try {
    let store = await openStore({ path, machines: [charger(loaded, calls, clock)], clock });
    await store.create("charger", "c"); // attempt 1 at 10,000 fails: waits 1,000
    await waitFor("attempt 1's failure", () => attemptsFailed(store, 1));
    clock.advance(1000); // attempt 2 at 11,000 fails: waits 3,000 (until 14,000)
    await waitFor("attempt 2's failure", () => attemptsFailed(store, 2));
    const stored = await store.snapshot("c");
    assert.deepEqual(retryPart(stored), {
      timers: [["statecraft.retry:charge", 14_000]],
      retries: {
        charge: {
          attempt: 2,
          error: { name: "Error", message: "gateway down (attempt 2)" },
          policy: { attempts: 4, initial: 1000, factor: 3, nonRetryable: [] },
        },
      },
    });
    await store.close();

    // Without the plugin: the replay gate, and a fork at the latest seq (a replay of the
    // journal from the creation checkpoint), reach the state that was stored.
    loaded.plugin = false;
    const report = await replayJournals({ kv: path, machine: charger(loaded, calls, clock) });
    assert.deepEqual([report.ok, report.instances, report.differences], [true, 1, []]);
    store = await openStore({
      path,
      machines: [charger(loaded, calls, clock)],
      clock,
      mode: "inspect",
    });
    await store.fork("c", "c-copy");
    assert.deepEqual(retryPart(await store.snapshot("c-copy")), retryPart(stored));
    await store.close();

    // A restart mid-wait without the plugin: the wait ends at 14,000 and the next one is the
    // manifest's (9,000), then the fourth attempt is the last.
    store = await openStore({ path, machines: [charger(loaded, calls, clock)], clock });
    try {
      await store.send("c", "PING"); // loads it (the event changes nothing)
      clock.advance(3000);
      await waitFor("attempt 3's failure", () => attemptsFailed(store, 3));
      assert.equal((await store.snapshot("c")).timers[0]?.due, 23_000);
      clock.advance(9000);
      await waitFor(
        "the final failure",
        async () => (await store.get("c"))?.configuration[0] === "failed",
      );
      assert.deepEqual(calls, [10_000, 11_000, 14_000, 23_000]);
      const end = (await store.history("c")).at(-1)!;
      assert.equal(end.event?.attempts, 4);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
