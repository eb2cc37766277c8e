// Fuzzed paths, methods, headers and bodies against a served API (fast-check, fixed seed):
// no answer is a 5xx, the server keeps serving. Then malformed HTTP on a raw socket.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { serve } from "../../lib/server/serve.ts";

const FIXTURES = new URL("../fixtures/server/", import.meta.url).pathname;
const TOKEN = "fuzz-token";

const segment = fc.oneof(
  fc.constantFrom("instances", "events", "history", "checkpoints", "rollback", "plugins", "f0"),
  fc.constantFrom("machines", "health", "metrics", "openapi.json", "accepted", "..", "%00", "%"),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: "binary", maxLength: 8 }).map(encodeURIComponent),
);
const path = fc.oneof(
  fc.array(segment, { minLength: 0, maxLength: 5 }).map((s) => "/" + s.join("/")),
  fc.constantFrom("/instances/f0/events", "/instances", "/instances/f0/rollback"),
);
const query = fc.oneof(
  fc.constant(""),
  fc.dictionary(
    fc.constantFrom("limit", "cursor", "from", "status", "state", "machine", "events", "x"),
    fc.oneof(fc.string({ maxLength: 10 }), fc.integer().map(String)),
  ).map((d) => "?" + new URLSearchParams(d).toString()),
);
const json = fc.jsonValue({ maxDepth: 3 });
const body = fc.oneof(
  json.map((v) => JSON.stringify(v)),
  fc.record({ type: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }).map((v) =>
    JSON.stringify(v)
  ),
  fc.record({
    type: fc.constantFrom("ADD", "STOP", "OPEN", ""),
    by: json,
    seq: json,
    checkpoint: json,
    machine: fc.constantFrom("tally", "door", "x"),
    id: fc.string({ maxLength: 10 }),
    context: json,
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
);
const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "x"));
const headers = fc.record({
  "content-type": fc.constantFrom("application/json", "text/plain", "multipart/form-data", "x"),
  "idempotency-key": headerValue,
  authorization: fc.oneof(fc.constant(`Bearer ${TOKEN}`), headerValue),
  accept: headerValue,
}, { requiredKeys: [] });
const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD");

Deno.test("fuzz: paths, methods, headers and bodies get 2xx or 4xx, never 5xx", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-fuzz-" });
  const rt = await Runtime.open({
    projectDir: FIXTURES,
    kv: `${dir}/state.kv`,
    machines: ["machines.ts"],
    noPlugins: true,
    log: () => {},
  });
  const logged: string[] = [];
  const server = await serve(rt, {
    port: 0,
    token: TOKEN,
    maxBodyBytes: 4096,
    inspector: false,
    log: (m) => logged.push(m),
  });
  const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  try {
    const created = await fetch(`${server.url}/instances`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ machine: "tally", id: "f0" }),
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();

    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, async (m, p, q, h, b) => {
        const res = await fetch(`${server.url}${p}${q}`, {
          method: m,
          headers: h,
          body: m === "GET" || m === "HEAD" ? undefined : b,
        });
        // GET /events is a stream that does not end: its first bytes are enough.
        const stream = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
        if (stream) await res.body?.cancel();
        const text = m === "HEAD" || stream ? "" : await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) {
          throw new Error(`${m} ${p}${q} ${JSON.stringify(h)} ${b} -> ${res.status} ${text}`);
        }
        if (res.status >= 400 && m !== "HEAD") {
          assert.equal(typeof JSON.parse(text).error, "string");
        }
      }),
      { numRuns: 1000, seed: 7 },
    );
    assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0, `${[...statuses]}`);

    // Oversized bodies: 413, streamed or not.
    const big = await fetch(`${server.url}/instances/f0/events`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ type: "ADD", pad: "x".repeat(10_000) }),
    });
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const streamed = await fetch(`${server.url}/instances/f0/events`, {
      method: "POST",
      headers: auth,
      body: new Blob(['{"type":"ADD","p":"', "y".repeat(10_000), '"}']).stream(),
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();

    // Malformed HTTP on a raw socket: the server answers 4xx or hangs up, and keeps serving.
    const raw = [
      "GARBAGE\r\n\r\n",
      "GET /health HTTP/9.9\r\n\r\n",
      `POST /instances/f0/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{"type"`,
      `POST /instances/f0/events HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`,
      `GET /${"a".repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nX: ${"b".repeat(200_000)}\r\n\r\n`,
      "POST /instances HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ];
    const port = Number(new URL(server.url).port);
    for (const request of raw) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode(request)).catch(() => 0);
        const buf = new Uint8Array(512);
        const n = await Promise.race([
          conn.read(buf).catch(() => null),
          new Promise<null>((r) => setTimeout(() => r(null), 1000)),
        ]);
        if (n !== null && n > 0) {
          const line = new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0];
          assert.match(line, /^HTTP\/1\.[01] (4\d\d|2\d\d)/, JSON.stringify(request.slice(0, 60)));
        }
      } finally {
        conn.close();
      }
    }

    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    // f0 may have been stopped or rolled back by the fuzzer: a new instance takes an event.
    const fresh = await fetch(`${server.url}/instances`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ machine: "door", id: "after-fuzz" }),
    });
    assert.equal(fresh.status, 201);
    await fresh.body?.cancel();
    const sent = await fetch(`${server.url}/instances/after-fuzz/events`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ type: "OPEN" }),
    });
    assert.equal(sent.status, 200);
    await sent.body?.cancel();
    assert.deepEqual(logged, [], "no 5xx was logged");
  } finally {
    await server.close();
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});
