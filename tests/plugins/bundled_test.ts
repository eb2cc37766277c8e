// The bundled plugins (plugins/audit-log, notifier, metrics), each loaded the way the runtime
// loads it (loadPlugins + PluginSupervisor, worker isolation) from a copy under /tmp, so that
// what they write stays out of the repository.
import { type DenoKvBackend, openDenoKvBackend } from "../../lib/persist/backend_deno_kv.ts";
import assert from "node:assert/strict";
import { loadPlugins } from "../../lib/plugins/loader.ts";
import { PluginSupervisor } from "../../lib/plugins/supervisor.ts";
import { PluginError } from "../../lib/plugins/types.ts";

const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname).replace(/\/$/, "");
const SDK_URL = new URL("../../lib/plugins/sdk.ts", import.meta.url).href;
const SDK_IMPORT = '"../../lib/plugins/sdk.ts"';

/** A transition as the runtime publishes it. */
function transition(seq: number, from: string[], to: string[], event: string) {
  return {
    type: "machine.transition",
    instance: "front-door",
    machine: "door",
    event,
    kind: "event",
    from,
    to,
    seq,
    time: Date.UTC(2025, 0, 1, 0, 0, seq),
    status: "active",
  };
}

/**
 * Copies `plugins/<name>` into a fresh plugin directory under /tmp (without its logs), with its
 * SDK import made absolute (the relative one points into the repository), and applies `edit`
 * to its files (name -> text). Returns the plugin directory.
 */
async function copyPlugin(
  name: string,
  edit: (files: Map<string, string>) => void = () => {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_bundled_" });
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(`${ROOT}/plugins/${name}`)) {
    if (entry.isFile) {
      files.set(entry.name, await Deno.readTextFile(`${ROOT}/plugins/${name}/${entry.name}`));
    }
  }
  const mod = files.get("mod.ts")!;
  assert.ok(mod.includes(SDK_IMPORT), `plugins/${name}/mod.ts imports the SDK as ${SDK_IMPORT}`);
  files.set("mod.ts", mod.replace(SDK_IMPORT, JSON.stringify(SDK_URL)));
  edit(files);
  await Deno.mkdir(`${dir}/${name}`);
  for (const [file, text] of files) await Deno.writeTextFile(`${dir}/${name}/${file}`, text);
  return dir;
}

/** Loads every plugin of `dir` into a supervisor, runs `fn`, closes everything, removes `dir`. */
async function withPlugins(
  dir: string,
  fn: (s: PluginSupervisor, logs: string[]) => Promise<void>,
  kv?: DenoKvBackend,
): Promise<void> {
  const store = kv ?? await openDenoKvBackend(":memory:");
  const logs: string[] = [];
  const supervisor = new PluginSupervisor({
    kv: store,
    heartbeatMs: 0,
    log: (plugin, level, message) => logs.push(`${plugin} ${level} ${message}`),
  });
  try {
    const report = await loadPlugins({ dirs: [dir], supervisor });
    assert.deepEqual(report.failed, []);
    assert.deepEqual(report.loaded.map((p) => [p.mode, p.state]), [["worker", "active"]]);
    await fn(supervisor, logs);
  } finally {
    await supervisor.close();
    if (kv === undefined) await store.close();
  }
}

/** The error a call rejected with, which must be a `PluginError` (a plugin-side error). */
async function pluginError(call: Promise<unknown>): Promise<PluginError> {
  try {
    const value = await call;
    assert.fail(`expected the call to fail, got ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof PluginError, `not a PluginError: ${e}`);
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// audit-log

Deno.test("audit-log: each transition is one JSON line in ./logs/audit.jsonl; tail and count read them", async () => {
  const dir = await copyPlugin("audit-log");
  const file = `${dir}/audit-log/logs/audit.jsonl`;
  try {
    await withPlugins(dir, async (s, logs) => {
      const t1 = transition(1, ["closed"], ["opened"], "OPEN");
      const t2 = transition(2, ["opened"], ["closed"], "CLOSE");
      const t3 = transition(3, ["closed"], ["locked"], "LOCK");
      // onLoad made the log folder; nothing is written before a transition.
      assert.equal((await Deno.stat(`${dir}/audit-log/logs`)).isDirectory, true);
      assert.equal(await s.call("audit-log", "count"), 0);
      assert.deepEqual(await s.call("audit-log", "tail"), []);

      for (const t of [t1, t2]) await s.emit(t);
      // The runtime publishes a transition and runs afterTransition with the same data: one line.
      await s.runHook("afterTransition", t2);
      // A transition seen only through the hook is logged too.
      await s.runHook("afterTransition", t3);
      // Not a machine event: not logged.
      await s.emit({ type: "order.created", id: 7 });

      assert.equal(await s.call("audit-log", "count"), 3);
      assert.deepEqual(await s.call("audit-log", "tail", { n: 2 }), [t2, t3]);
      assert.deepEqual(await s.call("audit-log", "tail", { n: 1000 }), [t1, t2, t3]);
      const error = await pluginError(s.call("audit-log", "tail", { n: 0 }));
      assert.equal(error.remoteName, "RangeError");
      assert.deepEqual(logs.filter((l) => / (warn|error) /.test(l)), []);
    });
    const lines = (await Deno.readTextFile(file)).split("\n");
    assert.equal(lines.pop(), "");
    assert.deepEqual(lines.map((l) => JSON.parse(l).seq), [1, 2, 3]);

    // A log of several read chunks (64 KiB; 1000 lines here are about 150 KiB), with characters
    // of several bytes.
    const more = Array.from(
      { length: 3000 },
      (_, i) => ({ seq: 4 + i, note: "porte ouverte 🚪 ".repeat(8) }),
    );
    await Deno.writeTextFile(file, more.map((e) => JSON.stringify(e) + "\n").join(""), {
      append: true,
    });
    await withPlugins(dir, async (s) => {
      assert.equal(await s.call("audit-log", "count"), 3003);
      assert.deepEqual(await s.call("audit-log", "tail", { n: 1000 }), more.slice(-1000));
      assert.deepEqual(await s.call("audit-log", "tail", 1), [more.at(-1)]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit-log: its write permission is ./logs only: elsewhere is NotCapable", async () => {
  // The same module and manifest, with a probe action added around its append helper.
  const dir = await copyPlugin("audit-log", (files) => {
    const manifest = files.get("plugin.yaml")!;
    assert.match(manifest, /^provides: \[tail, count\]$/m);
    files.set(
      "plugin.yaml",
      manifest.replace(/^provides: .*$/m, "entry: probe.ts\nprovides: [tail, count, probe]"),
    );
    files.set(
      "probe.ts",
      `import plugin, { appendJsonLine } from "./mod.ts";
export default {
  ...plugin,
  actions: { ...plugin.actions, probe: (path) => appendJsonLine(String(path), { probe: true }) },
};
`,
    );
  });
  const folder = `${dir}/audit-log`;
  try {
    await withPlugins(dir, async (s) => {
      await s.call("audit-log", "probe", `${folder}/logs/probe.jsonl`);
      for (const path of [`${folder}/escape.jsonl`, `${folder}/mod.ts`, `${dir}/outside.jsonl`]) {
        const error = await pluginError(s.call("audit-log", "probe", path));
        assert.equal(error.remoteName, "NotCapable", error.message);
        assert.match(error.message, /write access/);
      }
    });
    assert.equal(await Deno.readTextFile(`${folder}/logs/probe.jsonl`), '{"probe":true}\n');
    for (const path of [`${folder}/escape.jsonl`, `${dir}/outside.jsonl`]) {
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    }
    assert.doesNotMatch(await Deno.readTextFile(`${folder}/mod.ts`), /probe/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// metrics

Deno.test("metrics: counts events by type and transitions by machine and state, kept in its KV", async () => {
  const dir = await copyPlugin("metrics");
  const kv = await openDenoKvBackend(":memory:");
  try {
    await withPlugins(dir, async (s) => {
      await s.emit(transition(1, ["closed"], ["opened"], "OPEN"));
      await s.emit(transition(2, ["opened"], ["closed"], "CLOSE"));
      await s.emit({ ...transition(1, [], ["green", "green.walk"], "create"), machine: "light" });
      await s.emit({ type: "order.created" });
      await s.emit({ type: 'odd"type\\' });
      const snapshot = await s.call("metrics", "snapshot") as {
        events: Record<string, number>;
        transitions: Record<string, number>;
        states: Record<string, Record<string, number>>;
      };
      assert.equal(snapshot.events["machine.transition"], 3);
      assert.equal(snapshot.events["order.created"], 1);
      assert.deepEqual(snapshot.transitions, { door: 2, light: 1 });
      assert.deepEqual(snapshot.states, {
        door: { closed: 1, opened: 1 },
        light: { green: 1, "green.walk": 1 },
      });

      const text = await s.call("metrics", "prometheus") as string;
      const lines = text.split("\n");
      for (
        const line of [
          "# TYPE statecraft_events_total counter",
          'statecraft_events_total{type="machine.transition"} 3',
          'statecraft_events_total{type="order.created"} 1',
          'statecraft_events_total{type="odd\\"type\\\\"} 1',
          'statecraft_transitions_total{machine="door"} 2',
          'statecraft_state_transitions_total{machine="door",state="opened"} 1',
          'statecraft_state_transitions_total{machine="light",state="green.walk"} 1',
        ]
      ) assert.ok(lines.includes(line), `missing ${line} in:\n${text}`);
      assert.ok(text.endsWith("\n"));
    }, kv);
    // A new start (a new worker) begins from the counts in its KV.
    await withPlugins(dir, async (s) => {
      await s.emit(transition(3, ["closed"], ["opened"], "OPEN"));
      const snapshot = await s.call("metrics", "snapshot") as {
        events: Record<string, number>;
        transitions: Record<string, number>;
        states: Record<string, Record<string, number>>;
      };
      assert.equal(snapshot.events["machine.transition"], 4);
      assert.deepEqual(snapshot.transitions, { door: 3, light: 1 });
      assert.deepEqual(snapshot.states.door, { closed: 1, opened: 2 });
    }, kv);
  } finally {
    await kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// notifier: needs a local HTTP server, so net access to 127.0.0.1. The test task has none: there,
// the notifier tests run in a `deno test` subprocess granted --allow-net=127.0.0.1.

const HAS_NET = Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state === "granted";

interface Received {
  method: string;
  path: string;
  contentType: string | null;
  key: string | null;
  body: Record<string, unknown>;
}

/** An HTTP server on 127.0.0.1 that records requests; answers 503 to the text "fail". */
async function withServer(fn: (port: number, received: Received[]) => Promise<void>) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const body = await r.json();
    received.push({
      method: r.method,
      path: new URL(r.url).pathname,
      contentType: r.headers.get("content-type"),
      key: r.headers.get("idempotency-key"),
      body,
    });
    return new Response(null, { status: body.text === "fail" ? 503 : 204 });
  });
  try {
    await fn(server.addr.port, received);
  } finally {
    await server.shutdown();
  }
}

async function withNotifierHost(port: number, fn: () => Promise<void>): Promise<void> {
  Deno.env.set("NOTIFIER_HOST", `127.0.0.1:${port}`);
  try {
    await fn();
  } finally {
    Deno.env.delete("NOTIFIER_HOST");
  }
}

async function sha256(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

if (HAS_NET) {
  Deno.test("notifier: send POSTs JSON to http://$NOTIFIER_HOST/notify with an idempotency key", async () => {
    const dir = await copyPlugin("notifier");
    try {
      await withServer((port, received) =>
        withNotifierHost(port, () =>
          withPlugins(dir, async (s) => {
            const key = await sha256("warn\ndoor left open");
            const payload = { text: "door left open", level: "warn" };
            assert.deepEqual(await s.call("notifier", "send", payload), { status: 204, key });
            // The same message again carries the same key; an explicit key is used as given.
            await s.call("notifier", "send", payload);
            await s.call("notifier", "send", { text: "hello", key: "msg-42" });
            assert.deepEqual(received.map((r) => [r.method, r.path, r.contentType, r.key]), [
              ["POST", "/notify", "application/json", key],
              ["POST", "/notify", "application/json", key],
              ["POST", "/notify", "application/json", "msg-42"],
            ]);
            const { sentAt, ...body } = received[0].body;
            assert.deepEqual(body, { text: "door left open", level: "warn", plugin: "notifier" });
            assert.ok(!Number.isNaN(Date.parse(String(sentAt))));
            assert.equal(received[2].body.level, "info");

            const failed = await pluginError(s.call("notifier", "send", { text: "fail" }));
            assert.match(failed.message, /answered 503/);
            const invalid = await pluginError(s.call("notifier", "send", { level: "loud" }));
            assert.equal(invalid.remoteName, "TypeError");
          }))
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("notifier: a URL to another host than its one permission is refused (NotCapable)", async () => {
    const dir = await copyPlugin("notifier", (files) => {
      const manifest = files.get("plugin.yaml")!;
      assert.match(
        manifest,
        /^ {2}url: "http:\/\/\$\{NOTIFIER_HOST:-127\.0\.0\.1:8787\}\/notify"$/m,
      );
      files.set(
        "plugin.yaml",
        manifest.replace(/^ {2}url: .*$/m, '  url: "http://example.com/notify"'),
      );
    });
    try {
      await withServer((port, received) =>
        withNotifierHost(port, () =>
          withPlugins(dir, async (s) => {
            const error = await pluginError(s.call("notifier", "send", { text: "leak" }));
            assert.equal(error.remoteName, "NotCapable", error.message);
            assert.match(error.message, /net access to "example\.com/);
            assert.deepEqual(received, []);
          }))
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
} else {
  Deno.test("notifier: (in a subprocess with --allow-net=127.0.0.1)", async () => {
    const output = await new Deno.Command("deno", {
      args: [
        "test",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        "--allow-net=127.0.0.1",
        "--filter",
        "notifier:",
        "tests/plugins/bundled_test.ts",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, text);
    assert.match(text, /ok \| 2 passed \| 0 failed/, text);
  });
}
