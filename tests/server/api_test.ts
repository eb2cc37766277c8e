// The HTTP API (lib/server/): routes through app.request (no socket), then serve() on a port
// for SSE, the token beyond loopback, and the CLI's serve command.
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp, discoverPluginRoutes } from "../../lib/server/app.ts";
import { isLoopback, serve, ServeConfigError } from "../../lib/server/serve.ts";
import { testRuntime } from "../../lib/testing/harness.ts";
import { door } from "../../examples/door.ts";

const FIXTURES = new URL("../fixtures/server/", import.meta.url).pathname;

async function openRuntime(plugins = false): Promise<{ rt: Runtime; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-server-" });
  const rt = await Runtime.open({
    projectDir: FIXTURES,
    kv: `${dir}/state.kv`,
    machines: ["machines.ts"],
    plugins: ["plugins"],
    noPlugins: !plugins,
    log: () => {},
  });
  return { rt, dir };
}

async function done(rt: Runtime, dir: string): Promise<void> {
  await rt.close();
  await Deno.remove(dir, { recursive: true });
}

function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

Deno.test("api: machines, create, send, state, history, checkpoint, rollback, list", async () => {
  const { rt, dir } = await openRuntime();
  try {
    const app = createApp(rt);
    const machines = await (await app.request("/machines")).json();
    assert.deepEqual(machines.items.map((m: { id: string }) => m.id), ["door", "tally"]);

    let res = await app.request("/instances", post({ machine: "tally", id: "t1" }));
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/instances/t1");
    assert.deepEqual((await res.json()).configuration, ["counting"]);
    res = await app.request("/instances", post({ machine: "tally", id: "t1" }));
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error, "exists");
    // With an Idempotency-Key, a retried create answers 200 with the instance it made.
    const keyed = { "idempotency-key": "create-t2" };
    res = await app.request("/instances", post({ machine: "tally", id: "t2" }, keyed));
    assert.equal(res.status, 201);
    const made = await res.json();
    res = await app.request("/instances", post({ machine: "tally", id: "t2" }, keyed));
    assert.equal(res.status, 200);
    const { duplicate, ...same } = await res.json();
    assert.equal(duplicate, true);
    assert.deepEqual(same, made);
    res = await app.request("/instances", post({ machine: "tally", id: "t2" }));
    assert.equal(res.status, 409);
    res = await app.request("/instances", post({ machine: "door" }));
    assert.equal(res.status, 201);
    const doorId = (await res.json()).id;
    assert.match(doorId, /^door-/);

    res = await app.request("/instances/t1/events", post({ type: "ADD", by: 5 }));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      id: "t1",
      seq: 1,
      configuration: ["counting"],
      status: "active",
      duplicate: false,
    });
    // The Idempotency-Key is the event id: a repeat is acknowledged, not applied.
    const once = post({ type: "ADD" }, { "idempotency-key": "k-1" });
    const first = await (await app.request("/instances/t1/events", once)).json();
    const again = await (await app.request("/instances/t1/events", once)).json();
    assert.equal(first.seq, 2);
    assert.equal(first.duplicate, false);
    assert.equal(again.seq, 2);
    assert.equal(again.duplicate, true);

    const state = await (await app.request("/instances/t1")).json();
    assert.deepEqual(state.context, { n: 6 });
    assert.equal(state.seq, 2);
    const history = await (await app.request("/instances/t1/history?from=1&limit=5")).json();
    assert.deepEqual(history.items.map((e: { seq: number }) => e.seq), [1, 2]);
    assert.equal(history.items[1].eventId, "k-1");
    assert.equal(history.items[1].by, "http");
    const accepted = await (await app.request("/instances/t1/accepted")).json();
    assert.deepEqual(accepted.events.sort(), ["ADD", "STOP"]);

    res = await app.request("/instances/t1/checkpoints", post({ label: "six" }));
    assert.equal(res.status, 201);
    assert.equal((await res.json()).label, "six");
    await app.request("/instances/t1/events", post({ type: "ADD", by: 10 }));
    res = await app.request("/instances/t1/rollback", post({ checkpoint: "six" }));
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).context, { n: 6 });
    res = await app.request("/instances/t1/rollback", post({ seq: 1 }));
    assert.deepEqual((await res.json()).context, { n: 5 });
    res = await app.request("/instances/t1/checkpoints", { method: "POST" });
    assert.equal(res.status, 201, "a checkpoint needs no body");

    // Filters and cursors as in the store.
    for (let i = 0; i < 5; i++) {
      await app.request("/instances", post({ machine: "door", id: `d${i}` }));
    }
    await app.request("/instances/d0/events", post({ type: "OPEN" }));
    const opened = await (await app.request("/instances?state=opened")).json();
    assert.deepEqual(opened.items.map((i: { id: string }) => i.id), ["d0"]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const q = `/instances?machine=door&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await (await app.request(q)).json();
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((i: { id: string }) => i.id));
      cursor = page.cursor === undefined ? undefined : encodeURIComponent(page.cursor);
    } while (cursor !== undefined);
    assert.equal(seen.length, 6);
    assert.equal(new Set(seen).size, 6);

    // A final state: the event that reaches it says so.
    res = await app.request("/instances/t1/events", post({ type: "STOP" }));
    assert.equal((await res.json()).status, "done");
    res = await app.request("/instances/t1/events", post({ type: "ADD" }));
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error, "conflict");
  } finally {
    await done(rt, dir);
  }
});

Deno.test("api: 400 names the field, 404, 413, 401 without detail", async () => {
  const { rt, dir } = await openRuntime();
  try {
    const app = createApp(rt, { token: "s3cret", maxBodyBytes: 1024 });
    const auth = { authorization: "Bearer s3cret" };
    await app.request("/instances", post({ machine: "tally", id: "t" }, auth));

    const cases: [string, RequestInit, number, string | undefined][] = [
      ["/instances/t/events", post({ type: "" }, auth), 400, "type"],
      ["/instances/t/events", post({ kind: "ADD" }, auth), 400, "type"],
      ["/instances/t/events", post("{nope", auth), 400, "(body)"],
      ["/instances/t/events", post([1, 2], auth), 400, "(body)"],
      [
        "/instances/t/events",
        post({ type: "ADD" }, { ...auth, "idempotency-key": "a b" }),
        400,
        "Idempotency-Key",
      ],
      ["/instances", post({ machine: "nope" }, auth), 400, "machine"],
      ["/instances", post({ machine: "tally", extra: 1 }, auth), 400, "extra"],
      ["/instances", post({ machine: "tally", context: [] }, auth), 400, "context"],
      ["/instances/t/rollback", post({}, auth), 400, "(body)"],
      ["/instances/t/rollback", post({ seq: 0, checkpoint: "c" }, auth), 400, "checkpoint"],
      ["/instances/t/rollback", post({ seq: -1 }, auth), 400, "seq"],
      ["/instances/t/rollback", post({ seq: 99 }, auth), 400, "seq"],
      ["/instances?limit=0", {}, 400, "limit"],
      ["/instances?status=sleeping", {}, 400, "status"],
      ["/instances?bogus=1", {}, 400, "bogus"],
      ["/instances/t/history?from=x", {}, 400, "from"],
      ["/events?events=a..b", {}, 400, "events"],
      ["/instances/nope", {}, 404, undefined],
      ["/instances/nope/history", {}, 404, undefined],
      ["/instances/nope/events", post({ type: "ADD" }, auth), 404, undefined],
      ["/instances/nope/checkpoints", post({}, auth), 404, undefined],
      ["/instances/t/rollback", post({ checkpoint: "never" }, auth), 404, undefined],
      ["/no/such/route", {}, 404, undefined],
      ["/plugins/ghost/act", post({}, auth), 404, undefined],
      ["/instances/t/events", post({ type: "ADD", pad: "x".repeat(2000) }, auth), 413, undefined],
    ];
    for (const [path, init, status, field] of cases) {
      const res = await app.request(path, init);
      const body = await res.json();
      assert.equal(res.status, status, `${path} ${init.body ?? ""}: ${JSON.stringify(body)}`);
      assert.equal(typeof body.error, "string");
      if (field !== undefined) assert.equal(body.field, field, `${path}: ${JSON.stringify(body)}`);
    }

    for (const header of [undefined, "Bearer wrong", "Bearer s3cret2", "Basic s3cret", "s3cret"]) {
      const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
      const res = await app.request("/instances/t/events", post({ type: "ADD" }, headers));
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: "unauthorized" });
    }
    // Reads need no token; the instance was not changed by the refused sends.
    const state = await (await app.request("/instances/t")).json();
    assert.equal(state.seq, 0);
  } finally {
    await done(rt, dir);
  }
});

Deno.test("api: a 400 for an event's payload names the payload field its schema rejected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-server-" });
  await using t = await testRuntime({ projectDir: dir, machines: [door], log: () => {} });
  const app = createApp(t.runtime);
  await app.request("/instances", post({ machine: "door", id: "d" }));
  const cases: [unknown, string, RegExp][] = [
    [{ type: "LOCK", code: "12" }, "code", /code: the code must be four digits/],
    [{ type: "LOCK" }, "code", /code: .*expected string/],
    [{ type: "LOCK", code: 1234 }, "code", /code: .*expected string/],
    [{ type: 5 }, "type", /type: /],
  ];
  for (const [event, field, message] of cases) {
    const res = await app.request("/instances/d/events", post(event));
    const body = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.field, field, `${JSON.stringify(event)}: ${JSON.stringify(body)}`);
    assert.match(body.message, message);
  }
  const res = await app.request("/instances/d/events", post({ type: "LOCK", code: "0000" }));
  assert.deepEqual((await res.json()).configuration, [
    "secure",
    "secure.locked",
    "secure.locked.latched",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("api: the journal says by: http for every write over HTTP", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-server-" });
  await using t = await testRuntime({ projectDir: dir, machines: [door], log: () => {} });
  const app = createApp(t.runtime);
  const ok = async (path: string, body: unknown) => {
    const res = await app.request(path, post(body));
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
  };
  await ok("/instances", { machine: "door", id: "d" }); // create
  await ok("/instances/d/events", { type: "OPEN" }); // event
  await ok("/instances/d/events", { type: "CLOSE" });
  await ok("/instances/d/rollback", { seq: 1 }); // rollback
  await ok("/instances/d/checkpoints", { label: "opened" });
  await ok("/instances/d/rollback", { checkpoint: "opened" });
  const journal = (await (await app.request("/instances/d/history")).json()).items;
  assert.deepEqual(
    journal.map((e: { kind: string; by: string }) => `${e.kind} by ${e.by}`),
    [
      "create by http",
      "event by http",
      "event by http",
      "rollback by http",
      "rollback by http",
    ],
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("api: plugin actions, declared routes, health, metrics, openapi", async () => {
  const { rt, dir } = await openRuntime(true);
  try {
    const routes = await discoverPluginRoutes(rt);
    assert.deepEqual(routes.map((r) => `${r.route.method} ${r.plugin}${r.route.path}`).sort(), [
      "GET echo/hello/:who",
      "POST echo/echo",
    ]);
    const app = createApp(rt, { pluginRoutes: routes });
    let res = await app.request("/plugins/echo/echo", post({ a: 1 }));
    assert.equal(res.status, 200);
    const echoed = (await res.json()).result;
    assert.equal(echoed.method, "POST", "the declared route wins over the action route");
    assert.deepEqual(echoed.body, { a: 1 });
    res = await app.request("/plugins/echo/hello/ada");
    assert.deepEqual(await res.json(), { result: "hello ada" });
    res = await app.request("/plugins/echo/greet", post({ params: { who: "bob" } }));
    assert.deepEqual(await res.json(), { result: "hello bob" });
    res = await app.request("/plugins/echo/fail", post({}));
    assert.equal(res.status, 422);
    assert.match((await res.json()).message, /asked to fail/);
    res = await app.request("/plugins/echo/nothing", post({}));
    assert.equal(res.status, 404);
    const guarded = createApp(rt, { pluginRoutes: routes, token: "pt" });
    res = await guarded.request("/plugins/echo/hello/ada");
    assert.equal(res.status, 401, "a plugin's GET route needs the token too");
    await res.body?.cancel();
    res = await guarded.request("/plugins/echo/hello/ada", {
      headers: { authorization: "Bearer pt" },
    });
    assert.deepEqual(await res.json(), { result: "hello ada" });
    const plugins = await (await app.request("/plugins")).json();
    assert.deepEqual(plugins.items.map((p: { name: string }) => p.name), ["echo"]);

    const health = await (await app.request("/health")).json();
    assert.equal(health.status, "ok");
    assert.equal(health.store, "ok");
    assert.deepEqual(health.stuck, []);
    assert.equal(health.plugins[0].state, "active");

    await app.request("/instances", post({ machine: "door", id: "d" }));
    await app.request("/instances/d/events", post({ type: "OPEN" }));
    await app.request("/instances/zz/events", post({ type: "OPEN" }));
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^# TYPE statecraft_event_commit_seconds histogram$/m);
    assert.match(metrics, /^statecraft_event_commit_seconds_count 1$/m);
    assert.match(metrics, /^statecraft_events_total\{result="applied"\} 1$/m);
    assert.match(metrics, /^statecraft_events_total\{result="rejected"\} 1$/m);
    assert.match(metrics, /^statecraft_transitions_total\{machine="door",kind="event"\} 1$/m);
    assert.match(metrics, /^statecraft_errors_total\{code="not_found"\} 1$/m);
    assert.match(metrics, /^statecraft_errors_total\{code="plugin_error"\} 1$/m);
    assert.match(
      metrics,
      /^statecraft_http_requests_total\{method="POST",route="\/instances\/:id\/events",status="200"\} 1$/m,
    );
    assert.match(metrics, /^statecraft_plugin_calls_total\{plugin="echo"\} [1-9]/m);
    assert.match(metrics, /^statecraft_plugin_failures_total\{plugin="echo"\} [1-9]/m);
    for (const line of metrics.trimEnd().split("\n")) {
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+0-9.e]+)$/, line);
    }

    const doc = await (await app.request("/openapi.json")).json();
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/instances/{id}/events"].post.requestBody);
    const eventSchema =
      doc.paths["/instances/{id}/events"].post.requestBody.content["application/json"].schema;
    assert.deepEqual(eventSchema.required, ["type"]);
  } finally {
    await done(rt, dir);
  }
});

Deno.test("serve: a port, SSE of transitions, close ends streams; no token beyond loopback", async () => {
  assert.ok(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost"));
  assert.ok(!isLoopback("0.0.0.0") && !isLoopback("192.168.1.2"));
  const { rt, dir } = await openRuntime();
  try {
    await assert.rejects(serve(rt, { host: "0.0.0.0", port: 0 }), ServeConfigError);
    const server = await serve(rt, { port: 0, inspector: false });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const sse = await fetch(`${server.url}/events?instance=s1`);
    assert.equal(sse.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    await fetch(`${server.url}/instances`, post({ machine: "door", id: "s1" })).then((r) =>
      r.body?.cancel()
    );
    await fetch(`${server.url}/instances`, post({ machine: "door", id: "other" })).then((r) =>
      r.body?.cancel()
    );
    const sent = await fetch(`${server.url}/instances/s1/events`, post({ type: "OPEN" }));
    assert.equal(sent.status, 200);
    await sent.body?.cancel();
    let text = "";
    while (!text.includes('"event":"OPEN"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const events = text.split("\n\n").filter((b) => b.includes("data: "));
    const data = events.map((b) => JSON.parse(b.split("data: ")[1]));
    assert.deepEqual(data.map((d) => [d.instance, d.kind, d.to]), [
      ["s1", "create", ["closed"]],
      ["s1", "event", ["opened"]],
    ]);
    assert.match(events[0], /^(.*\n)?event: machine\.transition\n/m);
    await server.close();
    // The stream ends with the server (cleanly or with the connection), within a second.
    const drained = (async () => {
      try {
        while (!(await reader.read()).done) { /* drain */ }
      } catch {
        // the connection closed under the reader
      }
      return "ended";
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      drained,
      new Promise<string>((r) => timer = setTimeout(() => r("still open"), 1000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "ended");
  } finally {
    await done(rt, dir);
  }
});

Deno.test("serve: the token guards mutating routes on a socket too", async () => {
  const { rt, dir } = await openRuntime();
  try {
    const server = await serve(rt, { port: 0, token: "t0k", inspector: false });
    const refused = await fetch(`${server.url}/instances`, post({ machine: "door" }));
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("www-authenticate"), "Bearer");
    await refused.body?.cancel();
    const ok = await fetch(
      `${server.url}/instances`,
      post({ machine: "door", id: "x" }, { authorization: "Bearer t0k" }),
    );
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    const read = await fetch(`${server.url}/instances/x`);
    assert.equal(read.status, 200);
    await read.body?.cancel();
    await server.close();
  } finally {
    await done(rt, dir);
  }
});

Deno.test("cli: statecraft serve listens, answers, and closes on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-serve-cli-" });
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-env",
      "--allow-net=127.0.0.1",
      new URL("../../cli.ts", import.meta.url).pathname,
      "serve",
      FIXTURES,
      "--port",
      "0",
      "--kv",
      `${dir}/state.kv`,
      "--no-plugins",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/on (http:\S+)/.test(text)) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const url = /on (http:\S+)/.exec(text)?.[1];
    assert.ok(url, text);
    const res = await fetch(`${url}/machines`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).items.map((m: { id: string }) => m.id), ["door", "tally"]);
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0);
    while (!(await lines.read()).done) { /* drain */ }
  } finally {
    try {
      child.kill();
    } catch {
      // already exited
    }
    await Deno.remove(dir, { recursive: true });
  }
});
