// Timers that are overdue when an instance's whole state is replaced (rollback, undo, import,
// migration) fire at once, in due order, exactly once; on both backends, on virtual time.
import assert from "node:assert/strict";
import { defineMachine, type JournalEntry, VirtualClock } from "../../mod.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { ReplSession } from "../../lib/repl/session.ts";
import { stepper } from "../fixtures/persist_timer_machine.ts";
import { backendTest, type TestBackend } from "./_backends.ts";
import { waitFor } from "../_wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function stateOf(store: Store, id: string): Promise<string> {
  return (await store.get(id))!.configuration.join(",");
}

/** A runtime (no plugins) on the stepper machine, in a fresh store, on `clock`. */
async function openRuntime(b: TestBackend, clock: VirtualClock): Promise<Runtime> {
  return await Runtime.open({
    projectDir: ROOT,
    kv: await b.path(),
    machines: ["tests/fixtures/persist_timer_machine.ts"],
    noPlugins: true,
    clock,
    log: () => {},
  });
}

function timerEntries(history: JournalEntry[]): JournalEntry[] {
  return history.filter((e) => e.kind === "timer");
}

backendTest("rollback to an overdue timer: it fires at once, exactly once", async (b) => {
  const clock = new VirtualClock(1_000);
  const store = await openStore({ path: await b.path(), machines: [stepper], clock });
  try {
    await store.create("stepper", "x");
    await store.send("x", "GO"); // seq 1: in b, the timer due at 1,300
    clock.advance(300);
    await waitFor("the first firing", async () => (await stateOf(store, "x")) === "c");
    clock.advance(1_000); // now 2,300: rolling back to seq 1 brings back a timer due at 1,300
    const back = await store.rollback("x", { seq: 1 });
    assert.deepEqual(back.configuration, ["b"], "the rollback itself lands in b");
    clock.advance(0);
    await waitFor("the overdue timer", async () => (await stateOf(store, "x")) === "c");
    // Time goes on: nothing fires again.
    clock.advance(10_000);
    await store.send("x", "NOTHING").catch(() => {});
    const history = await store.history("x");
    assert.deepEqual(history.map((e) => e.kind), [
      "create",
      "event",
      "timer",
      "rollback",
      "timer",
      "event",
    ]);
    assert.equal(timerEntries(history).length, 2);
    assert.equal(((await store.get("x"))!.context as { fired: number }).fired, 1);
  } finally {
    await store.close();
  }
});

backendTest("an overdue timer after a rollback fires after a restart too", async (b) => {
  const path = await b.path();
  const clock = new VirtualClock(1_000);
  let store = await openStore({ path, machines: [stepper], clock, timerPollMs: 10 });
  try {
    await store.create("stepper", "x");
    await store.send("x", "GO");
    clock.advance(300);
    await waitFor("the first firing", async () => (await stateOf(store, "x")) === "c");
    clock.advance(500);
    await store.rollback("x", { seq: 1 }); // armed, but the clock does not move: not fired
    await store.close();
    // Another process opens the store later: the poller finds the overdue timer and loads it.
    const later = new VirtualClock(5_000);
    store = await openStore({ path, machines: [stepper], clock: later, timerPollMs: 10 });
    await waitFor("the instance loaded by the poller", async () => {
      later.advance(0);
      return (await stateOf(store, "x")) === "c";
    });
    assert.equal(timerEntries(await store.history("x")).length, 2);
  } finally {
    await store.close();
  }
});

backendTest("undo: the timer of the state undone to fires again", async (b) => {
  const clock = new VirtualClock(0);
  const runtime = await openRuntime(b, clock);
  try {
    const store = runtime.store;
    await store.create("stepper", "u");
    await store.send("u", "GO");
    clock.advance(300);
    await waitFor("the first firing", async () => (await stateOf(store, "u")) === "c");
    await store.send("u", "BACK"); // seq 3: b again, a new timer due at 600
    clock.advance(400); // fires: c
    await waitFor("the second firing", async () => (await stateOf(store, "u")) === "c");
    // Undo the timer's transition: back in b with the timer due at 600, overdue at 700.
    const undone = await runtime.undo("u");
    assert.deepEqual(undone.configuration, ["b"]);
    clock.advance(0);
    await waitFor("the overdue timer after undo", async () => (await stateOf(store, "u")) === "c");
    assert.equal(timerEntries(await store.history("u")).length, 3);
  } finally {
    await runtime.close();
  }
});

backendTest("import: an overdue timer of an imported instance fires once", async (b) => {
  const clock = new VirtualClock(1_000);
  const source = await openStore({ path: await b.path(), machines: [stepper], clock });
  const records = [];
  try {
    await source.create("stepper", "i");
    await source.send("i", "GO");
    for await (const r of source.export()) records.push(r);
  } finally {
    await source.close();
  }
  const later = new VirtualClock(9_000);
  const target = await openStore({ path: await b.path(), machines: [stepper], clock: later });
  try {
    await target.import(records);
    assert.equal(await stateOf(target, "i"), "b");
    later.advance(0);
    await waitFor("the imported timer", async () => (await stateOf(target, "i")) === "c");
    later.advance(10_000);
    assert.equal(timerEntries(await target.history("i")).length, 1);
  } finally {
    await target.close();
  }
});

backendTest("migration: an overdue timer fires once under the new definition", async (b) => {
  const path = await b.path();
  const clock = new VirtualClock(1_000);
  const v1 = await openStore({ path, machines: [stepper], clock });
  try {
    await v1.create("stepper", "m");
    await v1.send("m", "GO");
  } finally {
    await v1.close();
  }
  const stepper2 = defineMachine(
    {
      ...stepper.config,
      version: 2,
      states: { ...stepper.config.states, d: {} },
      migrations: { 1: (s) => ({ ...s, version: 2 }) },
    } as typeof stepper.config,
  );
  const later = new VirtualClock(4_000);
  const v2 = await openStore({ path, machines: [stepper2], clock: later });
  try {
    assert.equal(await stateOf(v2, "m"), "b");
    later.advance(0);
    await waitFor("the migrated timer", async () => (await stateOf(v2, "m")) === "c");
    const kinds = (await v2.history("m")).map((e) => e.kind);
    assert.deepEqual(kinds, ["create", "event", "migration", "timer"]);
  } finally {
    await v2.close();
  }
});

backendTest("REPL: rollback to a state whose timer is overdue, then it fires", async (b) => {
  const clock = new VirtualClock(0);
  const runtime = await openRuntime(b, clock);
  const lines: string[] = [];
  const errors: string[] = [];
  const out = { line: (t: string) => lines.push(t), error: (t: string) => errors.push(t) };
  const session = new ReplSession(runtime, out, { timings: false, cwd: ROOT });
  try {
    assert.equal(await session.execute("spawn stepper r"), "ok");
    assert.equal(await session.execute("send r GO"), "ok");
    clock.advance(300);
    await waitFor("the first firing", async () => (await stateOf(runtime.store, "r")) === "c");
    clock.advance(1_000);
    assert.equal(await session.execute("rollback r 1"), "ok");
    assert.match(lines.at(-1)!, /r rolled back to seq 1: b/);
    clock.advance(0);
    await waitFor("the overdue timer", async () => (await stateOf(runtime.store, "r")) === "c");
    assert.deepEqual(errors, []);
  } finally {
    await runtime.close();
  }
});
