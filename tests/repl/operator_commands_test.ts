// The REPL's operator actions: cancel, fork, redrive, on a runtime over a Deno KV file and over
// PostgreSQL (`backendTest`): what the user types, what it prints, what the store then holds.
import assert from "node:assert/strict";
import type { Machine } from "../../lib/core/machine.ts";
import { counter } from "../fixtures/kv_counter.ts";
import { flakyJob } from "../persist/_flaky_job.ts";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { openSession } from "./_session.ts";

/** A REPL session over a runtime on the store at `kv`; `run(line)` gives what it printed. */
// deno-lint-ignore no-explicit-any
async function replOn(kv: string, machines: Machine<any, any>[]) {
  const { session, runtime, lines, errors, close } = await openSession([], {
    kv,
    extraMachines: machines,
  });
  const release = session.catchLaterErrors();
  return {
    runtime,
    async run(line: string): Promise<{ out: string; err: string }> {
      lines.length = 0;
      errors.length = 0;
      await session.execute(line);
      return { out: lines.join("\n"), err: errors.join("\n") };
    },
    async [Symbol.asyncDispose]() {
      await close();
      release();
    },
  };
}

backendTest("REPL cancel, fork and redrive: journaled by repl, mistakes one line", async (b) => {
  const job = { ok: false, calls: 0 };
  await using s = await replOn(await b.path(), [counter, flakyJob(job)]);
  assert.equal((await s.run("spawn counter c1")).err, "");
  await s.run("send c1 INC");

  const fork = await s.run("fork c1 0 c1-early");
  assert.equal(fork.err, "");
  assert.equal(fork.out, "c1-early forked from c1 at seq 0: idle");
  const latest = await s.run("fork c1 c1-now");
  assert.equal(latest.out, "c1-now forked from c1 at seq latest: counting.low");

  const cancel = await s.run("cancel c1 customer asked twice");
  assert.equal(cancel.err, "");
  assert.equal(cancel.out, "c1 cancelled (customer asked twice): counting.low");
  const info = await s.runtime.store.get("c1");
  assert.equal(info?.status, "cancelled");
  const last = (await s.runtime.store.history("c1")).at(-1);
  assert.equal(last?.by, "repl");
  assert.equal(last?.reason, "customer asked twice");
  assert.deepEqual((await s.runtime.store.forks("c1")).map((f) => f.id), ["c1-early", "c1-now"]);
  const refused = await s.run("send c1 INC");
  assert.deepEqual([refused.out, /cancelled/.test(refused.err)], ["", true], refused.err);

  // Redrive: the job's invocation failed; once the remote is back, redrive runs it again.
  assert.equal((await s.run("spawn job j1")).err, "");
  await waitFor(
    "the job's failure",
    async () => (await s.runtime.store.get("j1"))?.configuration[0] === "failed",
  );
  job.ok = true;
  const redrive = await s.run("redrive j1");
  assert.equal(redrive.err, "");
  assert.equal(redrive.out, "j1 redriven: working");
  await waitFor("the retry", async () => (await s.runtime.store.get("j1"))?.status === "done");
  assert.equal(job.calls, 2);
  const redriven = (await s.runtime.store.history("j1")).find((e) => e.kind === "redrive");
  assert.deepEqual([redriven?.by, redriven?.retried], ["repl", 1]);

  for (
    const [line, expected] of [
      ["cancel c1-now", /usage: cancel <id> <reason\.\.\.>/],
      ["fork c1 x y", /fork: the seq must be a whole number, not "x"/],
      ["redrive c1-now", /no failed invocation/],
      ["redrive j1", /no failed invocation/],
      ["redrive", /usage: redrive <id>/],
    ] as const
  ) {
    const r = await s.run(line);
    assert.match(r.err, expected, line);
    assert.equal(r.out, "", line);
  }

  const help = await s.run("help");
  for (const name of ["cancel <id> <reason...>", "fork <id> [seq] [newId]", "redrive <id>"]) {
    assert.ok(help.out.includes(name), name);
  }
});
