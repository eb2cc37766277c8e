// Livelocks across instances (lib/persist/livelock.ts): two instances sending to each other
// through the store (`instance:<id>`) and an invoked function that answers at once and is
// invoked again by its own answer are cut short after `maxCausalHops` hops with no outside
// event; a finite chain within the bound is not; the store stays consistent and takes outside
// events afterwards; a restart does not reset the count.
import assert from "node:assert/strict";
import { defineMachine, LivelockError } from "../../mod.ts";
import { type DurableStore, openStore } from "../../lib/persist/store.ts";
import { CausalLivelockError } from "../../lib/persist/livelock.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { backendTest } from "./_backends.ts";
import { waitFor } from "../_wait.ts";

/** Generous: the chains here are a few hundred commits. */
const BOUND = { ms: 60_000 };

/** Hits the ball back to `peer` (an instance id) forever; records a refusal it hears of. */
const player = defineMachine({
  id: "player",
  context: { peer: "", hits: 0, refused: "" },
  initial: "playing",
  states: {
    playing: {
      on: {
        BALL: {
          actions: [
            ({ context }) => void context.hits++,
            ({ send, context }) => send({ type: "BALL" }, { to: `instance:${context.peer}` }),
          ],
        },
        "error.communication": {
          actions: ({ context, event }) =>
            context.refused = (event.error as { message: string }).message,
        },
      },
    },
  },
});

/** Like `player`, but hits the ball back from a zero-delay timer of the state it enters. */
const slowPlayer = defineMachine({
  id: "slowPlayer",
  context: { peer: "", hits: 0 },
  initial: "idle",
  states: {
    idle: { on: { BALL: "holding" } },
    holding: {
      after: {
        0: {
          target: "idle",
          actions: [
            ({ context }) => void context.hits++,
            ({ send, context }) => send({ type: "BALL" }, { to: `instance:${context.peer}` }),
          ],
        },
      },
    },
  },
});

/** Passes `TOKEN` on to `next` once (none: keeps it). */
const relay = defineMachine({
  id: "relay",
  context: { next: "" },
  initial: "waiting",
  states: {
    waiting: {
      on: {
        TOKEN: {
          target: "passed",
          actions: ({ send, context }) => {
            if (context.next !== "") send({ type: "TOKEN" }, { to: `instance:${context.next}` });
          },
        },
      },
    },
    passed: {},
  },
});

/** `working` invokes a function that resolves at once, and re-enters itself on its result. */
const looper = defineMachine({
  id: "looper",
  context: { rounds: 0 },
  initial: "working",
  states: {
    working: {
      invoke: {
        id: "fetch",
        src: () => Promise.resolve(1),
        onDone: { target: "working", actions: ({ context }) => void context.rounds++ },
      },
      on: { STOP: "stopped" },
    },
    stopped: {},
  },
});

interface Reported {
  error: Error;
  instance: string;
}

function open(
  path: string,
  reported: Reported[],
  maxCausalHops: number,
): Promise<DurableStore> {
  return openStore({
    path,
    machines: [player, slowPlayer, relay, looper],
    maxCausalHops,
    onError: (error, instance) => reported.push({ error, instance }),
  }) as Promise<DurableStore>;
}

/** The livelock errors reported so far. */
function livelocks(reported: Reported[]): (Reported & { error: CausalLivelockError })[] {
  return reported.filter((r) => r.error instanceof CausalLivelockError) as (Reported & {
    error: CausalLivelockError;
  })[];
}

async function context<T>(store: DurableStore, id: string): Promise<T> {
  return (await store.get(id))!.context as T;
}

backendTest("livelock: two instances sending to each other forever are cut short", async (b) => {
  const reported: Reported[] = [];
  const limit = 150;
  const store = await open(await b.path(), reported, limit);
  try {
    await store.create("player", "a", { context: { peer: "b" } });
    await store.create("player", "b", { context: { peer: "a" } });
    await store.send("a", "BALL"); // from outside: the chain starts at 0
    const found = await waitFor("the LivelockError", () => livelocks(reported)[0], BOUND);
    const e = found.error;
    assert.equal(e instanceof LivelockError, true, "a LivelockError");
    assert.equal(e.limit, limit);
    assert.equal(e.hops, limit + 1);
    assert.equal(e.refused.kind, "send");
    assert.equal(e.refused.event, "BALL");
    assert.equal(found.instance, e.refused.from, "reported with the sender's id");
    assert.deepEqual(new Set(e.chain.map((l) => l.instance)), new Set(["a", "b"]));
    assert.ok(e.chain.every((l) => l.event === "BALL"));
    assert.match(e.message, /livelock across instances/);
    assert.match(e.message, /maxCausalHops is 150/);
    assert.match(e.message, /"a" on BALL -> "b" on BALL/);
    await store.idle();
    // Consistent: every hop applied once (hops 0..limit), the sender heard of the refusal.
    const a = await context<{ hits: number; refused: string }>(store, "a");
    const bb = await context<{ hits: number; refused: string }>(store, "b");
    assert.equal(a.hits + bb.hits, limit + 1);
    assert.match(e.refused.from === "a" ? a.refused : bb.refused, /livelock across instances/);
    assert.equal((await store.get("a"))!.failedEffects, undefined, "nothing left undelivered");
    assert.equal((await store.get("b"))!.failedEffects, undefined);
    const journal = await store.history("b");
    assert.equal(journal.length, 1 + bb.hits);
    assert.ok(journal.slice(1).every((j) => j.by === "instance:a" || j.by === "api"));
    assert.equal(JSON.stringify(journal).includes("hops"), false, "no hop count in the journal");
    // An outside event starts a new chain: it is taken, and runs to the bound again.
    await store.send("b", "BALL");
    await waitFor("the second LivelockError", () => livelocks(reported).length === 2, BOUND);
    await store.idle();
    const a2 = await context<{ hits: number }>(store, "a");
    const b2 = await context<{ hits: number }>(store, "b");
    assert.equal(a2.hits + b2.hits, 2 * (limit + 1));
  } finally {
    await store.close();
  }
});

backendTest(
  "livelock: a zero-delay timer between two instances does not reset the chain",
  async (b) => {
    const reported: Reported[] = [];
    const limit = 60;
    const store = await open(await b.path(), reported, limit);
    try {
      await store.create("slowPlayer", "a", { context: { peer: "b" } });
      await store.create("slowPlayer", "b", { context: { peer: "a" } });
      await store.send("a", "BALL");
      const found = await waitFor("the LivelockError", () => livelocks(reported)[0], BOUND);
      assert.equal(found.error.hops, limit + 1);
      await store.idle();
      const a = await context<{ hits: number }>(store, "a");
      const bb = await context<{ hits: number }>(store, "b");
      assert.equal(a.hits + bb.hits, limit + 1);
    } finally {
      await store.close();
    }
  },
);

backendTest("livelock: a restart does not reset a chain between instances", async (b) => {
  const reported: Reported[] = [];
  const limit = 1000;
  const path = await b.path();
  let store = await open(path, reported, limit);
  try {
    await store.create("player", "a", { context: { peer: "b" } });
    await store.create("player", "b", { context: { peer: "a" } });
    await store.send("a", "BALL");
    await waitFor("the chain to be under way", async () => {
      return (await context<{ hits: number }>(store, "b")).hits >= 20;
    }, BOUND);
  } finally {
    await store.close(); // mid-chain: the send in flight stays in its sender's outbox
  }
  assert.deepEqual(livelocks(reported), [], "closed before the chain reached its bound");
  store = await open(path, reported, limit);
  try {
    // Loading the instances runs what their outbox kept, with the hop count it was sent with.
    await store.get("a");
    await store.get("b");
    const found = await waitFor("the LivelockError", () => livelocks(reported)[0], BOUND);
    assert.equal(found.error.hops, limit + 1);
    await store.idle();
    const a = await context<{ hits: number }>(store, "a");
    const bb = await context<{ hits: number }>(store, "b");
    assert.equal(
      a.hits + bb.hits,
      limit + 1,
      "each hop applied once, and counted across the restart",
    );
  } finally {
    await store.close();
  }
});

backendTest(
  "livelock: a finite chain of 50 instances within the bound is not refused",
  async (b) => {
    const reported: Reported[] = [];
    // r0 takes TOKEN from outside (hop 0) ... r49 takes it as hop 49: the bound is exactly met.
    const store = await open(await b.path(), reported, 49);
    try {
      for (let i = 0; i < 50; i++) {
        await store.create("relay", `r${i}`, { context: { next: i < 49 ? `r${i + 1}` : "" } });
      }
      await store.send("r0", "TOKEN");
      await waitFor("the token to reach r49", async () => {
        return (await store.get("r49"))!.configuration.includes("passed");
      }, BOUND);
      await store.idle();
      assert.deepEqual(reported, []);
      for (let i = 0; i < 50; i++) {
        assert.deepEqual((await store.get(`r${i}`))!.configuration, ["passed"]);
      }
      const last = await store.history("r49");
      assert.equal(last.at(-1)!.by, "instance:r48");
    } finally {
      await store.close();
    }
  },
);

backendTest(
  "livelock: an invocation answered at once and invoked again forever ends",
  async (b) => {
    const reported: Reported[] = [];
    const limit = 100;
    const path = await b.path();
    let store = await open(path, reported, limit);
    try {
      await store.create("looper", "l"); // its first invocation starts from outside
      const found = await waitFor("the LivelockError", () => livelocks(reported)[0], BOUND);
      const e = found.error;
      assert.equal(e instanceof LivelockError, true, "a LivelockError");
      assert.equal(found.instance, "l");
      assert.equal(e.refused.kind, "invoke");
      assert.equal(e.refused.event, "done.invoke.fetch");
      assert.equal(e.hops, limit + 1);
      assert.ok(e.chain.every((l) => l.instance === "l" && l.event === "done.invoke.fetch"));
      await store.idle();
      // Results 1..limit applied, the next one refused: the instance waits in its state.
      const info = (await store.get("l"))!;
      assert.equal((info.context as { rounds: number }).rounds, limit);
      assert.deepEqual(info.configuration, ["working"]);
      assert.equal(info.seq, limit);
    } finally {
      await store.close();
    }
    // A restart runs the invocation again; its result still carries the chain's count.
    store = await open(path, reported, limit);
    try {
      await store.get("l");
      await waitFor(
        "the result after the restart refused",
        () => livelocks(reported).length >= 2,
        BOUND,
      );
      await store.idle();
      const info = (await store.get("l"))!;
      assert.equal((info.context as { rounds: number }).rounds, limit);
      // Outside events are taken.
      const ack = await store.send("l", "STOP");
      assert.deepEqual(ack.configuration, ["stopped"]);
      assert.equal(ack.seq, limit + 1);
    } finally {
      await store.close();
    }
  },
);

backendTest(
  "livelock: the runtime passes maxCausalHops (statecraft.yaml limits) to its store",
  async (b) => {
    const lines: string[] = [];
    const project = await Deno.makeTempDir({ prefix: "statecraft-livelock-project-" });
    await Deno.writeTextFile(`${project}/statecraft.yaml`, "limits:\n  maxCausalHops: 40\n");
    const runtime = await Runtime.open({
      projectDir: project,
      kv: await b.path(),
      machines: [],
      noPlugins: true,
      extraMachines: [player] as never[],
      log: (level, message) => lines.push(`${level}: ${message}`),
    });
    try {
      await runtime.spawn("player", "a", { context: { peer: "b" } });
      await runtime.spawn("player", "b", { context: { peer: "a" } });
      await runtime.send("a", "BALL");
      const line = await waitFor(
        "the livelock logged",
        () => lines.find((l) => l.includes("livelock across instances")),
        BOUND,
      );
      assert.match(line, /^error: instance "[ab]": livelock across instances: .*hop 41 /);
      const hits = async (id: string) =>
        ((await runtime.get(id))!.context as { hits: number }).hits;
      // Hops 0..40 applied, once each (the refused one was never delivered).
      await waitFor("every hop committed", async () => await hits("a") + await hits("b") === 41);
    } finally {
      await runtime.close();
      await Deno.remove(project, { recursive: true });
    }
  },
);
