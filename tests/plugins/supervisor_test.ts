// The supervisor: lifecycle, calls, rate limits, retries, restarts, heartbeats, bus, hooks,
// reload and unload, in worker and process isolation.
import { openDenoKvBackend } from "../../lib/persist/backend_deno_kv.ts";
import assert from "node:assert/strict";
import { type PluginSpec, PluginSupervisor } from "../../lib/plugins/supervisor.ts";
import { PluginError, PluginHostError } from "../../lib/plugins/types.ts";
import type { EventObject } from "../../lib/core/types.ts";
import { waitFor } from "../_wait.ts";

const FIXTURES = new URL("../fixtures/plugins/sup/", import.meta.url).pathname;

function spec(name: string, overrides: Partial<PluginSpec> = {}): PluginSpec {
  const folder = overrides.dir ?? `${FIXTURES}${name === "echo2" ? "echo" : name}`;
  return {
    name,
    version: "1.0.0",
    dir: folder,
    entryPath: `${folder}/mod.ts`,
    isolation: "worker",
    permissions: { read: [], write: [], net: [], env: [], run: [], ffi: [], sys: [] },
    provides: [],
    idempotent: [],
    subscribes: [],
    hooks: [],
    limits: {
      callTimeoutMs: 2000,
      callsPerSecond: 1000,
      memoryMb: 128,
      maxMessageBytes: 1_000_000,
    },
    config: {},
    ...overrides,
  };
}

async function withSupervisor(
  fn: (s: PluginSupervisor, logs: string[]) => Promise<void>,
  options: ConstructorParameters<typeof PluginSupervisor>[0] = {},
): Promise<void> {
  const kv = await openDenoKvBackend(":memory:");
  const logs: string[] = [];
  const s = new PluginSupervisor({
    kv,
    heartbeatMs: 0,
    restartBackoffMs: 10,
    log: (plugin, level, message) => logs.push(`${plugin} ${level} ${message}`),
    ...options,
  });
  try {
    await fn(s, logs);
  } finally {
    await s.close();
    await kv.close();
  }
}

Deno.test("a plugin goes through its lifecycle to active and answers calls", async () => {
  await withSupervisor(async (s, logs) => {
    const states: string[] = [];
    s.bus.subscribe("plugin.state", (e) => void states.push(String(e.state)));
    const info = await s.add(spec("echo"));
    assert.equal(info.state, "active");
    assert.ok(info.actions.includes("echo"));
    assert.deepEqual(states, ["loading", "active"]);
    assert.deepEqual(await s.call("echo", "echo", { a: [1, 2] }), { a: [1, 2] });
    assert.equal(await s.call("echo", "count"), 1);
    assert.equal(await s.call("echo", "count"), 2);
    assert.ok(logs.includes("echo info echo 1.0.0 loaded"));
    assert.equal(s.get("echo")?.calls, 3);
  });
});

Deno.test("errors come back as PluginError; unknown plugins and actions are clear errors", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo"));
    await assert.rejects(s.call("echo", "fail"), (e: unknown) => {
      assert.ok(e instanceof PluginError);
      assert.equal(e.remoteName, "RangeError");
      assert.match(e.message, /plugin "echo": RangeError: asked to fail/);
      return true;
    });
    await assert.rejects(s.call("echo", "nope"), /plugin "echo" has no action "nope"/);
    await assert.rejects(s.call("ghost", "echo"), /no plugin "ghost"/);
    assert.equal(await s.call("echo", "echo", 1), 1, "still serving");
  });
});

Deno.test("a plugin whose onLoad throws ends failed and is reported", async () => {
  await withSupervisor(async (s) => {
    await assert.rejects(s.add(spec("broken")), /cannot start: missing database/);
    assert.equal(s.get("broken")?.state, "failed");
    assert.match(s.get("broken")?.lastError ?? "", /missing database/);
    await assert.rejects(s.call("broken", "echo"), /plugin "broken" is failed: .*missing database/);
  });
});

Deno.test("a manifest that provides an action the module lacks fails to load", async () => {
  await withSupervisor(async (s) => {
    await assert.rejects(
      s.add(spec("echo", { provides: ["echo", "teleport"] })),
      /provides "teleport" in its manifest but its module does not export such actions/,
    );
  });
});

Deno.test("rate limit: a token bucket per plugin", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { limits: { ...spec("echo").limits, callsPerSecond: 5 } }));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => s.call("echo", "echo", 1)),
    );
    const limited = results.filter((r) =>
      r.status === "rejected" && r.reason instanceof PluginHostError &&
      r.reason.code === "rate_limited"
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
    assert.equal(limited.length, 3);
  });
});

for (const isolation of ["worker", "process"] as const) {
  Deno.test(`${isolation}: a crash restarts the plugin with backoff; it serves again`, async () => {
    await withSupervisor(async (s) => {
      await s.add(spec("echo", { isolation }));
      await assert.rejects(s.call("echo", "crash"));
      // A worker's Deno.exit ends the worker without an error event; the call times out or
      // the host reports the exit, and the supervisor restarts it either way.
      await waitFor(
        "the restarted plugin to answer",
        async () => await s.call("echo", "echo", "back") === "back",
        { everyMs: 25, retryErrors: true },
      );
      assert.ok((s.get("echo")?.restarts ?? 0) >= (isolation === "process" ? 1 : 0));
    }, { heartbeatMs: 100, heartbeatTimeoutMs: 200 });
  });
}

Deno.test("idempotent actions are retried through crashes; others are not", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { isolation: "process", idempotent: ["flaky"] }));
    // flaky crashes the process twice; the retries go through both restarts.
    assert.equal(await s.call("echo", "flaky"), "answered on attempt 3");
    assert.equal(s.get("echo")?.restarts, 2);
    await waitFor("the plugin active again", () => s.get("echo")?.state === "active");
    // crash is not idempotent: one attempt, the error comes back.
    await assert.rejects(s.call("echo", "crash"), /crashed|exited/);
  }, { retries: 6, retryBackoffMs: 100 });
});

Deno.test("process mode: a busy loop is killed within twice its timeout and restarted", async () => {
  await withSupervisor(async (s) => {
    await s.add(
      spec("echo", {
        isolation: "process",
        limits: { ...spec("echo").limits, callTimeoutMs: 500 },
      }),
    );
    const t0 = performance.now();
    await assert.rejects(s.call("echo", "spin"), (e: unknown) => {
      assert.ok(e instanceof PluginHostError && e.code === "timeout");
      return true;
    });
    assert.ok(performance.now() - t0 < 1000, "rejected within twice the timeout");
    await waitFor(
      "the restarted plugin to answer",
      async () => await s.call("echo", "echo", 1) === 1,
      { everyMs: 20, retryErrors: true },
    );
    assert.equal(await s.call("echo", "echo", 2), 2);
    assert.equal(s.get("echo")?.restarts, 1);
  });
});

Deno.test("restarts are bounded: after the budget the plugin is failed", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { isolation: "process" }));
    // The first crash uses the one restart; the second ends it.
    await s.call("echo", "crash").catch(() => {});
    await waitFor("the restart", () => {
      const info = s.get("echo");
      return info?.state === "active" && info.restarts === 1;
    });
    await s.call("echo", "crash").catch(() => {});
    await waitFor("the plugin failed", () => s.get("echo")?.state === "failed");
    assert.match(s.get("echo")?.lastError ?? "", /exited/);
  }, { maxRestarts: 1 });
});

Deno.test("bus: plugins receive what they subscribe to, in priority order; emits reach the bus", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { subscribes: ["ping.*"] }));
    const order: string[] = [];
    s.bus.subscribe("ping", () => void order.push("low"), { priority: -1 });
    s.bus.subscribe("ping", () => void order.push("high"), { priority: 10 });
    assert.equal(await s.emit({ type: "ping.one" }), 3);
    await s.emit({ type: "pong" });
    assert.deepEqual(order, ["high", "low"]);
    assert.deepEqual(await s.call("echo", "seen"), ["event:ping.one"]);
    const shouted: EventObject[] = [];
    s.bus.subscribe("echo.*", (e) => void shouted.push(e));
    await s.call("echo", "shout", "hi");
    await waitFor("the shout on the bus", () => shouted.length > 0);
    assert.deepEqual(shouted, [{ type: "echo.shouted", text: "hi", plugin: "echo" }]);
  });
});

Deno.test("bus: a failing handler is isolated and reported", async () => {
  const failures: string[] = [];
  await withSupervisor(async (s) => {
    s.bus.subscribe("x", () => {
      throw new Error("handler broke");
    }, { name: "bad" });
    let reached = false;
    s.bus.subscribe("x", () => void (reached = true), { priority: -5 });
    assert.equal(await s.emit({ type: "x" }), 1);
    assert.equal(reached, true);
  }, { log: (p, _l, m) => failures.push(`${p}: ${m}`) });
  assert.deepEqual(failures, ['bad: handler of "x" failed: handler broke']);
});

Deno.test("hooks run only in plugins that declare them", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { hooks: ["afterTransition"] }));
    await s.add(spec("echo2"));
    await s.runHook("afterTransition", { instance: "door-1", to: ["open"] });
    assert.deepEqual(await s.call("echo", "seen"), ['hook:{"instance":"door-1","to":["open"]}']);
    assert.deepEqual(await s.call("echo2", "seen"), []);
  });
});

Deno.test("reload: the new version serves; a failing new version leaves the old one serving", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo", { config: { v: 1 } }));
    await s.reload("echo", spec("echo", { version: "1.1.0", config: { v: 2 } }));
    assert.equal(await s.call("echo", "version"), "1.1.0");
    assert.deepEqual(await s.call("echo", "config"), { v: 2 });
    await assert.rejects(
      s.reload(
        "echo",
        spec("echo", {
          version: "2.0.0",
          dir: `${FIXTURES}broken`,
          entryPath: `${FIXTURES}broken/mod.ts`,
        }),
      ),
      /missing database/,
    );
    assert.equal(s.get("echo")?.state, "active");
    assert.match(s.get("echo")?.lastError ?? "", /missing database/);
    assert.equal(await s.call("echo", "version"), "1.1.0", "the old version keeps serving");
  });
});

Deno.test("unload runs onUnload, stops the plugin and forgets it", async () => {
  await withSupervisor(async (s) => {
    await s.add(spec("echo"));
    await s.unload("echo");
    assert.equal(s.get("echo"), undefined);
    await assert.rejects(s.call("echo", "echo", 1), /no plugin "echo"/);
  });
});

Deno.test("process mode: a stuck plugin (no heartbeat) is killed and restarted", async () => {
  await withSupervisor(async (s) => {
    await s.add(
      spec("echo", {
        isolation: "process",
        limits: { ...spec("echo").limits, callTimeoutMs: 60_000 },
      }),
    );
    const stuck: string[] = [];
    s.bus.subscribe("plugin.stuck", (e) => void stuck.push(String(e.plugin)));
    s.call("echo", "spin").catch(() => {});
    await waitFor("the stuck signal", () => stuck.length > 0);
    assert.deepEqual(stuck, ["echo"]);
    await waitFor(
      "the restarted plugin to answer",
      async () => await s.call("echo", "echo", 7) === 7,
      { everyMs: 20, retryErrors: true },
    );
    assert.equal(await s.call("echo", "echo", 8), 8);
  }, { heartbeatMs: 100, heartbeatTimeoutMs: 200 });
});

Deno.test("close: hooks already running finish before the plugins stop", async () => {
  const kv = await openDenoKvBackend(":memory:");
  const logs: string[] = [];
  const s = new PluginSupervisor({
    kv,
    heartbeatMs: 0,
    log: (plugin, level, message) => logs.push(`${plugin} ${level} ${message}`),
  });
  try {
    await s.add(spec("echo", { hooks: ["afterTransition"] }));
    // Transitions committed just before a close: their hooks are still on their way.
    const runs = [1, 2, 3, 4].map((n) => s.runHook("afterTransition", { seq: n }));
    await s.close();
    await Promise.all(runs);
    assert.deepEqual(logs.filter((l) => / error /.test(l)), []);
  } finally {
    kv.close();
  }
});
