// Retry policies from plugin.yaml (`retry: { <action>: ... }`, `timeout: { <action>: ... }`):
// a `pluginAction` invocation without a policy of its own retries per the manifest, on the
// testing harness's virtual clock; the invoke's own policy and the machine's `invokeDefaults`
// rank around it; the manifest's mistakes are reported at their line and column.
import * as assert from "node:assert/strict";
import { defineMachine } from "../../lib/core/machine.ts";
import { actionPolicy, ManifestError, parseManifest } from "../../lib/plugins/manifest.ts";
import { pluginAction } from "../../lib/runtime/runtime.ts";
import { testRuntime } from "../../lib/testing/harness.ts";

const PLUGINS = new URL("../fixtures/plugins/retrying/", import.meta.url).pathname;

/** A machine that invokes `target` with `invoke` (plus `extra` machine config) once spawned. */
function fetcher(id: string, target: string, invoke: Record<string, unknown>, extra = {}) {
  return defineMachine({
    id,
    initial: "fetching",
    context: { output: null as unknown, attempts: 0 },
    ...extra,
    states: {
      fetching: {
        invoke: {
          src: pluginAction(target),
          input: { key: id, failures: 2 },
          onDone: {
            target: "done",
            actions: ({ context, event }) => void (context.output = event.output),
          },
          onError: {
            target: "failed",
            actions: ({ context, event }) =>
              void (context.attempts = (event as { attempts?: number }).attempts ?? 0),
          },
          ...invoke,
        },
      },
      done: { type: "final" },
      failed: {},
    },
  });
}

Deno.test("plugin action retry: the manifest's policy retries an invoke that sets none", async () => {
  const m = fetcher("from-manifest", "flaky.fetch", {});
  await using t = await testRuntime({ machines: [m], plugins: [PLUGINS], log: () => {} });
  assert.deepEqual(t.runtime.pluginReport.failed, []);
  await t.runtime.spawn("from-manifest", "a");
  await t.flush();
  // Attempt 1 failed; the manifest's wait is 1s, then 2s (factor 2).
  assert.deepEqual((await t.runtime.get("a"))?.configuration, ["fetching"]);
  await t.advance(999);
  assert.deepEqual((await t.runtime.get("a"))?.configuration, ["fetching"]);
  await t.advance(1 + 1999);
  assert.deepEqual((await t.runtime.get("a"))?.configuration, ["fetching"]);
  await t.advance(1);
  const info = await t.runtime.get("a");
  assert.equal(info?.status, "done");
  assert.deepEqual((info?.context as { output: unknown }).output, {
    key: "from-manifest",
    calls: 3,
  });
});

Deno.test("plugin action retry: the manifest's policy goes before invokeDefaults", async () => {
  const m = fetcher("over-defaults", "flaky.fetch", {}, {
    invokeDefaults: { retry: { attempts: 1 } },
  });
  await using t = await testRuntime({ machines: [m], plugins: [PLUGINS], log: () => {} });
  await t.runtime.spawn("over-defaults", "b");
  await t.advance("3s");
  assert.equal((await t.runtime.get("b"))?.status, "done");
});

Deno.test("plugin action retry: the invoke's own retry goes before the manifest's", async () => {
  const m = fetcher("own-policy", "flaky.fetch", { retry: { attempts: 2, initial: "10s" } });
  await using t = await testRuntime({ machines: [m], plugins: [PLUGINS], log: () => {} });
  await t.runtime.spawn("own-policy", "c");
  await t.advance("3s");
  assert.deepEqual((await t.runtime.get("c"))?.configuration, ["fetching"]);
  await t.advance("7s");
  const info = await t.runtime.get("c");
  assert.deepEqual(info?.configuration, ["failed"]);
  assert.equal((info?.context as { attempts: number }).attempts, 2);
});

Deno.test("plugin action retry: an action the manifest sets no policy for takes invokeDefaults", async () => {
  const m = fetcher("defaults-only", "flaky.plain", {}, {
    invokeDefaults: { retry: { attempts: 3, initial: "1m" } },
  });
  await using t = await testRuntime({ machines: [m], plugins: [PLUGINS], log: () => {} });
  await t.runtime.spawn("defaults-only", "d");
  await t.advance("1m");
  assert.deepEqual((await t.runtime.get("d"))?.configuration, ["fetching"]);
  await t.advance("2m");
  assert.equal((await t.runtime.get("d"))?.status, "done");
});

Deno.test("plugin action retry: actionPolicy fills the defaults and parses durations", () => {
  const m = parseManifest(
    [
      "name: mailer",
      "version: 1.0.0",
      "provides: [send, peek]",
      "retry:",
      "  send: { attempts: 5, max: 30s, nonRetryable: [BadAddress] }",
      "timeout:",
      "  peek: 250ms",
    ].join("\n"),
    "plugin.yaml",
  );
  assert.deepEqual(actionPolicy(m, "send"), {
    retry: { attempts: 5, initial: 1000, factor: 2, max: 30_000, nonRetryable: ["BadAddress"] },
    timeout: null,
  });
  assert.deepEqual(actionPolicy(m, "peek"), { retry: null, timeout: 250 });
  assert.deepEqual(actionPolicy(m, "other"), { retry: null, timeout: null });
});

Deno.test("plugin action retry: manifest mistakes are reported at their line and column", () => {
  const text = [
    "name: mailer",
    "version: 1.0.0",
    "provides: [send]",
    "retry:",
    "  sned: { attempts: 2 }",
    "  send: { attempts: 0, initial: soon, factor: 0.5, tries: 3 }",
    "timeout:",
    "  send: 0s",
  ].join("\n");
  assert.throws(() => parseManifest(text, "plugin.yaml"), (e: unknown) => {
    assert.ok(e instanceof ManifestError);
    const lines = e.message.split("\n").slice(1).map((l) => l.trim());
    const at = (prefix: string) => lines.find((l) => l.startsWith(prefix));
    assert.match(at("plugin.yaml:5:3") ?? "", /retry\.sned: "sned" is not in provides/);
    assert.match(at("plugin.yaml:6:21") ?? "", /retry\.send\.attempts/);
    assert.match(lines.join("\n"), /retry\.send\.initial: "soon" is not a duration/);
    assert.match(lines.join("\n"), /retry\.send\.factor/);
    assert.match(lines.join("\n"), /tries/);
    assert.match(at("plugin.yaml:8:9") ?? "", /timeout\.send: "0s" is not a positive duration/);
    return true;
  });
});
