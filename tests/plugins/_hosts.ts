/**
 * Helpers of the plugin security tests: start a fixture plugin under `tests/fixtures/plugins/
 * hostile/<name>/` in a given isolation mode with explicit options, and stop it again.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { EventObject } from "../../lib/core/types.ts";
import {
  createHost,
  type HostOptions,
  type HostServices,
  type PluginHost,
  type ResolvedPermissions,
} from "../../lib/plugins/host.ts";
import { PluginServices } from "../../lib/plugins/services.ts";
import type { IsolationMode } from "../../lib/plugins/types.ts";

/** The folder of the hostile fixture plugins (absolute, no trailing slash). */
export const HOSTILE_DIR: string = decodeURIComponent(
  new URL("../fixtures/plugins/hostile", import.meta.url).pathname,
);

/** The repository root (absolute, no trailing slash). */
export const ROOT: string = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");

/** The modes that sandbox a plugin. */
export const ISOLATED: readonly IsolationMode[] = ["worker", "process"];

/** A log line a plugin sent to the host. */
export interface LogLine {
  plugin: string;
  level: string;
  message: string;
}

/** A started plugin and what the host saw of it. */
export interface Started {
  host: PluginHost;
  /** The actions `start()` reported. */
  started: unknown;
  /** Every `onExit` reason, in order. */
  exits: string[];
  /** Log lines (from `ctx.log`, console, stray stdout in process mode, host warnings). */
  logs: LogLine[];
  /** Events it emitted (with the default services). */
  emits: EventObject[];
}

/** Options of {@linkcode startPlugin}; everything else is "nothing granted", short limits. */
export interface StartOptions {
  /** The plugin folder, absolute, with a `mod.ts` (default: the fixture folder). */
  dir?: string;
  /** The name the host gives it (default: the folder's name). */
  name?: string;
  permissions?: Partial<ResolvedPermissions>;
  limits?: Partial<HostOptions["limits"]>;
  /** Services (default: a `PluginServices` without KV whose log goes to `logs`). */
  services?: HostServices;
  config?: Record<string, unknown>;
}

/** No permissions at all (the plugin still reads its own folder and the SDK's). */
export function noPermissions(): ResolvedPermissions {
  return { read: [], write: [], net: [], env: [], run: [], ffi: [], sys: [] };
}

/** Default limits of the tests: generous enough for a loaded machine, small enough to test. */
export const LIMITS: HostOptions["limits"] = {
  callTimeoutMs: 5000,
  memoryMb: 128,
  maxMessageBytes: 1_000_000,
};

/** Starts `tests/fixtures/plugins/hostile/<folder>/mod.ts` in `mode`. */
export async function startPlugin(
  mode: IsolationMode,
  folder: string,
  options: StartOptions = {},
): Promise<Started> {
  const exits: string[] = [];
  const logs: LogLine[] = [];
  const emits: EventObject[] = [];
  const dir = options.dir ?? `${HOSTILE_DIR}/${folder}`;
  const host = createHost(mode, {
    name: options.name ?? folder,
    version: "1.0.0",
    dir,
    entryPath: `${dir}/mod.ts`,
    config: options.config ?? {},
    permissions: { ...noPermissions(), ...options.permissions },
    limits: { ...LIMITS, ...options.limits },
    services: options.services ??
      new PluginServices({
        log: (plugin, level, message) => logs.push({ plugin, level, message }),
        onEmit: (_plugin, event) => emits.push(event),
      }),
    onExit: (reason) => exits.push(reason),
  });
  let started: unknown;
  try {
    started = await host.start();
  } catch (e) {
    await stopAll(host);
    throw e;
  }
  return { host, started, exits, logs, emits };
}

/** Stops hosts (a dead host's `stop()` is a no-op). */
export async function stopAll(...hosts: (PluginHost | Started | undefined)[]): Promise<void> {
  for (const h of hosts) {
    if (h === undefined) continue;
    await ("host" in h ? h.host : h).stop();
  }
}

let serial = 0;

/** Asserts that the well-behaved plugin still answers correctly. */
export async function assertServes(good: Started | PluginHost): Promise<void> {
  const host = "host" in good ? good.host : good;
  assert.equal(host.alive, true, `the well-behaved plugin "${host.name}" is no longer alive`);
  const payload = { n: ++serial, text: "still there" };
  const answer = await host.call("echo", payload) as { echo: unknown; calls: number };
  assert.deepEqual(answer.echo, payload);
  assert.equal(await host.call("add", { a: 2, b: serial }), 2 + serial);
}

/** Awaits `promise`, expecting it to reject; returns the error and how long it took. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<{ error: Error; ms: number }> {
  const t0 = performance.now();
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof Error, `rejected with a non-Error: ${String(e)}`);
    return { error: e, ms: performance.now() - t0 };
  }
}

/** A `deno` subprocess that announced itself with one line of JSON on stdout. */
export interface JsonChild {
  /** The first line it printed, parsed. */
  json: unknown;
  /** Ends it (`signal`, or by closing its stdin) and waits until it is gone. */
  stop(signal?: Deno.Signal): Promise<{ status: Deno.CommandStatus; stderr: string }>;
}

/**
 * Runs `deno <args>` from the repository root and waits (at most `timeoutMs`) for its first
 * line of output, which must be JSON. Its stdin stays open until `stop()`.
 */
export async function spawnJsonChild(args: string[], timeoutMs = 20_000): Promise<JsonChild> {
  const child = new Deno.Command("deno", {
    args,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdin = child.stdin.getWriter();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdinClosed = false;
  let ended: Promise<{ status: Deno.CommandStatus; stderr: string }> | null = null;
  const stop = (signal?: Deno.Signal) => {
    ended ??= (async () => {
      if (signal !== undefined) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      if (!stdinClosed) {
        stdinClosed = true;
        await stdin.close().catch(() => {});
      }
      const status = await child.status;
      while (!(await lines.read()).done) {
        // Drain what it printed after its first line.
      }
      await stderrDone;
      return { status, stderr };
    })();
    return ended;
  };

  let out = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`deno ${args.join(" ")}: no line within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    while (!out.includes("\n")) {
      const chunk = await Promise.race([lines.read(), timeout]);
      if (chunk.done) throw new Error(`deno ${args.join(" ")} ended without a line`);
      out += chunk.value;
    }
    return { json: JSON.parse(out.slice(0, out.indexOf("\n"))), stop };
  } catch (e) {
    const { status, stderr } = await stop("SIGKILL");
    throw new Error(
      `${(e as Error).message} (exit ${status.code}, printed ${JSON.stringify(out)}):\n${stderr}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a symbolic link `path` -> `target` (Deno.symlink needs unscoped read and write
 * permissions, which the test task does not have: a `deno eval` child makes it).
 */
export async function symlink(target: string, path: string): Promise<void> {
  const output = await new Deno.Command("deno", {
    args: [
      "eval",
      "--allow-read",
      "--allow-write",
      `await Deno.symlink(${JSON.stringify(target)}, ${JSON.stringify(path)});`,
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}
