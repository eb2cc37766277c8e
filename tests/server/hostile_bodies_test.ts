/**
 * Request bodies from issue #14 that ended in a 500 or were taken and broke later: JSON nested
 * thousands deep (the store's serializers overflow, or store an instance no one can read
 * back), an id with a lone surrogate (stored as U+FFFD, answered with a 500 after the
 * instance was created), a context too large for the journal's first entry, invalid UTF-8.
 * Each is now a 4xx naming the field, and nothing is left behind.
 */
import assert from "node:assert/strict";
import { createApp } from "../../lib/server/app.ts";
import { memoryRuntime } from "../_memory_runtime.ts";
import { door, tally } from "../fixtures/server/machines.ts";

async function open() {
  const runtime = await memoryRuntime([door, tally]);
  const logged: string[] = [];
  const app = createApp(runtime, { log: (m) => logged.push(m) });
  const post = async (path: string, body: BodyInit) => {
    const res = await app.request(path, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    return { status: res.status, body: await res.json() };
  };
  await post("/instances", JSON.stringify({ machine: "tally", id: "t" }));
  return {
    runtime,
    app,
    post,
    logged,
    [Symbol.asyncDispose]: () => runtime.close(),
  };
}

const deep = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

Deno.test("JSON nested deep: 400 naming the field; nothing created; the list still reads", async () => {
  await using t = await open();
  for (const n of [1_000, 3_000, 100_000]) {
    const r = await t.post("/instances", `{"machine":"door","id":"d${n}","context":${deep(n)}}`);
    assert.equal(r.status, 400, `${n}`);
    assert.deepEqual(r.body, {
      error: "invalid",
      field: "context",
      message: "context: nested deeper than 100 levels",
    });
  }
  for (const n of [5_000, 100_000]) {
    const r = await t.post("/instances/t/events", `{"type":"ADD","p":${deep(n)}}`);
    assert.equal(r.status, 400);
    assert.equal(r.body.field, "p");
  }
  const array = await t.post("/instances/t/events", "[".repeat(200_000) + "]".repeat(200_000));
  assert.equal(array.body.field, "(body)");
  const list = await t.app.request("/instances");
  assert.equal(list.status, 200);
  assert.deepEqual((await list.json()).items.map((i: { id: string }) => i.id), ["t"]);
  assert.equal((await t.post("/instances/t/events", `{"type":"ADD","p":${deep(99)}}`)).status, 200);
  assert.deepEqual(t.logged, []);
});

Deno.test("a lone surrogate in an id or a label: 400, and no instance made", async () => {
  await using t = await open();
  const r = await t.post("/instances", '{"machine":"door","id":"\\ud800"}');
  assert.equal(r.status, 400);
  assert.equal(r.body.field, "id");
  assert.match(r.body.message, /lone surrogate/);
  assert.equal(await t.runtime.get("\ufffd"), null);
  const label = await t.post("/instances/t/checkpoints", '{"label":"x\\udc00"}');
  assert.equal(label.status, 400);
  assert.equal(label.body.field, "label");
  assert.deepEqual(t.logged, []);
});

Deno.test("a context too large for the journal: 413 naming it; many keys too", async () => {
  await using t = await open();
  const big = await t.post(
    "/instances",
    JSON.stringify({ machine: "door", id: "big", context: { s: "x".repeat(200_000) } }),
  );
  assert.equal(big.status, 413);
  assert.deepEqual(big.body, {
    error: "too_large",
    field: "context",
    message: "context: 200008 bytes as JSON; at most 60000",
  });
  const keys = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 1]));
  const many = await t.post(
    "/instances",
    JSON.stringify({ machine: "door", id: "m", context: keys }),
  );
  assert.equal(many.status, 413);
  assert.equal(many.body.field, "context");
  const event = await t.post("/instances/t/events", JSON.stringify({ type: "ADD", ...keys }));
  assert.equal(event.status, 413);
  assert.equal(event.body.field, "(body)");
  assert.deepEqual(t.logged, []);
});

Deno.test("__proto__ and other Object.prototype names in a body stay data", async () => {
  await using t = await open();
  const made = await t.post(
    "/instances",
    '{"machine":"door","id":"p","context":{"__proto__":{"polluted":1},"constructor":1}}',
  );
  assert.equal(made.status, 201);
  const info = await t.runtime.get("p");
  assert.deepEqual(Object.keys(info!.context as object).sort(), ["__proto__", "constructor"]);
  const sent = await t.post("/instances/t/events", '{"type":"ADD","__proto__":{"polluted":1}}');
  assert.equal(sent.status, 200);
  const history = await t.runtime.history("t");
  assert.ok(Object.keys(history.at(-1)!.event!).includes("__proto__"));
  const top = await t.post("/instances", '{"machine":"door","__proto__":{"polluted":1}}');
  assert.equal(top.status, 400);
  assert.equal(top.body.field, "__proto__");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("invalid UTF-8: 400 naming the body and the byte", async () => {
  await using t = await open();
  const bytes = new Uint8Array([...new TextEncoder().encode('{"type":"A'), 0xc3, 0x28, 0x22, 0x7d]);
  const r = await t.post("/instances/t/events", bytes);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    error: "invalid",
    field: "(body)",
    message: "the body is not UTF-8: byte 10 (0xc3) is not valid",
  });
  const overlong = await t.post("/instances/t/checkpoints", new Uint8Array([0xc0, 0xaf]));
  assert.equal(overlong.status, 400);
  const surrogate = await t.post("/instances/t/checkpoints", new Uint8Array([0xed, 0xa0, 0x80]));
  assert.equal(surrogate.status, 400);
  // Well-formed multi-byte text is fine.
  const ok = await t.post("/instances/t/events", JSON.stringify({ type: "ADD", note: "é€😀" }));
  assert.equal(ok.status, 200);
});
