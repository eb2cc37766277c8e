// The balance rule (lib/cluster/balance.ts): rendezvous hashing over the live members.
import assert from "node:assert/strict";
import { preferredCounts, preferredOwner, rendezvousScore } from "../../lib/cluster/balance.ts";

Deno.test("balance: scores are stable unsigned 32-bit integers", () => {
  const s = rendezvousScore("node-a", 3);
  assert.equal(s, rendezvousScore("node-a", 3));
  assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  assert.notEqual(s, rendezvousScore("node-a", 4));
  assert.notEqual(s, rendezvousScore("node-b", 3));
});

Deno.test("balance: no nodes, one node, order does not matter", () => {
  assert.equal(preferredOwner([], 0), undefined);
  assert.equal(preferredOwner(["only"], 17), "only");
  for (let p = 0; p < 64; p++) {
    assert.equal(preferredOwner(["a", "b", "c"], p), preferredOwner(["c", "a", "b"], p));
  }
});

Deno.test("balance: a node leaving moves only its own partitions", () => {
  const all = ["n1", "n2", "n3", "n4"];
  const rest = ["n1", "n2", "n4"];
  for (let p = 0; p < 256; p++) {
    const before = preferredOwner(all, p)!;
    if (before !== "n3") assert.equal(preferredOwner(rest, p), before, `partition ${p}`);
  }
});

Deno.test("balance: partitions spread about evenly", () => {
  for (const n of [2, 3, 4, 8]) {
    const nodes = Array.from({ length: n }, (_, i) => `host-${i + 1}`);
    const counts = [...preferredCounts(nodes, 1024).values()];
    assert.equal(counts.reduce((x, y) => x + y, 0), 1024);
    const mean = 1024 / n;
    for (const c of counts) assert.ok(Math.abs(c - mean) < mean * 0.25, `${n} nodes: ${counts}`);
  }
});
