// Security tests of the plugin isolation layer (issue #4): each hostile plugin under
// tests/fixtures/plugins/hostile/ is contained with a clear error while the host process and a
// well-behaved plugin in the same mode keep serving.
//
// `worker` and `process` sandbox a plugin; `trusted` runs it in this process by design, so it is
// only tested for errors and throws being contained (and for what the host itself enforces: the
// message size limit and KV namespaces).
import { openDenoKvBackend } from "../../lib/persist/backend_deno_kv.ts";
import assert from "node:assert/strict";
import { type ProcessHost, type WorkerHost } from "../../lib/plugins/host.ts";
import { toSpec } from "../../lib/plugins/loader.ts";
import { loadManifest } from "../../lib/plugins/manifest.ts";
import { PluginServices } from "../../lib/plugins/services.ts";
import { type PluginSpec, PluginSupervisor } from "../../lib/plugins/supervisor.ts";
import {
  type HookName,
  type IsolationMode,
  PluginError,
  PluginHostError,
} from "../../lib/plugins/types.ts";
import type { EventObject } from "../../lib/core/types.ts";
import {
  assertServes,
  HOSTILE_DIR,
  ISOLATED,
  rejection,
  ROOT,
  spawnJsonChild,
  type Started,
  startPlugin,
  stopAll,
  symlink,
} from "./_hosts.ts";
import { waitFor } from "../_wait.ts";

/** Asserts `error` is a `PluginError` from `plugin` named `remoteName` whose message has `text`. */
function assertPluginError(
  error: Error,
  plugin: string,
  remoteName: string,
  text: string | RegExp,
): void {
  assert.ok(error instanceof PluginError, `expected a PluginError, got ${error.name}: ${error}`);
  assert.equal(error.plugin, plugin);
  assert.equal(error.remoteName, remoteName, error.message);
  if (typeof text === "string") assert.ok(error.message.includes(text), error.message);
  else assert.match(error.message, text);
}

/** Asserts `error` is a `PluginHostError` with `code` whose message matches `text`. */
function assertHostError(error: Error, code: string, text: RegExp): void {
  assert.ok(
    error instanceof PluginHostError,
    `expected a PluginHostError, got ${error.name}: ${error.message}`,
  );
  assert.equal(error.code, code, error.message);
  assert.match(error.message, text);
}

/** A refused Deno operation: `NotCapable`, naming what was refused. */
async function assertNotCapable(
  bad: Started,
  action: string,
  payload: unknown,
  text: string | RegExp,
): Promise<PluginError> {
  const { error } = await rejection(bad.host.call(action, payload));
  assertPluginError(error, bad.host.name, "NotCapable", text);
  // A refused operation is an ordinary error: the plugin is not killed for it.
  assert.equal(bad.host.alive, true);
  assert.deepEqual(bad.exits, []);
  return error as PluginError;
}

/** Starts the well-behaved plugin and a hostile one in `mode`, runs `fn`, stops both. */
async function withPlugins(
  mode: IsolationMode,
  hostile: Parameters<typeof startPlugin>,
  fn: (bad: Started, good: Started) => Promise<void>,
): Promise<void> {
  let good: Started | undefined;
  let bad: Started | undefined;
  try {
    good = await startPlugin(mode, "good");
    bad = await startPlugin(...hostile);
    await assertServes(good);
    await fn(bad, good);
    await assertServes(good);
  } finally {
    await stopAll(bad, good);
  }
}

// -------------------------------------------------------------------------------------------
// The fixtures themselves

Deno.test("every hostile fixture has a valid manifest that lists its actions", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(HOSTILE_DIR)) {
    if (entry.isDirectory) folders.push(entry.name);
  }
  folders.sort();
  assert.ok(folders.length >= 16, folders.join(", "));
  for (const folder of folders) {
    const loaded = await loadManifest(`${HOSTILE_DIR}/${folder}`);
    assert.equal(loaded.manifest.name, folder);
    assert.equal(loaded.entryPath, `${HOSTILE_DIR}/${folder}/mod.ts`);
    const plugin = await startPlugin("worker", folder);
    try {
      assert.deepEqual(
        [...plugin.started as string[]].sort(),
        [...loaded.manifest.provides].sort(),
        `${folder}: provides`,
      );
    } finally {
      await stopAll(plugin);
    }
  }
});

// -------------------------------------------------------------------------------------------
// 1-6: Deno permissions

for (const mode of ISOLATED) {
  Deno.test(`${mode}: reading /etc/passwd is refused with NotCapable naming the path`, async () => {
    await withPlugins(mode, [mode, "fs-read"], async (bad) => {
      const error = await assertNotCapable(bad, "read", "/etc/passwd", '"/etc/passwd"');
      assert.match(error.message, /read access/);
      await assertNotCapable(bad, "readSync", "/etc/passwd", '"/etc/passwd"');
      // Other places outside its folder are refused too: the repository, a sibling plugin.
      await assertNotCapable(bad, "read", `${ROOT}/deno.json`, `"${ROOT}/deno.json"`);
      await assertNotCapable(bad, "read", `${HOSTILE_DIR}/good/mod.ts`, "good/mod.ts");
      // ... also when reached through `..` from its own folder.
      await assertNotCapable(bad, "read", `${HOSTILE_DIR}/fs-read/../good/mod.ts`, "good/mod.ts");
      // Nor can it open a KV file (the runtime's store, say) behind the services' back.
      await assertNotCapable(bad, "openKv", "/tmp/statecraft_store.kv", /read access/);
      // Its own folder is readable (that is where its code comes from).
      const own = await bad.host.call("read", `${HOSTILE_DIR}/fs-read/plugin.yaml`);
      assert.match(String(own), /name: fs-read/);
    });
  });

  Deno.test(`${mode}: writing outside the granted folder is refused; inside works`, async () => {
    const granted = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_granted_" });
    const other = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_other_" });
    try {
      await withPlugins(
        mode,
        [mode, "fs-write", { permissions: { write: [granted] } }],
        async (bad) => {
          const inside = `${granted}/inside.txt`;
          assert.equal(await bad.host.call("write", { path: inside, text: "allowed" }), inside);
          assert.equal(await Deno.readTextFile(inside), "allowed");
          assert.equal(await bad.host.call("mkdir", `${granted}/a/b`), `${granted}/a/b`);

          const outside = `${other}/evil.txt`;
          const error = await assertNotCapable(bad, "write", { path: outside, text: "x" }, outside);
          assert.match(error.message, /write access/);
          // Through `..` out of the grant: Deno checks the normalised path.
          const dotdot = `${granted}/../${other.slice("/tmp/".length)}/dotdot.txt`;
          await assertNotCapable(bad, "write", { path: dotdot, text: "x" }, "dotdot.txt");
          await assertNotCapable(bad, "mkdir", `${other}/sub`, `${other}/sub`);
          const tmp = "/tmp/statecraft_evil.txt";
          await assertNotCapable(bad, "write", { path: tmp, text: "x" }, `"${tmp}"`);
          // Nothing was written outside.
          assert.deepEqual(await Array.fromAsync(Deno.readDir(other)), []);
          await assert.rejects(Deno.stat("/tmp/statecraft_evil.txt"), Deno.errors.NotFound);
        },
      );
    } finally {
      await Deno.remove(granted, { recursive: true });
      await Deno.remove(other, { recursive: true });
    }
  });

  Deno.test(`${mode}: reading an undeclared env variable is refused with NotCapable`, async () => {
    Deno.env.set("STATECRAFT_HOSTILE_DECLARED", "declared-value");
    Deno.env.set("STATECRAFT_HOSTILE_SECRET", "secret-value");
    try {
      await withPlugins(
        mode,
        [mode, "env-read", { permissions: { env: ["STATECRAFT_HOSTILE_DECLARED"] } }],
        async (bad) => {
          const error = await assertNotCapable(
            bad,
            "get",
            "STATECRAFT_HOSTILE_SECRET",
            '"STATECRAFT_HOSTILE_SECRET"',
          );
          assert.match(error.message, /env access/);
          await assertNotCapable(bad, "get", "HOME", '"HOME"');
          await assertNotCapable(bad, "get", "PATH", '"PATH"');
          // The whole environment at once needs access to every variable.
          await assertNotCapable(bad, "all", null, /env access/);
          // System information needs `sys`.
          await assertNotCapable(bad, "hostname", null, /sys access to "hostname"/);
          if (mode === "worker") {
            // A worker shares this process's environment: the declared variable is readable.
            assert.equal(
              await bad.host.call("get", "STATECRAFT_HOSTILE_DECLARED"),
              "declared-value",
            );
          } else {
            // The declared variable's value arrives (the environment holds what is declared).
            await bad.host.call("get", "STATECRAFT_HOSTILE_DECLARED");
          }
        },
      );
    } finally {
      Deno.env.delete("STATECRAFT_HOSTILE_DECLARED");
      Deno.env.delete("STATECRAFT_HOSTILE_SECRET");
    }
  });

  Deno.test(`${mode}: fetching without net permission is refused; with it, it works`, async () => {
    // The server runs in a child process: the test task itself has no net permission.
    const server = await spawnJsonChild([
      "run",
      "--allow-net=127.0.0.1",
      "tests/plugins/_serve_child.ts",
    ]);
    const { port } = server.json as { port: number };
    const url = `http://127.0.0.1:${port}/`;
    const otherPort = port === 65535 ? port - 1 : port + 1;
    try {
      await withPlugins(mode, [mode, "net-fetch"], async (bad) => {
        const error = await assertNotCapable(bad, "fetch", url, `"127.0.0.1:${port}"`);
        assert.match(error.message, /net access/);
        await assertNotCapable(
          bad,
          "connect",
          { hostname: "127.0.0.1", port },
          `"127.0.0.1:${port}"`,
        );
      });
      const grant = { permissions: { net: [`127.0.0.1:${port}`] } };
      const hostHasNet = Deno.permissions.querySync({ name: "net", host: `127.0.0.1:${port}` })
        .state === "granted";
      if (!hostHasNet) {
        // A plugin never gets a permission this process lacks (worker or process): the start
        // fails, clearly.
        const { error } = await rejection(startPlugin(mode, "net-fetch", grant));
        assertHostError(
          error,
          "invalid",
          /net-fetch" (cannot start: .*escalate|asks for permissions this process does not have)/,
        );
        return;
      }
      await withPlugins(mode, [mode, "net-fetch", grant], async (bad) => {
        assert.equal(await bad.host.call("fetch", url), "hello from the host");
        // Only that host and port: another port is still refused.
        await assertNotCapable(
          bad,
          "connect",
          { hostname: "127.0.0.1", port: otherPort },
          `"127.0.0.1:${otherPort}"`,
        );
      });
    } finally {
      const { status, stderr } = await server.stop();
      assert.equal(status.code, 0, stderr);
    }
  });

  Deno.test(`${mode}: starting a program is refused with NotCapable`, async () => {
    await withPlugins(mode, [mode, "run-command"], async (bad) => {
      const error = await assertNotCapable(bad, "run", "/bin/sh", /run access to "\/bin\/sh"/);
      assert.match(error.message, /run access/);
      await assertNotCapable(bad, "spawn", Deno.execPath(), `run access to "${Deno.execPath()}"`);
      // The program this host itself may run, by name: refused too.
      const { error: byName } = await rejection(bad.host.call("spawn", "deno"));
      if (mode === "worker" || (byName as PluginError).remoteName !== "NotFound") {
        assertPluginError(byName, "run-command", "NotCapable", 'run access to "deno"');
      } else {
        assertPluginError(byName, "run-command", "NotFound", "Failed to spawn 'deno'");
      }
      // Signalling another process needs run access too: this process's parent, and in process
      // mode the host (the plugin's parent).
      // In a worker, Deno.kill is refused outright (its Deno.pid is the host's).
      const targets = mode === "process" ? [Deno.ppid, Deno.pid] : [Deno.ppid];
      for (const pid of targets) {
        await assertNotCapable(
          bad,
          "kill",
          { pid, signal: "SIGCONT" },
          mode === "worker" ? /Deno\.kill is not available/ : /run access/,
        );
      }
    });
  });

  Deno.test(`${mode}: loading a native library (FFI) is refused with NotCapable`, async () => {
    await withPlugins(mode, [mode, "ffi-dlopen"], async (bad) => {
      await assertNotCapable(bad, "dlopen", "libc.so.6", /ffi access to "libc\.so\.6"/);
      await assertNotCapable(
        bad,
        "dlopen",
        "/lib/x86_64-linux-gnu/libc.so.6",
        /ffi access to "\/lib\/x86_64-linux-gnu\/libc\.so\.6"/,
      );
    });
  });
}

Deno.test("process: a plugin signalling its own process ends only itself", async () => {
  await withPlugins("process", ["process", "run-command"], async (bad) => {
    const { error } = await rejection(bad.host.call("kill", { pid: "self", signal: "SIGKILL" }));
    assertHostError(error, "crashed", /^plugin "run-command" exited \(signal SIGKILL\)$/);
    assert.deepEqual(bad.exits, ["exited (signal SIGKILL)"]);
  });
});

Deno.test({
  // Deno lets a process signal itself without run permission, and a worker's Deno.pid is the
  // host's: without care a plugin with no permissions at all could kill its host with
  // Deno.kill(Deno.pid, "SIGKILL"). worker_entry.ts refuses Deno.kill. Runs in a child process.
  name: "worker: a plugin cannot kill the host process with Deno.kill(Deno.pid)",
  fn: async () => {
    const child = await spawnJsonChild([
      "run",
      "--unstable-worker-options",
      "--allow-read",
      "tests/plugins/_kill_host_child.ts",
      "SIGKILL",
    ]);
    const { status } = await child.stop();
    assert.equal(status.code, 0);
    const seen = child.json as { error?: string; goodServes: string; survived: boolean };
    assert.equal(seen.survived, true);
    assert.match(seen.error ?? "", /NotCapable/);
    assert.equal(seen.goodServes, "yes");
  },
});

for (const mode of ISOLATED) {
  Deno.test({
    // Deno checks permissions on the path as written, without following symbolic links, and a
    // plugin may read its whole folder: a link `etc -> /etc` in it would reach /etc/passwd.
    // The hosts refuse a plugin folder holding any symbolic link.
    name: `${mode}: a symbolic link in the plugin's folder does not widen its read access`,
    fn: async () => {
      const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_symlinked_" });
      let bad: Started | undefined;
      try {
        await Deno.writeTextFile(
          `${dir}/mod.ts`,
          "export default { actions: { read: (p) => Deno.readTextFile(String(p)) } };\n",
        );
        await symlink("/etc", `${dir}/etc`);
        try {
          bad = await startPlugin(mode, "symlinked", { dir });
        } catch (e) {
          // Refusing the folder is as good as refusing the read.
          assertHostError(e as Error, "invalid", /symbolic link/);
          return;
        }
        const { error } = await rejection(bad.host.call("read", `${dir}/etc/passwd`));
        assertPluginError(error, "symlinked", "NotCapable", "/etc/passwd");
      } finally {
        await stopAll(bad);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

// -------------------------------------------------------------------------------------------
// 7: Deno.exit inside an action

Deno.test("process: Deno.exit(7) in an action fails the call as crashed; others serve", async () => {
  await withPlugins("process", ["process", "exits"], async (bad) => {
    const { error } = await rejection(bad.host.call("exit", 7));
    assertHostError(error, "crashed", /^plugin "exits" exited \(code 7\)$/);
    assert.equal(bad.host.alive, false);
    assert.deepEqual(bad.exits, ["exited (code 7)"]);
    const next = await rejection(bad.host.call("ok", null));
    assertHostError(next.error, "not_running", /^plugin "exits" is not running$/);
  });
});

Deno.test("worker: Deno.exit(7) in an action fails the call as crashed; others serve", async () => {
  await withPlugins(
    "worker",
    ["worker", "exits", { limits: { callTimeoutMs: 2000 } }],
    async (bad) => {
      const { error, ms } = await rejection(bad.host.call("exit", 7));
      assertHostError(error, "crashed", /^plugin "exits" exited \(code 7\)$/);
      // Reported at once, not when the call times out.
      assert.ok(ms < 1000, `took ${ms} ms`);
      assert.equal(bad.host.alive, false);
      assert.equal((bad.host as WorkerHost).stuck, false);
      assert.deepEqual(bad.exits, ["exited (code 7)"]);
      const next = await rejection(bad.host.call("ok", null));
      assertHostError(next.error, "not_running", /^plugin "exits" is not running$/);
    },
  );
});

Deno.test("worker: self.close() in an action ends the worker only; others serve", async () => {
  const timeout = 500;
  await withPlugins(
    "worker",
    ["worker", "exits", { limits: { callTimeoutMs: timeout } }],
    async (bad) => {
      const { error } = await rejection(bad.host.call("close", null));
      // Contained either way (see the test below for the worker's self.close()).
      assert.ok(error instanceof PluginHostError, String(error));
      if (error.code === "timeout") {
        assert.equal(error.message, "exits.close did not answer within 500 ms");
        assert.equal(await bad.host.ping(100), false);
      } else {
        assertHostError(error, "crashed", /^plugin "exits" /);
      }
    },
  );
});

Deno.test({
  // A worker that calls self.close() ends; worker_entry.ts reports it (as for Deno.exit), so
  // the call fails at once as crashed instead of waiting for its timeout.
  name: "worker: self.close() in an action is reported as crashed, not as a timeout",
  fn: async () => {
    await withPlugins(
      "worker",
      ["worker", "exits", { limits: { callTimeoutMs: 2000 } }],
      async (bad) => {
        const { error, ms } = await rejection(bad.host.call("close", null));
        assertHostError(error, "crashed", /^plugin "exits" /);
        assert.ok(ms < 1000, `took ${ms} ms`);
        assert.equal(bad.host.alive, false);
        assert.equal(bad.exits.length, 1);
      },
    );
  },
});

// -------------------------------------------------------------------------------------------
// 8: throwing everywhere

const HOOKS: HookName[] = [
  "load",
  "unload",
  "reload",
  "beforeTransition",
  "afterTransition",
  "instanceCreated",
  "instanceDone",
];

for (const mode of ["trusted", ...ISOLATED] as const) {
  Deno.test(`${mode}: a throw in every lifecycle phase, hook and handler is contained`, async () => {
    await withPlugins(mode, [mode, "thrower"], async (bad) => {
      const host = bad.host;
      const expectThrow = async (promise: Promise<unknown>, where: string) => {
        const { error } = await rejection(promise);
        assertPluginError(error, "thrower", "RangeError", `thrower failed in ${where}`);
        assert.equal(error.message, `plugin "thrower": RangeError: thrower failed in ${where}`);
        assert.match((error as PluginError).remoteStack ?? "", /thrower\/mod\.ts/);
        // Still serving.
        assert.equal(await host.call("ok", null), "still serving");
      };
      await expectThrow(host.lifecycle("load"), "onLoad");
      await expectThrow(host.lifecycle("reload"), "onReload");
      for (const hook of HOOKS) {
        await expectThrow(host.hook(hook, { instanceId: "i1" }), `hooks.${hook}`);
      }
      await expectThrow(host.event({ type: "order.created" }, "order.*"), "events[order.*]");
      await expectThrow(host.call("boom", null), "actions.boom");
      await expectThrow(host.lifecycle("unload"), "onUnload");

      // Thrown values that are not errors cross as text.
      const str = await rejection(host.call("throwString", null));
      assertPluginError(str.error, "thrower", "Error", /^plugin "thrower": Error: a plain string$/);
      const obj = await rejection(host.call("rejectObject", null));
      assertPluginError(obj.error, "thrower", "Error", '{"detail":42}');
      if (mode === "worker") {
        // A result that cannot be cloned is an error, not a hang.
        const fn = await rejection(host.call("uncloneable", null));
        assertPluginError(fn.error, "thrower", "DataCloneError", /could not be cloned/);
      } else if (mode === "process") {
        // JSON drops functions.
        assert.deepEqual(await host.call("uncloneable", null), {});
      }
      assert.equal(host.alive, true);
      assert.deepEqual(bad.exits, []);
      assert.equal(await host.call("ok", null), "still serving");
    });
  });
}

// -------------------------------------------------------------------------------------------
// 9: infinite loop

Deno.test("process: a busy loop is killed within twice the call timeout", async () => {
  const timeout = 500;
  await withPlugins(
    "process",
    ["process", "busy-loop", { limits: { callTimeoutMs: timeout } }],
    async (bad) => {
      const t0 = performance.now();
      const call = rejection(bad.host.call("spin", null));
      // When it died is what is measured: looked at every 10 ms.
      const killedMs = await waitFor(
        "the kill of the busy plugin",
        () => !bad.host.alive && performance.now() - t0,
        { ms: 4 * timeout },
      );
      const { error, ms } = await call;
      assertHostError(error, "timeout", /^busy-loop\.spin did not answer within 500 ms$/);
      assert.ok(ms >= timeout - 50 && ms < 2 * timeout + 250, `rejected after ${ms} ms`);
      assert.ok(killedMs < 2 * timeout + 250, `killed after ${killedMs} ms`);
      assert.deepEqual(bad.exits, ["was killed: busy-loop.spin did not answer in time"]);
      const next = await rejection(bad.host.call("ok", null));
      assertHostError(next.error, "not_running", /not running/);
    },
  );
});

Deno.test("worker: a busy loop times out and the worker is reported stuck", async () => {
  // A worker in a busy loop cannot be terminated and keeps its process alive: the case runs in
  // a child process that prints what it saw, then is killed.
  const child = await spawnJsonChild([
    "run",
    "--unstable-worker-options",
    "--allow-read",
    "tests/plugins/_busy_worker_child.ts",
  ]);
  const { status } = await child.stop("SIGKILL");
  assert.equal(status.signal, "SIGKILL");
  const seen = child.json as {
    timeoutMs: number;
    error: { name: string; code: string; message: string };
    ms: number;
    stuck: boolean;
    alive: boolean;
    exits: string[];
    goodServes: string;
    pingAfter: boolean;
    nextCall: { code: string; message: string };
    aliveAfterStop: boolean;
    goodServesAfterStop: string;
  };
  assert.equal(seen.error.name, "PluginHostError");
  assert.equal(seen.error.code, "timeout");
  assert.equal(seen.error.message, `busy-loop.spin did not answer within ${seen.timeoutMs} ms`);
  assert.ok(seen.ms < 2 * seen.timeoutMs + 250, `rejected after ${seen.ms} ms`);
  assert.equal(seen.stuck, true);
  assert.equal(seen.goodServes, "yes");
  assert.equal(seen.pingAfter, false);
  assert.equal(seen.nextCall.code, "timeout");
  assert.equal(seen.aliveAfterStop, false);
  assert.equal(seen.goodServesAfterStop, "yes");
});

// -------------------------------------------------------------------------------------------
// 10: unbounded allocation

Deno.test("process: allocating without bound dies out of memory at memoryMb", async () => {
  await withPlugins(
    "process",
    ["process", "memory-hog", { limits: { memoryMb: 64, callTimeoutMs: 10_000 } }],
    async (bad) => {
      const { error } = await rejection(bad.host.call("hog", null));
      assertHostError(error, "crashed", /^plugin "memory-hog" exited \(.*\)/);
      assert.equal(bad.host.alive, false);
      assert.equal(bad.exits.length, 1);
      assert.match((bad.host as ProcessHost).stderrTail, /heap out of memory|Reached heap limit/i);
      assert.match(bad.exits[0], /out of memory: over its 64 MB limit/);
      assert.match(error.message, /out of memory: over its 64 MB limit/);
    },
  );
});

// -------------------------------------------------------------------------------------------
// 11: message size limit

for (const mode of ["trusted", ...ISOLATED] as const) {
  Deno.test(`${mode}: an answer over maxMessageBytes is refused`, async () => {
    await withPlugins(mode, [mode, "big-answer"], async (bad) => {
      const { error } = await rejection(bad.host.call("big", 2_000_000));
      if (mode === "process") {
        // Process mode reads lines: an over-long line kills the plugin.
        assertHostError(
          error,
          "crashed",
          /^plugin "big-answer" sent a message of .* over its limit$/,
        );
        assert.equal(bad.host.alive, false);
        assert.equal(bad.exits.length, 1);
        assert.match(bad.exits[0], /^sent a message of .*\d+ bytes, over its limit$/);
      } else {
        assertHostError(
          error,
          "too_large",
          /^big-answer\.big: the answer of \d+ bytes is over the limit of 1000000$/,
        );
        // The plugin is not killed for it.
        assert.equal(bad.host.alive, true);
        assert.equal(await bad.host.call("big", 10), "x".repeat(10));
        assert.ok(bad.logs.some((l) => /dropped \(over the limit\)/.test(l.message)));
      }
    });
  });

  Deno.test(`${mode}: the host refuses to send a payload over maxMessageBytes`, async () => {
    await withPlugins(mode, [mode, "big-answer"], async (bad) => {
      assert.equal(await bad.host.call("take", "small"), 1);
      const { error, ms } = await rejection(bad.host.call("take", "x".repeat(2_000_000)));
      assertHostError(
        error,
        "too_large",
        /^call big-answer\.take: payload of 2000002 bytes is over the limit of 1000000$/,
      );
      assert.ok(ms < 1000, `took ${ms} ms`);
      // It never reached the plugin, which is still there.
      assert.equal(await bad.host.call("received", null), 1);
      assert.equal(bad.host.alive, true);
    });
  });
}

Deno.test({
  // The host checks the size of everything it sends: calls, hooks and events.
  name: "worker: the host refuses to send a hook payload over maxMessageBytes",
  fn: async () => {
    await withPlugins("worker", ["worker", "big-answer"], async (bad) => {
      const { error } = await rejection(
        bad.host.hook("afterTransition", { big: "x".repeat(2_000_000) }),
      );
      assertHostError(error, "too_large", /over the limit/);
      assert.equal(await bad.host.call("received", null), 0);
    });
  },
});

Deno.test("process: a log, emit or error over maxMessageBytes kills the plugin", async () => {
  for (const action of ["bigLog", "bigEmit", "bigError"]) {
    await withPlugins("process", ["process", "big-answer"], async (bad) => {
      const { error } = await rejection(bad.host.call(action, 2_000_000));
      assertHostError(
        error,
        "crashed",
        /^plugin "big-answer" sent a message of .* over its limit$/,
      );
      assert.equal(bad.host.alive, false);
      assert.ok(bad.logs.every((l) => l.message.length < 1_000_000));
      assert.deepEqual(bad.emits, []);
    });
  }
});

for (const mode of ["trusted", "worker"] as const) {
  Deno.test({
    // In worker and trusted mode the transport gives no byte count: the host measures every
    // message (results, errors, logs, emits) and drops what is over the limit.
    name: `${mode}: a log, emit or error over maxMessageBytes does not reach the host`,
    fn: async () => {
      await withPlugins(mode, [mode, "big-answer"], async (bad) => {
        const limit = 1_000_000;
        await bad.host.call("bigLog", 2_000_000).catch(() => {});
        await bad.host.call("bigEmit", 2_000_000).catch(() => {});
        const { error } = await rejection(bad.host.call("bigError", 2_000_000));
        assert.ok(error.message.length <= limit, `an error message of ${error.message.length}`);
        assert.ok(bad.logs.every((l) => l.message.length <= limit), "a log line over the limit");
        assert.deepEqual(bad.emits, [], "an event over the limit was emitted");
      });
    },
  });
}

// -------------------------------------------------------------------------------------------
// 12: __proto__
// Only in worker and process mode: a trusted plugin shares this realm (and its
// Object.prototype) by design, so there is nothing to isolate.

function assertHostUnpolluted(): void {
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // deno-lint-ignore no-prototype-builtins
  assert.equal(Object.prototype.hasOwnProperty("polluted"), false);
  assert.equal(Object.getOwnPropertyNames(Object.prototype).includes("polluted"), false);
}

for (const mode of ISOLATED) {
  Deno.test(`${mode}: a plugin cannot pollute the host's Object.prototype`, async () => {
    await withPlugins(mode, [mode, "proto-pollute"], async (bad) => {
      // A parsed "__proto__" key crosses as an own data property, not as a prototype.
      const parsed = await bad.host.call("parsed", null) as Record<string, unknown>;
      assertHostUnpolluted();
      assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
      assert.equal(Object.hasOwn(parsed, "__proto__"), true);
      assert.equal(parsed.polluted, undefined);

      const nested = await bad.host.call("nested", null) as Record<string, { polluted?: true }>;
      assertHostUnpolluted();
      assert.equal(Object.getPrototypeOf(nested.a), Object.prototype);
      assert.equal(nested.a.polluted, undefined);

      // Polluting its own realm works there, and stays there.
      assert.equal(await bad.host.call("pollute", null), true);
      assert.equal(await bad.host.call("seen", null), true);
      assertHostUnpolluted();
    });
    assertHostUnpolluted();
  });
}

// -------------------------------------------------------------------------------------------
// 13: another plugin's KV namespace

for (const mode of ["trusted", ...ISOLATED] as const) {
  Deno.test(`${mode}: a plugin cannot read or change another plugin's KV keys`, async () => {
    const kv = await openDenoKvBackend(":memory:");
    const services = new PluginServices({ kv, log: () => {} });
    let owner: Started | undefined;
    let snoop: Started | undefined;
    let good: Started | undefined;
    try {
      good = await startPlugin(mode, "good");
      owner = await startPlugin(mode, "kv-owner", { services });
      snoop = await startPlugin(mode, "kv-snoop", { services });
      assert.equal(await owner.host.call("store", "top secret"), true);
      assert.equal((await kv.get(["plugin", "kv-owner", "secret"])).value, "top secret");

      const get = (key: unknown) => snoop!.host.call("get", key);
      // Its own namespace: the same key is simply not there.
      assert.equal(await get(["secret"]), null);
      // Keys that try to climb out stay inside its namespace.
      for (
        const key of [
          ["..", "kv-owner", "secret"],
          ["..", "..", "plugin", "kv-owner", "secret"],
          ["plugin", "kv-owner", "secret"],
          ["kv-owner", "secret"],
          ["/", "kv-owner", "secret"],
          ["../kv-owner/secret"],
          [],
        ]
      ) {
        assert.equal(await get(key), null, `get(${JSON.stringify(key)})`);
      }
      // Keys that are not arrays of plain parts are refused.
      for (
        const key of [
          "secret",
          null,
          42,
          { 0: "..", 1: "kv-owner", 2: "secret", length: 3 },
          [{ toString: "kv-owner" }],
          [["plugin", "kv-owner", "secret"]],
          [null],
          Array(17).fill("x"),
        ]
      ) {
        const { error } = await rejection(get(key));
        assert.ok(error instanceof PluginError, `get(${JSON.stringify(key)}): ${error}`);
        assert.equal(error.remoteName, "TypeError", error.message);
        assert.match(
          error.message,
          /^plugin "kv-snoop": TypeError: kv\.get: (a key is an array|key parts are)/,
        );
      }
      // Listing shows its own keys only, whatever the prefix.
      await snoop.host.call("set", { key: ["mine"], value: 1 });
      const listed = await snoop.host.call("list", []) as { key: unknown[]; value: unknown }[];
      assert.deepEqual(listed, [{ key: ["mine"], value: 1 }]);
      assert.deepEqual(await snoop.host.call("list", ["..", "kv-owner"]), []);
      // Writing and deleting "the secret" touches its own key, never the owner's.
      await snoop.host.call("set", { key: ["..", "kv-owner", "secret"], value: "overwritten" });
      await snoop.host.call("set", { key: ["secret"], value: "overwritten" });
      await snoop.host.call("delete", ["secret"]);
      await snoop.host.call("delete", ["..", "kv-owner", "secret"]);

      assert.equal((await kv.get(["plugin", "kv-owner", "secret"])).value, "top secret");
      assert.equal(await owner.host.call("load", null), "top secret");
      // Everything the snoop wrote is under its own prefix.
      for await (const entry of kv.list({ prefix: [] })) {
        assert.ok(
          (entry.key[0] === "plugin" && entry.key[1] === "kv-snoop") ||
            (entry.key[0] === "plugin" && entry.key[1] === "kv-owner" &&
              entry.key[2] === "secret" && entry.key.length === 3),
          `unexpected key ${JSON.stringify(entry.key)}`,
        );
      }
      assert.equal(snoop.host.alive, true);
      await assertServes(good);
    } finally {
      await stopAll(snoop, owner, good);
      await kv.close();
    }
  });
}

// -------------------------------------------------------------------------------------------
// 14: garbage on the channel

Deno.test("worker: a plugin posting garbage is killed with a clear reason", async () => {
  for (const action of ["postGarbage", "postFakeResult"]) {
    await withPlugins("worker", ["worker", "garbage"], async (bad) => {
      const { error } = await rejection(bad.host.call(action, null));
      assertHostError(
        error,
        "crashed",
        /^plugin "garbage" sent a message that is not part of the protocol$/,
      );
      assert.equal(bad.host.alive, false);
      assert.deepEqual(bad.exits, ["sent a message that is not part of the protocol"]);
    });
  }
});

Deno.test("process: a plugin writing a bad protocol line is killed with a clear reason", async () => {
  const cases = [
    ["writeGarbage", "sent a protocol line that is not JSON"],
    ["writeFakeResult", "sent a message that is not part of the protocol"],
  ];
  for (const [action, reason] of cases) {
    await withPlugins("process", ["process", "garbage"], async (bad) => {
      const { error } = await rejection(bad.host.call(action, null));
      assertHostError(error, "crashed", new RegExp(`^plugin "garbage" ${reason}$`));
      assert.equal(bad.host.alive, false);
      assert.deepEqual(bad.exits, [reason]);
    });
  }
  // A line without the record separator is only output: logged, not fatal.
  await withPlugins("process", ["process", "garbage"], async (bad) => {
    assert.equal(await bad.host.call("writeText", null), "sent");
    assert.ok(bad.logs.some((l) => l.level === "info" && l.message === "just some text"));
    assert.equal(bad.host.alive, true);
  });
});

// -------------------------------------------------------------------------------------------
// Findings in process mode (see the report)

Deno.test({
  // The subprocess's environment holds only what the manifest declares (and NO_COLOR).
  name: "process: a declared env variable reaches the plugin",
  fn: async () => {
    Deno.env.set("STATECRAFT_HOSTILE_DECLARED", "declared-value");
    try {
      await withPlugins(
        "process",
        ["process", "env-read", { permissions: { env: ["STATECRAFT_HOSTILE_DECLARED"] } }],
        async (bad) => {
          assert.equal(await bad.host.call("get", "STATECRAFT_HOSTILE_DECLARED"), "declared-value");
        },
      );
    } finally {
      Deno.env.delete("STATECRAFT_HOSTILE_DECLARED");
    }
  },
});

Deno.test({
  // A plugin that may run programs gets PATH, so a program declared by name is found.
  name: "process: a program declared by name can be run",
  fn: async () => {
    await withPlugins(
      "process",
      ["process", "run-command", { permissions: { run: ["deno"] } }],
      async (bad) => {
        assert.equal(typeof await bad.host.call("spawn", "deno"), "number");
      },
    );
  },
});

Deno.test({
  // A worker never gets a permission this process lacks (start fails, `invalid`); neither does a
  // process plugin (its flags are checked against this process's permissions first).
  name: "process: a plugin never gets a permission the host process lacks",
  fn: async () => {
    assert.notEqual(
      Deno.permissions.querySync({ name: "net", host: "192.0.2.1:9" }).state,
      "granted",
    );
    // 192.0.2.1 (TEST-NET-1): an address no test run grants itself.
    const start = startPlugin("process", "net-fetch", { permissions: { net: ["192.0.2.1:9"] } });
    const started = await start.catch(() => undefined);
    await stopAll(started);
    const { error } = await rejection(start);
    assertHostError(
      error,
      "invalid",
      /asks for permissions this process does not have \(net 192\.0\.2\.1:9\)/,
    );
  },
});

// -------------------------------------------------------------------------------------------
// Through the supervisor: hostile plugins are contained and restarted, the good one serves

/** The supervisor's spec of a hostile fixture, from its manifest, in `isolation`. */
async function fixtureSpec(
  folder: string,
  isolation: IsolationMode,
  name = folder,
): Promise<PluginSpec> {
  const spec = await toSpec(await loadManifest(`${HOSTILE_DIR}/${folder}`));
  return { ...spec, name, isolation, limits: { ...spec.limits, callTimeoutMs: 5000 } };
}

Deno.test("supervisor: hostile plugins crash and restart while good plugins serve", async () => {
  const kv = await openDenoKvBackend(":memory:");
  const logs: string[] = [];
  const supervisor = new PluginSupervisor({
    kv,
    heartbeatMs: 0,
    restartBackoffMs: 10,
    log: (plugin, level, message) => logs.push(`${plugin} ${level} ${message}`),
  });
  const seen: EventObject[] = [];
  const off = supervisor.bus.subscribe("order.*", (e) => void seen.push(e));
  const serves = async () => {
    for (const name of ["good", "good-process"]) {
      const answer = await supervisor.call(name, "echo", { from: name }) as { echo: unknown };
      assert.deepEqual(answer.echo, { from: name });
    }
  };
  const active = (name: string) =>
    waitFor(`${name} active again`, () => supervisor.get(name)?.state === "active", {
      ms: 5000,
    });
  try {
    await supervisor.add(await fixtureSpec("good", "worker"));
    await supervisor.add(await fixtureSpec("good", "process", "good-process"));
    await supervisor.add(await fixtureSpec("garbage", "worker"));
    await supervisor.add(await fixtureSpec("exits", "process"));
    // A plugin whose onLoad throws does not load; nothing else is disturbed.
    const load = await rejection(supervisor.add(await fixtureSpec("thrower", "worker")));
    assertPluginError(load.error, "thrower", "RangeError", "thrower failed in onLoad");
    assert.equal(supervisor.get("thrower")?.state, "failed");
    await serves();

    // Garbage on the channel: killed, restarted, serving again.
    const garbage = await rejection(supervisor.call("garbage", "postGarbage"));
    assertHostError(garbage.error, "crashed", /not part of the protocol/);
    await active("garbage");
    assert.equal(supervisor.get("garbage")?.restarts, 1);
    await serves();

    // Deno.exit in a subprocess: crashed, restarted.
    const exit = await rejection(supervisor.call("exits", "exit", 7));
    assertHostError(exit.error, "crashed", /exited \(code 7\)/);
    await active("exits");
    assert.equal(await supervisor.call("exits", "ok"), "ok");
    await serves();

    // An emitted event cannot claim to come from another plugin.
    await supervisor.call("garbage", "emit", { type: "order.created", plugin: "good" });
    await waitFor("the emitted event", () => seen.length > 0, { ms: 2000 });
    assert.deepEqual(seen.map((e) => (e as { plugin?: string }).plugin), ["garbage"]);
    await serves();
  } finally {
    off();
    await supervisor.close();
    await kv.close();
  }
});
