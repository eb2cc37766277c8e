// Load from a second process on loopback: 50 concurrent clients send events to 500 instances
// (bounded: 5,000 event keys, every tenth sent twice, or 20 s). No request may be lost or
// applied twice (checked against each instance's journal), and no answer may be a 5xx.
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { serve } from "../../lib/server/serve.ts";

const FIXTURES = new URL("../fixtures/server/", import.meta.url).pathname;
const CLIENT = new URL("./_load_client.ts", import.meta.url).pathname;
const INSTANCES = 500, KEYS = 5000, CLIENTS = 50, DEADLINE_MS = 20_000;

Deno.test("load: 50 clients, 500 instances; nothing lost, nothing applied twice, no 5xx", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-load-" });
  const rt = await Runtime.open({
    projectDir: FIXTURES,
    kv: `${dir}/state.kv`,
    machines: ["machines.ts"],
    noPlugins: true,
    log: () => {},
  });
  const server = await serve(rt, { port: 0, inspector: false, log: () => {} });
  try {
    const out = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        CLIENT,
        server.url,
        String(INSTANCES),
        String(KEYS),
        String(CLIENTS),
        String(DEADLINE_MS),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      statuses: Record<string, number>;
      acked: Record<string, string[]>;
      duplicates: string[];
      errors: string[];
      errorCount: number;
      sentKeys: number;
      requests: number;
      perSecond: number;
      p99: number;
    };
    console.log(
      `load: ${report.requests} event requests, ${report.perSecond.toFixed(0)}/s, ` +
        `p99 ${report.p99.toFixed(1)} ms (test process, not the benchmark)`,
    );
    assert.equal(report.errorCount, 0, report.errors.join("\n"));
    for (const status of Object.keys(report.statuses)) {
      assert.ok(Number(status) < 300, `status ${status}: ${JSON.stringify(report.statuses)}`);
    }
    assert.equal(report.statuses["201"], INSTANCES);
    // Every key sent was acknowledged exactly once as applied; the retries as duplicates.
    const applied = Object.values(report.acked).flat();
    assert.equal(applied.length, report.sentKeys);
    assert.equal(new Set(applied).size, applied.length);
    assert.equal(report.duplicates.length, Math.ceil(report.sentKeys / 10));
    assert.ok(report.sentKeys >= 1000, `only ${report.sentKeys} keys in ${DEADLINE_MS} ms`);

    // The journal agrees: each acknowledged key is there once, nothing else is.
    for (let i = 0; i < INSTANCES; i++) {
      const id = `load-${i}`;
      const journal = await rt.history(id, { limit: 10_000 });
      const keys = journal.filter((e) => e.kind === "event").map((e) => e.eventId);
      const expected = report.acked[id] ?? [];
      assert.deepEqual([...keys].sort(), [...expected].sort(), id);
      const info = await rt.get(id);
      assert.deepEqual(info!.context, { n: expected.length }, id);
    }
  } finally {
    await server.close();
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});
