/**
 * Traces of REPL lines: `statecraft repl` in a subprocess with `OTEL_DENO=true` and its stdin
 * piped, exporting OTLP/HTTP JSON to a receiver in this test. `spawn door d1` is a
 * `statecraft.repl spawn` span over `statecraft.create` and its commit; `send d1 OPEN` a `statecraft.repl send`
 * span over `statecraft.send` and its macrostep. Only the command word is recorded.
 *
 * @module
 */
import * as assert from "node:assert/strict";
import { waitFor } from "../_wait.ts";
import { childOf, one, otelEnv, startReceiver } from "./_otlp_receiver.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("tracing: a REPL line's span is the parent of its create and its send", async () => {
  const receiver = await startReceiver();
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_otel_" });
  try {
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        "--allow-net=127.0.0.1",
        "cli.ts",
        "repl",
        "--kv",
        ":memory:",
        "--no-plugins",
      ],
      cwd: ROOT,
      env: {
        NO_COLOR: "1",
        STATECRAFT_HISTORY: `${dir}/history`,
        ...otelEnv(receiver),
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    const writer = child.stdin.getWriter();
    const spans = receiver.spans;
    try {
      await writer.write(
        new TextEncoder().encode('spawn door d1 {"secret":"s3cr3t"}\nsend d1 OPEN\n'),
      );
      // Exported while the REPL still reads (stdin open), not only at its exit.
      await waitFor(
        "the REPL lines' spans",
        () =>
          spans.some((s) => s.name === "statecraft.repl send") &&
          spans.some((s) => s.name === "statecraft.send OPEN"),
        { everyMs: 20 },
      );
    } finally {
      await writer.close();
      const { code, stderr } = await output;
      assert.equal(code, 0, new TextDecoder().decode(stderr));
    }

    const spawn = one(spans, "statecraft.repl spawn");
    assert.equal(spawn.parentSpanId, "", "a REPL line starts a trace");
    assert.deepEqual(spawn.attributes, { "statecraft.command": "spawn" });
    const create = one(spans, "statecraft.create");
    childOf(create, spawn);
    assert.equal(create.attributes["statecraft.machine"], "door");
    assert.equal(create.attributes["statecraft.instance"], "d1");
    const commit = spans.find((s) => s.name === "statecraft.commit" && s.traceId === spawn.traceId);
    assert.ok(commit, "the create's commit");
    childOf(commit, create);
    assert.equal(commit.attributes["statecraft.committed"], true);

    const line = one(spans, "statecraft.repl send");
    assert.deepEqual(line.attributes, { "statecraft.command": "send" });
    assert.notEqual(line.traceId, spawn.traceId, "each line is a trace of its own");
    const send = one(spans, "statecraft.send OPEN");
    childOf(send, line);
    childOf(one(spans, "statecraft.macrostep OPEN"), send);

    // The line's arguments (here a context with a secret) are in no span.
    assert.ok(!JSON.stringify(spans).includes("s3cr3t"), "the line's text is not recorded");
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});
