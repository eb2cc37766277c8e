// Effect ids (issue #11): an invoked function gets a stable id, the same when it runs again
// after a restore; a plugin action called for an invocation sees it as `ctx.effectId`; the
// result is applied once, under an event id derived from it.
import assert from "node:assert/strict";
import { defineMachine, type Machine, pluginAction } from "../../mod.ts";
import { openStore } from "../../lib/persist/store.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

backendTest("an invocation restarted by a reopened store keeps its effect id", async (b) => {
  const calls: string[] = [];
  let answer: ((value: string) => void) | null = null;
  const job = defineMachine({
    id: "job",
    context: { result: "" },
    states: {
      idle: { on: { RUN: "working" } },
      working: {
        invoke: {
          id: "work",
          // Never answers the first time (the process "dies"); answers the second.
          src: ({ effectId }) => {
            calls.push(effectId);
            return calls.length === 1
              ? new Promise<string>(() => {})
              : new Promise<string>((r) => answer = r);
          },
          onDone: {
            target: "done",
            actions: ({ context, event }) => context.result = String(event.output),
          },
        },
      },
      done: {},
    },
  });
  const path = await b.path();
  const first = await openStore({ path, machines: [job] });
  await first.create("job", "j1");
  await first.send("j1", "RUN");
  await first.close();
  assert.deepEqual(calls, ["j1:work:1"], "named after the entry that started it");
  const second = await openStore({ path, machines: [job] });
  try {
    await second.get("j1"); // loads it: the invocation starts again
    assert.deepEqual(calls, ["j1:work:1", "j1:work:1"], "the same effect, the same id");
    answer!("ok");
    await waitFor("the result", async () => (await second.get("j1"))?.configuration[0] === "done");
    const journal = await second.history("j1");
    const results = journal.filter((e) => e.kind === "invoke");
    assert.equal(results.length, 1);
    assert.equal(results[0].eventId, "fx:j1:work:1");
  } finally {
    await second.close();
  }
});

/** Invokes the recorder plugin's `effect` action, which answers with its `ctx.effectId`. */
const asker = defineMachine({
  id: "asker",
  context: { result: null as unknown },
  states: {
    idle: {
      on: {
        EFFECT: "effecting",
        // Two sends to a plugin in one transition: numbered after the entry.
        NOTE: {
          actions: [
            ({ send }) => send({ type: "note" }, { to: "plugin:recorder.remember" }),
            ({ send }) => send({ type: "note" }, { to: "plugin:recorder.remember" }),
          ],
        },
      },
    },
    effecting: {
      invoke: {
        src: pluginAction("recorder.effect"),
        onDone: { target: "idle", actions: ({ context, event }) => context.result = event.output },
      },
    },
  },
});

Deno.test("a plugin action called for an invocation sees its effect id as ctx.effectId", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-effects-" });
  const rt = await Runtime.open({
    projectDir: `${ROOT}/tests/fixtures/runtime`,
    kv: `${dir}/state.kv`,
    machines: [],
    // extraMachines is typed Machine<Record<string, unknown>>[]: a typed context needs a cast.
    extraMachines: [asker as unknown as Machine],
    plugins: ["plugins"],
    log: () => {},
  });
  try {
    await rt.spawn("asker", "c1");
    const sent = await rt.send("c1", "EFFECT");
    await waitFor("the answer", async () => (await rt.get("c1"))?.configuration[0] === "idle");
    const context = (await rt.get("c1"))!.context as { result: { effectId: string } };
    const effectId = context.result.effectId;
    assert.match(effectId, new RegExp(`^c1:.+:${sent.seq}$`));
    const last = (await rt.history("c1")).at(-1)!;
    assert.equal(last.kind, "invoke");
    assert.equal(last.eventId, `fx:${effectId}`);
    const noted = await rt.send("c1", "NOTE");
    await waitFor(
      "the sends",
      async () => ((await rt.call("recorder", "effects")) as unknown[]).length === 2,
    );
    assert.deepEqual(await rt.call("recorder", "effects"), [
      `c1:send:${noted.seq}:0`,
      `c1:send:${noted.seq}:1`,
    ]);
  } finally {
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});
