/**
 * The plugin supervisor: starts plugins in their isolation mode, routes calls with a rate
 * limit and retries, restarts crashed plugins with backoff, watches heartbeats, wires plugin
 * subscriptions and emits to the bus, runs hooks, reloads and unloads. Each plugin's lifecycle
 * is an instance of the `pluginLifecycle` statechart.
 *
 * @module
 */
import type { KvBackend } from "../persist/backend.ts";
import type { Clock, EventObject, MachineInstance } from "../core/types.ts";
import { EventBus } from "./bus.ts";
import { createHost, type PluginHost, type ResolvedPermissions, WorkerHost } from "./host.ts";
import {
  type LifecycleContext,
  type LifecycleEvent,
  type LifecycleState,
  pluginLifecycle,
} from "./lifecycle.ts";
import { type LogSink, PluginServices } from "./services.ts";
import { type HookName, type IsolationMode, PluginHostError } from "./types.ts";
import { type ActionPolicy, actionPolicy, type PluginManifest } from "./manifest.ts";

/** What the supervisor needs to run a plugin (made from its manifest by the loader). */
export interface PluginSpec {
  /** The plugin's name. */
  name: string;
  /** The plugin's version. */
  version: string;
  /** The plugin's folder (absolute). */
  dir: string;
  /** The entry module (absolute). */
  entryPath: string;
  /** How it runs: in the host process, a Web Worker, or a subprocess. */
  isolation: IsolationMode;
  /** What it may touch, with absolute paths. */
  permissions: ResolvedPermissions;
  /** The actions it implements. */
  provides: string[];
  /** Actions safe to retry. */
  idempotent: string[];
  /** Bus event descriptors it receives. */
  subscribes: string[];
  /** The hooks it handles. */
  hooks: HookName[];
  /** Resource limits (see `PluginLimits`). */
  limits: {
    callTimeoutMs: number;
    callsPerSecond: number;
    memoryMb: number;
    maxMessageBytes: number;
  };
  /** The manifest's `config`, handed to the plugin as `ctx.config`. */
  config: Record<string, unknown>;
  /** Priority of its bus subscriptions (higher first; default 0). */
  priority?: number;
  /** Content hash of its files: the module cache key (a changed plugin is imported anew). */
  moduleVersion?: string;
  /** Retry policies of `pluginAction` invocations, by action (the manifest's `retry`). */
  retry?: PluginManifest["retry"];
  /** Attempt timeouts of `pluginAction` invocations in ms, by action (the manifest's). */
  timeout?: PluginManifest["timeout"];
}

/** What `list()` reports of a plugin. */
export interface PluginInfo {
  /** The plugin's name. */
  name: string;
  /** The plugin's version. */
  version: string;
  /** Its isolation mode. */
  mode: IsolationMode;
  /** Where it is in its lifecycle (`"active"` when it takes calls). */
  state: LifecycleState;
  /** The actions it implements. */
  actions: string[];
  /** Bus event descriptors it receives. */
  subscribes: string[];
  /** The hooks it handles. */
  hooks: HookName[];
  /** Restarts after crashes so far. */
  restarts: number;
  /** A heartbeat or call went unanswered (worker mode cannot stop a busy loop). */
  stuck: boolean;
  /** Calls made to it. */
  calls: number;
  /** Calls that failed. */
  failures: number;
  /** The last error's message, or `null`. */
  lastError: string | null;
  /** Content hash of its files when it was loaded (`PluginSpec.moduleVersion`). */
  moduleVersion?: string;
}

/** Options for the supervisor. */
export interface SupervisorOptions {
  /** Storage for plugins' namespaces (the store's backend). */
  kv?: KvBackend;
  /** Where plugin log lines go. */
  log?: LogSink;
  /** Restarts after crashes before a plugin is `failed` (default 5). */
  maxRestarts?: number;
  /** First restart delay, doubled each time (default 100 ms, at most 5 s). */
  restartBackoffMs?: number;
  /** Heartbeat interval (default 2 s; 0 turns heartbeats off) and answer timeout (1 s). */
  heartbeatMs?: number;
  /** How long a heartbeat may go unanswered before the plugin counts as stuck (default 1 s). */
  heartbeatTimeoutMs?: number;
  /** Retries of idempotent actions after a timeout or crash (default 3, from 50 ms doubling). */
  retries?: number;
  /** The first retry's delay, doubled each time (default 50 ms). */
  retryBackoffMs?: number;
  /** The `deno` executable for process-mode plugins. */
  denoPath?: string;
  /** The clock plugins' schedules run on (default: the host's timers). */
  clock?: Clock;
}

interface Managed {
  spec: PluginSpec;
  host: PluginHost | null;
  lifecycle: MachineInstance<LifecycleContext, LifecycleEvent>;
  actions: string[];
  bucket: TokenBucket;
  stuck: boolean;
  calls: number;
  failures: number;
  unsubscribe: (() => void)[];
  restartTimer: ReturnType<typeof setTimeout> | undefined;
}

/** A token bucket: `rate` tokens per second, at most `rate` stored (one second of burst). */
class TokenBucket {
  #tokens: number;
  #last = performance.now();
  readonly #rate: number;
  constructor(rate: number) {
    this.#rate = rate;
    this.#tokens = rate;
  }
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

const TRANSIENT = new Set(["timeout", "crashed", "not_running"]);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs plugins and routes calls to them. `loadPlugins` adds the plugins of a folder (from
 * their manifests); `add` takes a spec made by hand.
 *
 * @example
 * ```ts
 * import { PluginSupervisor } from "./supervisor.ts";
 * import { loadPlugins } from "./loader.ts";
 * const supervisor = new PluginSupervisor({ maxRestarts: 3 });
 * await loadPlugins({ dirs: ["plugins"], supervisor });
 * console.log(supervisor.list().map((p) => `${p.name} ${p.state}`));
 * const result = await supervisor.call("notifier", "send", { text: "hi" });
 * await supervisor.close();
 * ```
 */
export class PluginSupervisor {
  /** The bus plugins' subscriptions and emits go through. */
  readonly bus: EventBus;
  /** KV namespaces, schedules and logging of the plugins (internal to the supervisor). */
  readonly #services: PluginServices;
  readonly #options: SupervisorOptions;
  readonly #plugins = new Map<string, Managed>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Hook runs in progress (`runHook`), awaited by `close`. */
  #hooksRunning = new Set<Promise<void>>();

  /** Makes a supervisor with no plugin; add plugins with `add` (or `loadPlugins`). */
  constructor(options: SupervisorOptions = {}) {
    this.#options = options;
    this.bus = new EventBus({
      onError: (f) =>
        this.#log(
          f.subscriber,
          "error",
          `handler of "${f.event.type}" failed: ${errorText(f.error)}`,
        ),
    });
    this.#services = new PluginServices({
      kv: options.kv,
      log: options.log,
      clock: options.clock,
      onEmit: (plugin, event) => this.#pluginEmit(plugin, event),
      runScheduled: (plugin, action, payload) => {
        this.call(plugin, action, payload).catch((e) =>
          this.#log(plugin, "error", `scheduled ${action} failed: ${errorText(e)}`)
        );
      },
    });
    const every = options.heartbeatMs ?? 2000;
    if (every > 0) {
      this.#heartbeat = setInterval(() => this.#checkHeartbeats(), every);
      Deno.unrefTimer(this.#heartbeat as unknown as number);
    }
  }

  /** Starts a plugin and makes it active; rejects (and marks it failed) if it cannot load. */
  async add(spec: PluginSpec): Promise<PluginInfo> {
    if (this.#closed) throw new PluginHostError("not_running", "the supervisor is closed");
    if (this.#plugins.has(spec.name)) {
      throw new PluginHostError("invalid", `plugin "${spec.name}" is already loaded`);
    }
    const lifecycle = pluginLifecycle.start({
      id: `plugin:${spec.name}`,
      context: { maxRestarts: this.#options.maxRestarts ?? 5 },
    });
    const managed: Managed = {
      spec,
      host: null,
      lifecycle,
      actions: [],
      bucket: new TokenBucket(spec.limits.callsPerSecond),
      stuck: false,
      calls: 0,
      failures: 0,
      unsubscribe: [],
      restartTimer: undefined,
    };
    this.#plugins.set(spec.name, managed);
    lifecycle.send({ type: "VALIDATED" });
    lifecycle.send({ type: "RESOLVED" });
    lifecycle.send({ type: "LOAD" });
    this.#announce(managed);
    try {
      managed.host = await this.#startHost(spec, managed);
    } catch (e) {
      lifecycle.send({ type: "FAIL", error: errorText(e) });
      this.#announce(managed);
      throw e;
    }
    lifecycle.send({ type: "LOADED" });
    lifecycle.send({ type: "ACTIVATE" });
    this.#subscribe(managed);
    this.#announce(managed);
    await this.runHook("load", { plugin: spec.name, version: spec.version }, spec.name);
    return this.#info(managed);
  }

  /** Every plugin's state. */
  list(): PluginInfo[] {
    return [...this.#plugins.values()].map((m) => this.#info(m));
  }

  /**
   * The retry policy and attempt timeout its manifest gives invocations of `plugin.action`
   * (`pluginAction`); undefined when no such plugin is loaded.
   */
  actionPolicy(
    plugin: string,
    action: string,
  ): ActionPolicy | undefined {
    const spec = this.#plugins.get(plugin)?.spec;
    if (spec === undefined) return undefined;
    return actionPolicy({ retry: spec.retry ?? {}, timeout: spec.timeout ?? {} }, action);
  }

  /** One plugin's state. */
  get(name: string): PluginInfo | undefined {
    const m = this.#plugins.get(name);
    return m === undefined ? undefined : this.#info(m);
  }

  /**
   * Calls an action of a plugin: rate-limited (token bucket, the manifest's calls per second),
   * with retries and backoff for actions the manifest marks idempotent.
   */
  async call(
    plugin: string,
    action: string,
    payload?: unknown,
    options: { timeoutMs?: number; effectId?: string } = {},
  ): Promise<unknown> {
    const m = this.#plugins.get(plugin);
    if (m === undefined) throw new PluginHostError("not_running", `no plugin "${plugin}"`);
    const now = m.lifecycle.configuration[0] as LifecycleState;
    if (now === "failed" || now === "unloaded" || now === "unloading") {
      const why = m.lifecycle.context.error;
      throw new PluginHostError(
        "not_running",
        `plugin "${plugin}" is ${now}${why === null ? "" : `: ${why}`}`,
      );
    }
    if (!m.actions.includes(action)) {
      throw new PluginHostError(
        "unknown_action",
        `plugin "${plugin}" has no action "${action}" (it has: ${m.actions.join(", ") || "none"})`,
      );
    }
    if (!m.bucket.take()) {
      m.failures++;
      throw new PluginHostError(
        "rate_limited",
        `plugin "${plugin}": more than ${m.spec.limits.callsPerSecond} calls per second`,
      );
    }
    const retries = m.spec.idempotent.includes(action) ? (this.#options.retries ?? 3) : 0;
    for (let attempt = 0;; attempt++) {
      const state = m.lifecycle.configuration[0] as LifecycleState;
      const host = m.host;
      m.calls++;
      try {
        if (host === null || !host.alive || (state !== "active" && state !== "reloading")) {
          throw new PluginHostError("not_running", `plugin "${plugin}" is ${state}`);
        }
        return await host.call(action, payload, options.timeoutMs, options.effectId);
      } catch (e) {
        m.failures++;
        const transient = e instanceof PluginHostError && TRANSIENT.has(e.code);
        if (!transient || attempt >= retries || this.#closed) throw e;
        await sleep((this.#options.retryBackoffMs ?? 50) * 2 ** attempt);
      }
    }
  }

  /** Publishes an event on the bus (plugins that subscribe to it receive it). */
  emit(event: EventObject): Promise<number> {
    return this.bus.emit(event);
  }

  /**
   * Runs a hook in every active plugin that declares it, one after another; a plugin's
   * failure is logged and does not stop the others. `except` skips one plugin.
   */
  runHook(hook: HookName, data: unknown, except?: string): Promise<void> {
    const run = this.#runHook(hook, data, except);
    this.#hooksRunning.add(run);
    run.finally(() => this.#hooksRunning.delete(run));
    return run;
  }

  async #runHook(hook: HookName, data: unknown, except?: string): Promise<void> {
    for (const m of this.#plugins.values()) {
      if (m.spec.name === except || !m.spec.hooks.includes(hook)) continue;
      if (m.host === null || !m.host.alive || m.lifecycle.configuration[0] !== "active") continue;
      try {
        await m.host.hook(hook, data);
      } catch (e) {
        m.failures++;
        this.#log(m.spec.name, "error", `hook ${hook} failed: ${errorText(e)}`);
      }
    }
  }

  /**
   * Replaces a plugin with a new version (its new spec). The old version serves until the new
   * one is loaded; if the new one fails to load, the old one keeps serving and this rejects.
   */
  async reload(name: string, spec: PluginSpec): Promise<PluginInfo> {
    const m = this.#plugins.get(name);
    if (m === undefined) throw new PluginHostError("not_running", `no plugin "${name}"`);
    if (m.lifecycle.configuration[0] !== "active") {
      throw new PluginHostError(
        "invalid",
        `plugin "${name}" is ${m.lifecycle.configuration[0]}, not active`,
      );
    }
    m.lifecycle.send({ type: "RELOAD" });
    this.#announce(m);
    let fresh: PluginHost;
    try {
      fresh = await this.#startHost(spec, m, "reload");
    } catch (e) {
      m.lifecycle.send({ type: "RELOAD_FAILED", error: errorText(e) });
      this.#announce(m);
      throw e;
    }
    const old = m.host;
    m.host = fresh;
    m.spec = spec;
    m.bucket = new TokenBucket(spec.limits.callsPerSecond);
    for (const off of m.unsubscribe) off();
    this.#subscribe(m);
    m.lifecycle.send({ type: "RELOADED" });
    this.#announce(m);
    if (old !== null) {
      await old.lifecycle("unload").catch(() => {});
      await old.stop();
    }
    await this.runHook("reload", { plugin: name, version: spec.version }, name);
    return this.#info(m);
  }

  /** Stops a plugin (its `onUnload` runs) and forgets it. */
  async unload(name: string): Promise<void> {
    const m = this.#plugins.get(name);
    if (m === undefined) return;
    clearTimeout(m.restartTimer);
    for (const off of m.unsubscribe) off();
    m.unsubscribe = [];
    this.#services.clearTimers(name);
    if (m.lifecycle.configuration[0] === "active") {
      m.lifecycle.send({ type: "UNLOAD" });
      this.#announce(m);
      try {
        await m.host?.lifecycle("unload");
      } catch (e) {
        this.#log(name, "error", `onUnload failed: ${errorText(e)}`);
      }
      await m.host?.stop();
      m.lifecycle.send({ type: "UNLOADED" });
      this.#announce(m);
    } else {
      await m.host?.stop();
    }
    this.#plugins.delete(name);
    await this.runHook("unload", { plugin: name }, name);
  }

  /** Unloads every plugin (last loaded first) and stops the heartbeat. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#heartbeat);
    // Hooks already running (an audit log's last lines) finish before the plugins stop: each
    // call is bounded by its timeout.
    await Promise.allSettled([...this.#hooksRunning]);
    for (const name of [...this.#plugins.keys()].reverse()) await this.unload(name);
    this.#closed = true;
  }

  // ---------------------------------------------------------------------------------------

  async #startHost(
    spec: PluginSpec,
    m: Managed,
    phase: "load" | "reload" = "load",
  ): Promise<PluginHost> {
    let host: PluginHost | null = null;
    host = createHost(spec.isolation, {
      name: spec.name,
      version: spec.version,
      dir: spec.dir,
      entryPath: spec.entryPath,
      config: spec.config,
      permissions: spec.permissions,
      limits: spec.limits,
      services: this.#services,
      denoPath: this.#options.denoPath,
      moduleVersion: spec.moduleVersion,
      onExit: (reason) => this.#crashed(m, host!, reason),
    });
    try {
      const actions = await host.start();
      const missing = spec.provides.filter((a) => !actions.includes(a));
      if (missing.length > 0) {
        throw new PluginHostError(
          "invalid",
          `plugin "${spec.name}" provides ${missing.map((a) => `"${a}"`).join(", ")} in its ` +
            "manifest but its module does not export such actions",
        );
      }
      // A new version (reload) initialises like any load, then hears that it replaced one.
      await host.lifecycle("load");
      if (phase === "reload") await host.lifecycle("reload");
      m.actions = spec.provides.length > 0 ? spec.provides : actions;
      return host;
    } catch (e) {
      host.kill("failed to load");
      throw e;
    }
  }

  #subscribe(m: Managed): void {
    m.unsubscribe = m.spec.subscribes.map((descriptor) =>
      this.bus.subscribe(descriptor, (event) => {
        // A plugin does not receive its own events back.
        if ((event as { plugin?: unknown }).plugin === m.spec.name) return;
        const host = m.host;
        if (host === null || !host.alive) return;
        return host.event(event, descriptor).catch((e) => {
          // Stopped (unloaded, reloaded) while the event was on its way: not a failure.
          if (!host.alive) return;
          throw e;
        });
      }, { priority: m.spec.priority ?? 0, name: m.spec.name })
    );
  }

  #pluginEmit(plugin: string, event: EventObject): void {
    // `plugin.*` and `machine.*` are the host's own events: a plugin cannot forge them.
    if (/^(plugin|machine)(\.|$)/.test(event.type)) {
      this.#log(plugin, "warn", `emit of "${event.type}" refused: that namespace is the host's`);
      return;
    }
    this.bus.emit({ ...event, plugin }).catch((e) =>
      this.#log(plugin, "error", `emit of "${event.type}" failed: ${errorText(e)}`)
    );
  }

  #crashed(m: Managed, host: PluginHost, reason: string): void {
    if (m.host !== host || this.#closed) return;
    m.failures++;
    const state = m.lifecycle.configuration[0];
    if (state !== "active" && state !== "reloading") return;
    m.lifecycle.send({ type: "CRASH", error: reason });
    this.#log(m.spec.name, "error", `crashed: ${reason}`);
    this.#announce(m);
    if (m.lifecycle.configuration[0] !== "loading") return; // failed: out of restarts
    const delay = Math.min(
      5000,
      (this.#options.restartBackoffMs ?? 100) * 2 ** (m.lifecycle.context.restarts - 1),
    );
    m.restartTimer = setTimeout(async () => {
      if (this.#closed || !this.#plugins.has(m.spec.name)) return;
      try {
        m.host = await this.#startHost(m.spec, m);
        m.stuck = false;
        m.lifecycle.send({ type: "LOADED" });
        m.lifecycle.send({ type: "ACTIVATE" });
      } catch (e) {
        m.lifecycle.send({ type: "FAIL", error: errorText(e) });
      }
      this.#announce(m);
    }, delay);
  }

  async #checkHeartbeats(): Promise<void> {
    const timeout = this.#options.heartbeatTimeoutMs ?? 1000;
    for (const m of this.#plugins.values()) {
      const host = m.host;
      if (host === null || !host.alive || m.lifecycle.configuration[0] !== "active") continue;
      const ok = await host.ping(timeout);
      const wasStuck = m.stuck;
      m.stuck = !ok || (host instanceof WorkerHost && host.stuck && !ok);
      if (m.stuck && !wasStuck) {
        this.#log(m.spec.name, "error", `stuck: no heartbeat within ${timeout} ms`);
        this.bus.emit({ type: "plugin.stuck", plugin: m.spec.name }).catch(() => {});
        // Only a process can be stopped; a worker in a busy loop cannot (Deno 2.9).
        if (host.mode === "process") {
          host.kill(`was killed: stuck (no heartbeat within ${timeout} ms)`);
        }
      }
    }
  }

  #announce(m: Managed): void {
    const state = m.lifecycle.configuration[0];
    this.bus.emit({
      type: "plugin.state",
      plugin: m.spec.name,
      state,
      error: m.lifecycle.context.error,
    }).catch(() => {});
  }

  #log(plugin: string, level: "debug" | "info" | "warn" | "error", message: string): void {
    this.#services.log(plugin, level, message);
  }

  #info(m: Managed): PluginInfo {
    return {
      name: m.spec.name,
      version: m.spec.version,
      mode: m.spec.isolation,
      state: m.lifecycle.configuration[0] as LifecycleState,
      actions: [...m.actions],
      subscribes: [...m.spec.subscribes],
      hooks: [...m.spec.hooks],
      restarts: m.lifecycle.context.restarts,
      stuck: m.stuck || (m.host instanceof WorkerHost && m.host.stuck),
      calls: m.calls,
      failures: m.failures,
      lastError: m.lifecycle.context.error,
      moduleVersion: m.spec.moduleVersion,
    };
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
