// The testing harness: one virtual clock for a whole store or runtime. Durable timers,
// invocations and plugin schedules fire when virtual time passes, without real waiting.
import assert from "node:assert/strict";
import { defineMachine } from "../../core.ts";
import { pluginAction } from "../../lib/runtime/runtime.ts";
import { SettleError, testRuntime, testStore } from "../../lib/testing/harness.ts";

const PLUGINS = new URL("../fixtures/plugins/testing/", import.meta.url).pathname;

const kettle = defineMachine({
  id: "kettle",
  initial: "heating",
  states: {
    heating: { after: { "1h": "boiled" } },
    boiled: { type: "final" },
  },
});

const relay = defineMachine({
  id: "relay",
  initial: "a",
  states: {
    a: { after: { 1000: "b" } },
    b: { after: { "2s": "c" } },
    c: {},
  },
});

const metronome = defineMachine({
  id: "metronome",
  initial: "beat",
  context: { beats: 0 },
  states: {
    beat: {
      entry: ({ context }) => void context.beats++,
      after: { 1000: "beat" },
    },
  },
});

Deno.test("testStore: an `after: 1h` fires in virtual time; the journal says when", async () => {
  await using t = await testStore({ machines: [kettle], start: 0 });
  await t.store.create("kettle", "k1");
  await t.advance("59m");
  assert.deepEqual((await t.store.get("k1"))?.configuration, ["heating"]);
  await t.advance("1m");
  const info = await t.store.get("k1");
  assert.deepEqual(info?.configuration, ["boiled"]);
  assert.equal(info?.status, "done");
  const journal = await t.store.history("k1");
  assert.deepEqual(journal.map((e) => [e.kind, e.time]), [["create", 0], ["timer", 3_600_000]]);
  assert.equal(t.clock.now(), 3_600_000);
});

Deno.test("testStore: settle runs a chain of timers, each at its own time", async () => {
  await using t = await testStore({ machines: [relay, kettle] });
  const start = t.clock.now();
  await t.store.create("relay", "r1");
  await t.store.create("kettle", "k1");
  await t.settle();
  assert.deepEqual((await t.store.get("r1"))?.configuration, ["c"]);
  assert.deepEqual((await t.store.get("k1"))?.configuration, ["boiled"]);
  const times = (await t.store.history("r1")).map((e) => e.time - start);
  assert.deepEqual(times, [0, 1000, 3000]);
  // Nothing is pending: the clock stopped at the last firing.
  assert.equal(t.clock.pending, 0);
  assert.equal(t.clock.now() - start, 3_600_000);
});

Deno.test("testStore: stored timers of instances not in memory fire (the poller's job)", async () => {
  await using t = await testStore({ machines: [kettle] });
  await t.store.create("kettle", "k1");
  // A hot reload drops the instance from memory: only the stored due index knows its timer.
  await t.store.replaceMachine(kettle);
  assert.equal(t.clock.pending, 0);
  await t.advance("2h");
  assert.deepEqual((await t.store.get("k1"))?.configuration, ["boiled"]);
});

Deno.test("testStore: settle on a machine that reschedules forever throws, naming it", async () => {
  await using t = await testStore({ machines: [metronome] });
  await t.store.create("metronome", "m1");
  await assert.rejects(
    () => t.settle({ maxRounds: 25 }),
    (e: unknown) => {
      assert.ok(e instanceof SettleError);
      assert.equal(e.rounds, 25);
      assert.match(e.message, /settle\(\): timers were still due after 25 rounds/);
      assert.match(e.message, /instance "m1": after\.1000\.beat \(timer\) fired 25 times/);
      assert.match(e.message, /instance "m1": timer :after:beat:1000 due at/);
      return true;
    },
  );
  // advance has an end: the same machine just runs for that long.
  await t.advance(10_000);
  const info = await t.store.get("m1");
  assert.equal((info?.context as { beats: number }).beats, 1 + 25 + 10);
});

Deno.test("testStore: advance rejects what is not a duration", async () => {
  await using t = await testStore({ machines: [] });
  await assert.rejects(() => t.advance("soon"), RangeError);
  await assert.rejects(() => t.advance(-1), RangeError);
});

const counter = defineMachine({
  id: "counter",
  initial: "idle",
  context: { ticks: 0, doubled: 0 },
  states: {
    idle: {
      on: {
        TICK: { actions: ({ context }) => void context.ticks++ },
        ASK: "asking",
      },
    },
    asking: {
      invoke: {
        src: pluginAction("ticker.double"),
        input: 21,
        onDone: {
          target: "idle",
          actions: ({ context, event }) => void (context.doubled = event.output as number),
        },
        onError: "failed",
      },
      after: { "10s": "failed" },
    },
    failed: {},
  },
});

Deno.test("testRuntime: plugin schedules and invocations run on the virtual clock", async () => {
  await using t = await testRuntime({ machines: [counter], plugins: [PLUGINS], log: () => {} });
  assert.deepEqual(t.runtime.plugins.list().map((p) => [p.name, p.state]), [
    ["ticker", "active"],
  ]);
  await t.runtime.spawn("counter", "c1");
  // The plugin schedules a TICK for c1 every minute, on the runtime's (virtual) clock.
  await t.runtime.call("ticker", "watch", { instance: "c1", every: 60_000 });
  await t.advance("3m");
  let info = await t.runtime.get("c1");
  assert.equal((info?.context as { ticks: number }).ticks, 3);
  // An invocation of a plugin action: its result is applied before settle returns.
  await t.runtime.send("c1", "ASK");
  await t.flush();
  info = await t.runtime.get("c1");
  assert.deepEqual(info?.configuration, ["idle"]);
  assert.equal((info?.context as { doubled: number }).doubled, 42);
  const kinds = (await t.runtime.history("c1")).map((e) => e.kind);
  assert.deepEqual(kinds.slice(-2), ["event", "invoke"]);
  // The plugin's every-minute schedule never ends: settle says so instead of spinning.
  await assert.rejects(
    () => t.settle({ maxRounds: 5 }),
    (e: unknown) => {
      assert.ok(e instanceof SettleError);
      assert.match(e.message, /instance "c1": TICK \(event\) fired 5 times/);
      assert.match(e.message, /no stored timer behind them \(a plugin's schedule\.every/);
      return true;
    },
  );
  info = await t.runtime.get("c1");
  assert.equal((info?.context as { ticks: number }).ticks, 3 + 5);
});
