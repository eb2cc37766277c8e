// The REPL's operator actions: cancel, fork, redrive, on an in-memory runtime.
import assert from "node:assert/strict";
import { counter } from "../fixtures/kv_counter.ts";
import { memorySession } from "./_memory_session.ts";

Deno.test("REPL cancel, fork and redrive: journaled by repl, mistakes one line", async () => {
  await using s = await memorySession([counter]);
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

  for (
    const [line, expected] of [
      ["cancel c1-now", /usage: cancel <id> <reason\.\.\.>/],
      ["fork c1 x y", /fork: the seq must be a whole number, not "x"/],
      ["redrive c1-now", /no failed invocation/],
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
