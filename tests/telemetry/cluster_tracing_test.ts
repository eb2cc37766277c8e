/**
 * Traces across a cluster: three traced programs (`_traced_child.ts`) as nodes a, b and c of
 * one store, exporting to one OTLP receiver. Writes sent to node a for instances other nodes
 * own are forwarded through the store's durable inbox; the trace goes with them, so one trace
 * holds the HTTP request on a, the forward, the owner's work (macrostep, commit, the worker
 * plugin's spans) and, for a create, the initial macrostep.
 *
 * @module
 */
import * as assert from "node:assert/strict";
import { backendTest } from "../persist/_backends.ts";
import { waitFor } from "../_wait.ts";
import { childOf, otelEnv, type ReceivedSpan, startReceiver } from "./_otlp_receiver.ts";
import { isIn, post, startChild, type TracedChild } from "./_traced.ts";

const NODES = ["a", "b", "c"];
const IDS = Array.from({ length: 9 }, (_, i) => `c${i}`);

/** The spans of `name` about instance `id`. */
function about(spans: ReceivedSpan[], name: string, id: string): ReceivedSpan[] {
  return spans.filter((s) => s.name === name && s.attributes["statecraft.instance"] === id);
}

backendTest("tracing: a write forwarded to another node stays in its trace", async (b) => {
  const receiver = await startReceiver();
  const store = await b.path();
  const children: TracedChild[] = [];
  try {
    for (const node of NODES) children.push(await startChild(store, otelEnv(receiver), node));
    const a = children[0].url;
    // Every node owns some of the partitions.
    await waitFor("three nodes sharing the partitions", async () => {
      const status = await (await fetch(`${a}/cluster`)).json();
      const owning = (status.nodes as { node: string; live: boolean; owned: number }[])
        .filter((n) => n.live && n.owned > 0);
      return owning.length === 3;
    }, { ms: 30_000, everyMs: 100 });

    for (const id of IDS) await post(a, "/instances", { machine: "traced", id });
    for (const id of IDS) await post(a, "/instances/" + id + "/events", { type: "GO" });
    for (const id of IDS) {
      await waitFor(`${id} to reach notified`, () => isIn(a, id, "notified"), { everyMs: 20 });
    }
    const spans = receiver.spans;
    // The worker plugin's inner spans are exported by the owners: wait for all of them.
    await waitFor(
      "every plugin call's inner span",
      () => spans.filter((s) => s.name === "tw.inner").length >= IDS.length,
    );

    let forwarded = 0;
    for (const id of IDS) {
      const send = about(spans, "statecraft.send GO", id);
      assert.equal(send.length, 1, `one send span for ${id}`);
      const step = about(spans, "statecraft.macrostep GO", id);
      assert.equal(step.length, 1, `one GO macrostep for ${id}`);
      const owner = step[0].attributes["statecraft.node"];
      const forward = about(spans, "statecraft.forward send", id);
      if (owner === "a") {
        // Run on the node that got the request: no forward.
        assert.equal(forward.length, 0);
        childOf(step[0], send[0]);
        continue;
      }
      forwarded++;
      // a: HTTP -> send -> forward; the owner: forwarded -> macrostep -> plugin call.
      assert.equal(forward.length, 1, `one forward span for ${id}`);
      childOf(forward[0], send[0]);
      assert.equal(forward[0].attributes["statecraft.node"], "a");
      const served = about(spans, "statecraft.forwarded send", id);
      assert.equal(served.length, 1, `one forwarded span for ${id}`);
      childOf(served[0], forward[0]);
      assert.equal(served[0].attributes["statecraft.node"], owner);
      assert.equal(served[0].attributes["statecraft.from"], "a");
      childOf(step[0], served[0]);
      const call = spans.find((s) =>
        s.name === "statecraft.plugin tw.work" && s.parentSpanId === step[0].spanId
      );
      assert.ok(call, `the plugin call of ${id}'s GO under its macrostep`);
      assert.equal(call.traceId, send[0].traceId);

      // Its create was forwarded too: the owner's initial macrostep is in the create's trace.
      const create = about(spans, "statecraft.create", id);
      assert.equal(create.length, 1);
      const createdBy = about(spans, "statecraft.forwarded create", id);
      assert.equal(createdBy.length, 1, `one forwarded create span for ${id}`);
      assert.equal(createdBy[0].traceId, create[0].traceId);
      const start = about(spans, "statecraft.macrostep create", id);
      assert.equal(start.length, 1);
      childOf(start[0], createdBy[0]);
      assert.equal(start[0].attributes["statecraft.node"], owner);
    }
    // Nine instances hashed over three nodes: some were forwarded (the check above ran).
    assert.ok(forwarded > 0, "some instances are owned by b or c");
    // One span per request: the owner ran each forwarded request once.
    assert.equal(
      spans.filter((s) => s.name === "statecraft.forwarded send").length,
      forwarded,
    );
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await receiver.close();
  }
});
