/**
 * Traces through Deno's OpenTelemetry: a runtime served over HTTP in a subprocess with
 * `OTEL_DENO=true`, exporting OTLP/HTTP JSON to a receiver in this test. One HTTP event crosses
 * a worker plugin (an invocation), arms a timer, and the timer's firing sends to a process
 * plugin through the outbox: the span tree, the timer's link, the log records' trace ids and
 * the metrics are checked; with OpenTelemetry off nothing is sent.
 *
 * @module
 */
import * as assert from "node:assert/strict";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { childOf, one, otelEnv, type ReceivedSpan, startReceiver } from "./_otlp_receiver.ts";
import { isIn, post, startChild } from "./_traced.ts";

/** Creates `d1` and `t1` and sends GO over HTTP; waits until both timers have fired. */
async function drive(url: string): Promise<void> {
  await post(url, "/instances", { machine: "timed", id: "d1" });
  await post(url, "/instances", { machine: "traced", id: "t1" });
  await post(url, "/instances/t1/events", { type: "GO" });
  await waitFor("d1's timer to fire", () => isIn(url, "d1", "rang"), { everyMs: 20 });
  await waitFor("t1 to reach notified", () => isIn(url, "t1", "notified"), { everyMs: 20 });
}

/**
 * A plugin call under `parent`: the host's span, the plugin's own span across the Worker or
 * process boundary, and the span the plugin's code made inside it (`<plugin>.inner`).
 */
function pluginCall(
  spans: ReceivedSpan[],
  parent: ReceivedSpan,
  plugin: string,
  action: string,
  isolation: "worker" | "process",
): void {
  const call = one(spans, `statecraft.plugin ${plugin}.${action}`);
  childOf(call, parent);
  assert.equal(call.attributes["statecraft.isolation"], isolation);
  const inside = one(spans, `plugin ${plugin} ${action}`);
  childOf(inside, call);
  childOf(one(spans, `${plugin}.inner`), inside);
}

backendTest(
  "tracing: an HTTP event through a worker plugin, a timer and a process plugin",
  async (b) => {
    const receiver = await startReceiver();
    try {
      const child = await startChild(await b.path(), otelEnv(receiver));
      const spans = receiver.spans;
      try {
        await drive(child.url);
        // Exported while the program runs (stopping it kills its plugin process).
        await waitFor("the process plugin's span", () => spans.some((s) => s.name === "tp.inner"));
        await waitFor(
          "the /metrics counters as OTel metrics",
          () =>
            receiver.metrics.has("statecraft_transitions") &&
            receiver.metrics.has("statecraft_plugin_calls"),
        );
      } finally {
        await child.stop();
      }

      // A create: its initial macrostep, and the firing of the timer that macrostep armed.
      const creates = spans.filter((s) => s.name === "statecraft.create");
      const startOf = (id: string) => {
        const create = creates.find((c) => c.attributes["statecraft.instance"] === id);
        assert.ok(create, `the statecraft.create span of ${id}`);
        const start = spans.find((s) =>
          s.name === "statecraft.macrostep create" && s.attributes["statecraft.instance"] === id
        );
        assert.ok(start, `the initial macrostep of ${id}`);
        childOf(start, create);
        return start;
      };
      assert.deepEqual(startOf("t1").attributes["statecraft.configuration.after"], ["idle"]);
      const armed = startOf("d1");
      assert.deepEqual(armed.attributes["statecraft.configuration.after"], ["armed"]);
      const rang = one(spans, "statecraft.macrostep after.30.armed");
      assert.deepEqual(rang.links, [{ traceId: armed.traceId, spanId: armed.spanId }]);

      // The HTTP request (Deno.serve's span) -> send -> macrostep + commit.
      const request = spans.find((s) =>
        s.attributes["url.path"] === "/instances/t1/events" && s.scope === "deno"
      );
      assert.ok(request, "Deno.serve's span of POST /instances/t1/events");
      const send = one(spans, "statecraft.send GO");
      childOf(send, request);
      const go = one(spans, "statecraft.macrostep GO");
      childOf(go, send);
      assert.deepEqual(go.attributes["statecraft.configuration.before"], ["idle"]);
      assert.deepEqual(go.attributes["statecraft.configuration.after"], ["calling"]);
      assert.equal(go.attributes["statecraft.instance"], "t1");
      assert.equal(go.attributes["statecraft.machine"], "traced");
      assert.equal(go.attributes["statecraft.event"], "GO");
      assert.equal(go.attributes["statecraft.seq"], 1);
      const commits = spans.filter((s) => s.name === "statecraft.commit");
      assert.ok(commits.some((c) => c.parentSpanId === send.spanId), "the GO commit under send");

      // The invocation's plugin call crosses into the worker, where the plugin's own span joins.
      pluginCall(spans, go, "tw", "work", "worker");
      const done = one(spans, "statecraft.macrostep done.invoke.calling:invoke0");
      childOf(done, go);
      assert.deepEqual(done.attributes["statecraft.configuration.after"], ["waiting"]);

      // The timer's firing: a trace of its own, linked to the macrostep that armed it.
      const fired = one(spans, "statecraft.macrostep after.30.waiting");
      assert.notEqual(fired.traceId, go.traceId);
      assert.equal(fired.parentSpanId, "");
      assert.deepEqual(fired.links, [{ traceId: done.traceId, spanId: done.spanId }]);
      assert.equal(fired.attributes["statecraft.kind"], "timer");
      assert.deepEqual(fired.attributes["statecraft.configuration.after"], ["notified"]);
      assert.ok(commits.some((c) => c.parentSpanId === fired.spanId), "the timer's commit");

      // Its send, from the outbox, crosses into the plugin process.
      const effect = one(spans, "statecraft.effect plugin:tp.note");
      childOf(effect, fired);
      pluginCall(spans, effect, "tp", "note", "process");

      // Log lines carry their trace: the host's, a worker's console, a process plugin's log.
      const logs = receiver.logs;
      const log = (text: string) => {
        const found = logs.find((l) => l.body.includes(text));
        assert.ok(found, `a log record "${text}" (got ${logs.map((l) => l.body).join(" | ")})`);
        return found;
      };
      assert.equal(log("[tw] tw working").traceId, go.traceId);
      assert.equal(log("tw console line").traceId, go.traceId);
      assert.equal(log("[tp] tp noted").traceId, fired.traceId);
    } finally {
      await receiver.close();
    }
  },
);

Deno.test("tracing: spans not exported yet are flushed when the runtime stops", async () => {
  const receiver = await startReceiver();
  try {
    // Batches exported only at exit: what arrives was flushed by the processes ending.
    const env = { ...otelEnv(receiver), OTEL_BSP_SCHEDULE_DELAY: "600000" };
    const child = await startChild(":memory:", env);
    try {
      await drive(child.url);
    } finally {
      await child.stop();
    }
    // The host's spans, and those of its plugin process, stopped (not killed) with it.
    await waitFor("the exports made at exit", () => {
      const names = new Set(receiver.spans.map((s) => s.name));
      return names.has("statecraft.macrostep GO") && names.has("tp.inner");
    }, { ms: 5000 });
  } finally {
    await receiver.close();
  }
});

Deno.test("tracing: with OpenTelemetry off nothing is exported", async () => {
  const receiver = await startReceiver();
  try {
    const env = otelEnv(receiver);
    env.OTEL_DENO = "false";
    const child = await startChild(":memory:", env);
    try {
      await drive(child.url);
    } finally {
      await child.stop();
    }
    assert.deepEqual([...receiver.requests.keys()], []);
  } finally {
    await receiver.close();
  }
});
