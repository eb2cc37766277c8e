// Hostile HTTP bodies (issue #14), sent over a socket to a served API: bodies for every route
// that takes one, with JSON nested deep, many keys, keys named after Object.prototype, the
// wrong type in each field, huge strings, invalid UTF-8, truncated JSON. Every answer is 2xx
// or a 4xx whose JSON body names the field at fault; never a 5xx; the server keeps serving;
// what it accepted reads back (the list and each instance); Object.prototype is untouched; the
// body size limit holds, with a length or streamed. (tests/server/fuzz_test.ts fuzzes paths,
// methods and headers.) More cases: STATECRAFT_FUZZ_RUNS=2000.
import assert from "node:assert/strict";
import fc from "fast-check";
import { serve } from "../../lib/server/serve.ts";
import { memoryRuntime } from "../_memory_runtime.ts";
import { door, tally } from "../fixtures/server/machines.ts";
import { assertPrototypeUntouched, params, PROTO_NAMES } from "./_property.ts";

const TOKEN = "prop-token";
const LIMIT = 100_000;
const encoder = new TextEncoder();

/** Odd text: NUL, lone surrogates (as JSON escapes, which JSON.stringify writes), escapes. */
const oddArb = fc.oneof(
  fc.constantFrom("\0", "a\0b", "\ud800", "x\udfff", "\u2028", "\x7f", "é😀", ""),
  fc.string({ unit: "binary", maxLength: 8 }),
);
const nameArb = fc.oneof(
  fc.constantFrom("a", "b1", "door-1", "x y", "#a", "*"),
  fc.constantFrom(...PROTO_NAMES),
  oddArb,
  fc.integer({ min: 250, max: 300 }).map((n) => "n".repeat(n)),
);
/** A JSON value as text: wrong kinds, deep, huge strings, many keys, odd numbers. */
const valueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: nameArb.map((s) => JSON.stringify(s)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("1e400", "-0", "1.5", "-1", "9007199254740993", "null", "true"),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: 90, max: 20_000 }), fc.constantFrom("a", "__proto__"))
      .map(([n, k]) => `{"${k}":`.repeat(n) + "1" + "}".repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 90, max: 30_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 120_000 }).map((n) => JSON.stringify("s".repeat(n))),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 12_000 }).map((n) =>
      `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}}`
    ),
  },
  { weight: 1, arbitrary: fc.constant("{}") },
);
/** An object as text, keys in order (a `__proto__` key stays a key in the text). */
function objectText(entries: [string, string][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
}
const extraArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant([]) },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PROTO_NAMES), nameArb), valueArb), {
      minLength: 1,
      maxLength: 2,
    }),
  },
);
function fieldsArb(fields: Record<string, fc.Arbitrary<string>>) {
  const keys = Object.keys(fields);
  return fc.tuple(
    fc.tuple(...keys.map((k) => fc.option(fields[k], { freq: 4 }))),
    extraArb,
  ).map(([values, extra]) => {
    const entries: [string, string][] = [];
    values.forEach((v, i) => v !== null && entries.push([keys[i], v]));
    return objectText([...entries, ...extra]);
  });
}
/** Usually `valid`, now and then anything. */
const mostly = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: valueArb });
const idArb = mostly(fc.oneof(
  fc.constantFrom('"c1"', '"c2"', '"c3"'),
  fc.constantFrom(...PROTO_NAMES).map((n) => JSON.stringify(n)),
  fc.string({ minLength: 1, maxLength: 8 }).map((n) => JSON.stringify(n)),
));
const createArb = fieldsArb({
  machine: mostly(fc.constantFrom('"door"', '"tally"')),
  id: idArb,
  context: mostly(
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PROTO_NAMES), nameArb), valueArb), {
      maxLength: 3,
    }).map(objectText),
  ),
});
const eventArb = fc.tuple(
  mostly(fc.constantFrom('"ADD"', '"OPEN"', '"CLOSE"', '"STOP"', '"__proto__"')),
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PROTO_NAMES, "by"), nameArb), valueArb), {
    maxLength: 3,
  }),
  fc.boolean(),
).map(([type, rest, typed]) => objectText(typed ? [["type", type], ...rest] : rest));
const labelArb = mostly(
  fc.oneof(fc.constantFrom('"l1"', '"l2"'), nameArb.map((n) => JSON.stringify(n))),
);
const checkpointArb = fieldsArb({ label: labelArb });
const rollbackArb = fieldsArb({
  seq: mostly(fc.constantFrom("0", "1", "2")),
  checkpoint: labelArb,
});

/** A body as bytes: JSON text, cut short, with invalid UTF-8 in it, or not JSON at all. */
function bytesArb(text: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array<ArrayBuffer>> {
  return fc.oneof(
    { weight: 8, arbitrary: text.map((t) => encoder.encode(t)) },
    {
      weight: 1,
      arbitrary: fc.tuple(text, fc.nat()).map(([t, n]) =>
        encoder.encode(t.slice(0, n % (t.length + 1)))
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(
        text,
        fc.nat(),
        fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8], [
          0xe2,
          0x82,
        ]),
      ).map(([t, n, bad]) => {
        const b = encoder.encode(t);
        const at = n % (b.length + 1);
        return new Uint8Array([...b.subarray(0, at), ...bad, ...b.subarray(at)]);
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b)) },
  );
}

const requestArb = fc.oneof(
  bytesArb(createArb).map((body) => ({ path: "/instances", body })),
  fc.tuple(fc.constantFrom("c0", "c1", "c2", "__proto__"), bytesArb(eventArb))
    .map(([id, body]) => ({ path: `/instances/${id}/events`, body })),
  fc.tuple(fc.constantFrom("c0", "c1"), bytesArb(checkpointArb))
    .map(([id, body]) => ({ path: `/instances/${id}/checkpoints`, body })),
  fc.tuple(fc.constantFrom("c0", "c1"), bytesArb(rollbackArb))
    .map(([id, body]) => ({ path: `/instances/${id}/rollback`, body })),
  fc.tuple(fc.constantFrom(...PROTO_NAMES, "x"), bytesArb(valueArb))
    .map(([name, body]) => ({ path: `/plugins/${name}/${name}`, body })),
);

async function withServer(
  fn: (url: string, headers: Record<string, string>, logged: string[]) => Promise<void>,
): Promise<void> {
  await using runtime = await memoryRuntime([door, tally]);
  const logged: string[] = [];
  const server = await serve(runtime, {
    port: 0,
    token: TOKEN,
    maxBodyBytes: LIMIT,
    inspector: false,
    log: (m) => logged.push(m),
  });
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  try {
    await fn(server.url, headers, logged);
  } finally {
    await server.close();
  }
}

Deno.test("HTTP bodies: 2xx or a 4xx naming the field, never 5xx; what was taken reads back", async () => {
  await withServer(async (url, headers, logged) => {
    const post = (path: string, body: BodyInit) =>
      fetch(`${url}${path}`, { method: "POST", headers, body });
    const made = await post("/instances", JSON.stringify({ machine: "tally", id: "c0" }));
    assert.equal(made.status, 201);
    await made.body?.cancel();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async ({ path, body }) => {
        const res = await post(path, body);
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const what = `POST ${path} ${new TextDecoder().decode(body.subarray(0, 300))} -> ` +
          `${res.status} ${text.slice(0, 300)}`;
        assert.ok(res.status < 500, what);
        if (res.status >= 400) {
          const answer = JSON.parse(text);
          assert.equal(typeof answer.error, "string", what);
          assert.equal(typeof answer.message, "string", what);
          // A request refused for what it holds names the field; a missing instance (404),
          // an ended one or a clash (409) are about the resource, not a field.
          if (res.status === 400 || res.status === 413) {
            assert.ok(typeof answer.field === "string" && answer.field !== "", what);
          }
        }
        assertPrototypeUntouched(what);
        if (res.status < 300 && path === "/instances") {
          // Taken: it reads back, alone and in the list.
          const id = JSON.parse(text).id as string;
          const one = await fetch(`${url}/instances/${encodeURIComponent(id)}`);
          assert.equal(one.status, 200, `${what}: GET it -> ${one.status}`);
          await one.body?.cancel();
          const list = await fetch(`${url}/instances?limit=1000`);
          assert.equal(list.status, 200, `${what}: the list -> ${list.status}`);
          await list.body?.cancel();
        }
      }),
      params(1_000, 10_000),
    );
    assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(413) ?? 0) > 0, `${[...statuses]}`);
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const list = await fetch(`${url}/instances?limit=1000`);
    assert.equal(list.status, 200);
    await list.body?.cancel();
    assert.deepEqual(logged, [], "no 5xx was logged");
    console.log(`http property: ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});

Deno.test("HTTP bodies: the size limit holds, with a length or streamed", async () => {
  await withServer(async (url, headers, logged) => {
    const made = await fetch(`${url}/instances`, {
      method: "POST",
      headers,
      body: JSON.stringify({ machine: "door", id: "s0" }),
    });
    assert.equal(made.status, 201);
    await made.body?.cancel();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: LIMIT - 64, max: LIMIT * 3 }),
        fc.boolean(),
        fc.constantFrom("/instances/s0/events", "/instances", "/plugins/x/y"),
        async (size, streamed, path) => {
          const head = '{"type":"OPEN","pad":"';
          const text = head + "p".repeat(Math.max(0, size - head.length - 2)) + '"}';
          const bytes = encoder.encode(text);
          const body = streamed
            ? new Blob([bytes.subarray(0, 10), bytes.subarray(10)]).stream()
            : bytes;
          const res = await fetch(`${url}${path}`, { method: "POST", headers, body });
          const answer = await res.json();
          if (bytes.length > LIMIT) {
            assert.equal(res.status, 413, `${bytes.length} bytes`);
            assert.equal(answer.field, "(body)");
            assert.equal(answer.error, "too_large");
          } else {
            assert.ok(res.status < 500, `${bytes.length} bytes -> ${res.status}`);
          }
        },
      ),
      params(100, 10_000),
    );
    assert.deepEqual(logged, []);
  });
});
