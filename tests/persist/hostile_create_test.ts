// The store's create refuses what it could not keep and read back (issue #14): ids it would
// store under another name, contexts nested too deep for its serializers or too large for the
// journal's first entry. Nothing is written, and the store goes on serving.
import assert from "node:assert/strict";
import { defineMachine } from "../../mod.ts";
import { openStore, StoreError } from "../../lib/persist/store.ts";
import { backendTest } from "./_backends.ts";

const box = defineMachine({ id: "box", initial: "closed", states: { closed: {} } });

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

backendTest("create: bad ids and contexts are refused, nothing written", async (b) => {
  const store = await openStore({ path: await b.path(), machines: [box] });
  try {
    const refused = async (id: string, context: Record<string, unknown>, re: RegExp) => {
      const e = await store.create("box", id, { context }).then(() => null, (e) => e);
      assert.ok(e instanceof StoreError, `${id}: ${e}`);
      assert.match(e.message, re);
      assert.equal(await store.get(id), null, `${id} was written`);
    };
    await refused("lone\uD800", {}, /a lone surrogate \(U\+D800\)/);
    await refused("nul\u0000", {}, /a control character \(U\+0000\)/);
    await refused("deep", nested(3_000), /nests deeper than 100 levels \(at context\.a\.a/);
    await refused("big", { blob: "x".repeat(70_000) }, /at most 60000 are kept/);
    // Just inside the limits: kept and read back.
    await store.create("box", "ok", { context: { ...nested(99), blob: "x".repeat(50_000) } });
    const ok = await store.get("ok");
    assert.deepEqual(ok?.configuration, ["closed"]);
    assert.equal((await store.list()).items.length, 1);
  } finally {
    await store.close();
  }
});
