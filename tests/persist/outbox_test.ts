// The outbox: a send to a target outside the engine (a plugin) runs once its transition is
// committed, never for a transition that was not; one that did not run (its delivery failed,
// the process died) runs again with the same effect id when the instance is loaded again.
import assert from "node:assert/strict";
import { defineMachine, type EventObject, VirtualClock } from "../../mod.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { K } from "../../lib/persist/keys.ts";
import { backendTest } from "./_backends.ts";
import { waitFor } from "../_wait.ts";

const pinger = defineMachine({
  id: "pinger",
  context: { big: "" },
  states: {
    on: {
      on: {
        PING: { actions: ({ send }) => send({ type: "ping" }, { to: "plugin:sink.take" }) },
        // Sends, then grows past what one commit can carry: the commit fails.
        BOOM: {
          actions: [
            ({ send }) => send({ type: "boom" }, { to: "plugin:sink.take" }),
            ({ context }) =>
              context.big = "x".repeat(Number(context.big.length === 0) * 20_000_000),
          ],
        },
      },
    },
  },
});

/** A plugin that runs every delivery, recording it in `runs` as `type@effectId`. */
function recording(runs: string[]) {
  return (_target: string, event: EventObject, _from: unknown, effectId?: string) => () => {
    runs.push(`${event.type}@${effectId}`);
  };
}

/** A store of pingers at `path` whose plugin is down: every delivery fails. */
function openPluginDown(path: string, clock?: VirtualClock): Promise<Store> {
  return openStore({
    path,
    machines: [pinger],
    onError: () => {},
    clock,
    onSend: () => () => Promise.reject(new Error("the plugin is down")),
  });
}

backendTest("outbox: a send runs after its commit, once; not for an uncommitted one", async (b) => {
  const runs: string[] = [];
  const store = await openStore({
    path: await b.path(),
    machines: [pinger],
    onError: () => {},
    onSend: recording(runs),
  });
  try {
    await store.create("pinger", "p1");
    const ack = await store.send("p1", "PING");
    await waitFor("the delivery", () => runs.length === 1);
    assert.deepEqual(runs, [`ping@p1:send:${ack.seq}:0`]);
    await assert.rejects(store.send("p1", "BOOM"), /holds at most/);
    // A committed send runs right after its commit, or later from the outbox: with the outbox
    // empty (the delivered PING removed, nothing of BOOM written), nothing of BOOM can run.
    await waitFor("a delivered send to leave the outbox", async () => {
      for await (const _ of store.backend.list({ prefix: K.outboxPrefix("p1") })) return false;
      return true;
    });
    assert.deepEqual(runs, [`ping@p1:send:${ack.seq}:0`], "no delivery without the commit");
  } finally {
    await store.close();
  }
});

backendTest(
  "outbox: a send whose delivery failed runs again, same id, after a restart",
  async (b) => {
    const path = await b.path();
    const first = await openPluginDown(path);
    await first.create("pinger", "p2");
    const ack = await first.send("p2", "PING");
    await first.close();
    const backend = await openBackend(path);
    const pending = [];
    for await (const e of backend.list({ prefix: K.outboxPrefix("p2") })) pending.push(e.key[3]);
    await backend.close();
    assert.deepEqual(pending, [`p2:send:${ack.seq}:0`], "kept in the outbox");
    const runs: string[] = [];
    const second = await openStore({
      path,
      machines: [pinger],
      timerPollMs: 10,
      onSend: recording(runs),
    });
    try {
      // Nobody touches the instance: the poller finds its outbox and loads it.
      await waitFor("the redelivery", () => runs.length === 1);
      assert.deepEqual(runs, [`ping@p2:send:${ack.seq}:0`]);
      await waitFor("the outbox emptied", async () => {
        for await (const _ of second.backend.list({ prefix: K.outboxPrefix("p2") })) return false;
        return true;
      });
    } finally {
      await second.close();
    }
  },
);

backendTest(
  "outbox: a failed delivery is recorded on its record, shown by get, and kept for the next load",
  async (b) => {
    const path = await b.path();
    const first = await openPluginDown(path, new VirtualClock(5_000));
    let effectId = "";
    try {
      await first.create("pinger", "p3");
      const ack = await first.send("p3", "PING");
      effectId = `p3:send:${ack.seq}:0`;
      await waitFor("the failure recorded", async () => {
        return (await first.get("p3"))?.failedEffects !== undefined;
      });
      assert.deepEqual((await first.get("p3"))?.failedEffects, [{
        effectId,
        target: "plugin:sink.take",
        event: "ping",
        attempts: 1,
        error: "the plugin is down",
        at: 5_000,
      }]);
      // A later commit without sends keeps the record's outbox flag: the next load runs it.
      await first.send("p3", "NOTHING");
    } finally {
      await first.close();
    }
    const runs: string[] = [];
    const second = await openStore({
      path,
      machines: [pinger],
      onSend: recording(runs),
    });
    try {
      await second.send("p3", "NOTHING"); // loads it
      await waitFor("the redelivery", () => runs.length === 1);
      assert.deepEqual(runs, [`ping@${effectId}`]);
      await waitFor("no failed effect left", async () => {
        return (await second.get("p3"))?.failedEffects === undefined;
      });
    } finally {
      await second.close();
    }
  },
);

backendTest("outbox: deleting an instance drops its undelivered sends", async (b) => {
  let deliveries = 0;
  const store = await openStore({
    path: await b.path(),
    machines: [pinger],
    onError: () => {},
    onSend: () => () => {
      deliveries++;
      throw new Error("sink down");
    },
  });
  try {
    await store.create("pinger", "p1");
    await store.send("p1", "PING");
    const outbox = async () => {
      const keys = [];
      for await (const e of store.backend.list({ prefix: K.outboxPrefix("p1") })) keys.push(e.key);
      return keys;
    };
    await waitFor("the failed delivery", () => deliveries === 1);
    assert.equal((await outbox()).length, 1, "the failed send waits in the outbox");
    assert.equal(await store.delete("p1"), true);
    // Nothing of p1 is left for the timer poller to load (it would find no instance).
    assert.deepEqual(await outbox(), []);
    assert.equal(await store.get("p1"), null);
  } finally {
    await store.close();
  }
});
