// `statecraft instance redrive` of failed effects, as a user runs it, on a Deno KV file and on
// PostgreSQL: the CLI (inspect mode: it runs no sends) journals the redrive and says the effect
// is queued; a running store runs it when it next loads the instance, with the same effect id.
import assert from "node:assert/strict";
import type { EventObject } from "../../mod.ts";
import { openStore } from "../../lib/persist/store.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { MOD_URL, noStackTrace, runDeno, STORE_FLAGS } from "./_run_cli.ts";

const MACHINE = `import { defineMachine } from "${MOD_URL}";
export const notifier = defineMachine({
  id: "notifier",
  initial: "idle",
  states: {
    idle: {
      on: { PING: { actions: ({ send }) => send({ type: "ping" }, { to: "plugin:sink.take" }) } },
    },
  },
});
`;

backendTest("instance redrive --effect: journaled by the CLI, run by the next load", async (b) => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_redrive_" });
  try {
    const machines = `${dir}/notifier.ts`;
    await Deno.writeTextFile(machines, MACHINE);
    const { notifier } = await import(machines);
    const path = await b.path();
    const runs: string[] = [];
    const plugin = { down: true };
    const open = () =>
      openStore({
        path,
        machines: [notifier],
        onError: () => {},
        onSend: (_target: string, event: EventObject, _from: unknown, id?: string) => () => {
          runs.push(`${event.type}@${id}`);
          return plugin.down ? Promise.reject(new Error("sink is down")) : undefined;
        },
      });
    let store = await open();
    await store.create("notifier", "n1");
    await store.send("n1", "PING");
    await waitFor("the failure", async () => (await store.get("n1"))?.failedEffects !== undefined);
    await store.close();

    const cli = (...args: string[]) =>
      runDeno(
        [
          "run",
          ...STORE_FLAGS,
          "cli.ts",
          "instance",
          "redrive",
          ...args,
          "--kv",
          path,
          "--machines",
          machines,
        ],
        undefined,
        { STATECRAFT_KEY: "" },
      );
    let r = await cli("n1", "--effect", "n1:send:1:0", "--invocation");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--effect and --invocation/);
    assert.ok(noStackTrace(r.stderr), r.stderr);
    r = await cli("--machine", "notifier", "--effect", "n1:send:1:0");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--effect names an effect of one instance/);
    r = await cli("n1", "--effect", "n1:send:1:0", "--by", "alice");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "effect n1:send:1:0  queued\nn1  active  idle\n");

    plugin.down = false;
    store = await open();
    try {
      const last = (await store.history("n1")).at(-1)!;
      assert.deepEqual([last.kind, last.by, last.effects], ["redrive", "alice", ["n1:send:1:0"]]);
      await store.send("n1", "NOTHING"); // loads it: the outbox runs
      await waitFor("the redelivery", () => runs.length === 2);
      assert.deepEqual(runs, ["ping@n1:send:1:0", "ping@n1:send:1:0"]);
      await waitFor("no failed effect left", async () => {
        return (await store.get("n1"))?.failedEffects === undefined;
      });
      const none = await cli("n1");
      assert.equal(none.code, 1);
      assert.match(none.stderr, /nothing to retry/);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
