// Replay across a redrive: the redrive replaces the instance's state (back before the failed
// invocation), so a replay goes on from its checkpoint, and the journal replays without a
// difference under the same definition.
import assert from "node:assert/strict";
import { openStore } from "../../lib/persist/store.ts";
import { replayJournals } from "../../lib/testing/replay.ts";
import { flakyJob } from "../persist/_flaky_job.ts";
import { waitFor } from "../_wait.ts";

Deno.test("replay: a journal with a redriven invocation replays without a difference", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-replay-redrive-" });
  try {
    const kv = `${dir}/state.kv`;
    const job = { ok: false, calls: 0 };
    const store = await openStore({ path: kv, machines: [flakyJob(job)] });
    try {
      await store.create("job", "j1");
      await waitFor(
        "the failure",
        async () => (await store.get("j1"))?.configuration[0] === "failed",
      );
      job.ok = true;
      await store.redrive("j1", { by: "ops" });
      await waitFor("the retry", async () => (await store.get("j1"))?.status === "done");
      assert.deepEqual(
        (await store.history("j1")).map((e) => [e.kind, e.event?.type ?? null]),
        [
          ["create", null],
          ["invoke", "error.platform.call"],
          ["redrive", null],
          ["invoke", "done.invoke.call"],
        ],
      );
    } finally {
      await store.close();
    }
    const calls = job.calls;
    const report = await replayJournals({ kv, machine: flakyJob(job) });
    assert.deepEqual(report.differences, []);
    assert.equal(report.ok, true);
    assert.equal(report.instances, 1);
    assert.equal(job.calls, calls, "a replay runs no invocation");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
