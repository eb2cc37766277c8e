/**
 * The Runtime: a project's machines, its durable store and its plugins, wired together.
 * Every instance is durable (one event at a time per instance, acknowledged once committed);
 * committed transitions reach the bus (`machine.transition`) and plugin hooks; machine sends to
 * `plugin:<name>.<action>` and `pluginAction(...)` invocations call plugins; sends to
 * `instance:<id>` reach that instance through the store; a plugin's emit with an `instance`
 * field reaches that instance.
 *
 * @module
 */
import type { ClusterMembership, ClusterOptions } from "../cluster/types.ts";
import type { KvBackend } from "../persist/backend.ts";
import { K } from "../persist/keys.ts";
import { openBackend } from "../persist/open_backend.ts";
import { Scheduler, syncSchedules } from "../persist/schedules.ts";
import { SystemClock } from "../core/clock.ts";
import type { Clock, EventObject, MachineInstance } from "../core/types.ts";
import type { Machine } from "../core/machine.ts";
import {
  type CheckpointInfo,
  type CommitInfo,
  type InstanceInfo,
  type JournalEntry,
  type ListOptions,
  type ListPage,
  openStore,
  type SendResult,
  type Store,
} from "../persist/store.ts";
import { PluginSupervisor } from "../plugins/supervisor.ts";
import { loadPlugins, type LoadReport } from "../plugins/loader.ts";
import type { EventBus } from "../plugins/bus.ts";
import { defaultConfig, expandGlobs, parseConfig, type RuntimeConfig } from "./config.ts";
import { type LoadedMachine, loadScripts, type ScriptError } from "./scripts.ts";

/** Options for `Runtime.open`. */
export interface RuntimeOptions {
  /** The project folder (default: the current directory). */
  projectDir?: string;
  /** `statecraft.yaml` to read (default: `<projectDir>/statecraft.yaml` if it exists). */
  configFile?: string;
  /** Overrides `kv:` of the configuration: the store's location (a path, `":memory:"`, a URL). */
  kv?: string;
  /** Overrides `plugins:`: the plugin folders to load. */
  plugins?: string[];
  /** Overrides `machines:`: the machine scripts (globs) to load; `[]` loads none. */
  machines?: string[];
  /** Machines given directly (embedding), in addition to the scripts. */
  extraMachines?: Machine<Record<string, unknown>>[];
  /** `"inspect"`: nothing fires, no plugin starts (tools). Default `"live"`. */
  mode?: "live" | "inspect";
  /** Start no plugins (default: load the configured plugin directories). */
  noPlugins?: boolean;
  /** Where runtime log lines go (default: stderr). */
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /** Reads `${VAR}` references of `statecraft.yaml` (default: `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** Time source of the instances (default: the system clock; tests give a virtual one). */
  clock?: Clock;
  /**
   * Cluster mode settings (override `cluster:` of `statecraft.yaml`). Without them, a process
   * on a store that runs in cluster mode joins as a client: it forwards its writes to the
   * partitions' owners and runs no instance itself.
   */
  cluster?: ClusterOptions & { url?: string };
  /**
   * Livelocks across instances: operations in one chain of causes with no outside event
   * (sends to `instance:<id>`, invocations started by an invocation's result) before the next
   * is refused with a `LivelockError`, logged as an error (default 10,000; `Infinity`: never).
   * See docs/robustness.md.
   */
  maxCausalHops?: number;
}

/** A transition as watchers and the bus see it. */
export interface TransitionEvent extends EventObject {
  /** Always `"machine.transition"`. */
  type: "machine.transition";
  /** The instance id. */
  instance: string;
  /** The instance's machine id. */
  machine: string;
  /** The event that caused it (or the journal kind: create, rollback...). */
  event: string;
  /** The journal entry's kind. */
  kind: JournalEntry["kind"];
  /** Active state ids before. */
  from: string[];
  /** Active state ids after. */
  to: string[];
  /** The journal entry's sequence number. */
  seq: number;
  /** When it was committed (ms since the epoch). */
  time: number;
  /** The instance's status after it. */
  status: string;
}

/** What `reload()` did for one machine (or one script that failed to load). */
export interface ReloadOutcome {
  /** The machine id (for a script that failed to load: its file). */
  machine: string;
  /** The script it came from. */
  file: string;
  /**
   * `"added"`: new; `"updated"`: a new definition with the same structure; `"migrated"`: a new
   * structure with a migration from the old version; `"kept"`: a new structure without one, so
   * the old definition stays (see `reason`); `"error"`: it did not load (see `reason`).
   */
  result: "added" | "updated" | "migrated" | "kept" | "error";
  /** Why it failed or was refused. */
  reason?: string;
}

let current: Runtime | null = null;

/**
 * An invoke `src` that calls a plugin action: `invoke: { src: pluginAction("notifier.send"),
 * input }`. Resolves into `done.invoke.<id>` with the action's result, or
 * `error.platform.<id>` with its error. Needs an open Runtime.
 *
 * @example
 * ```ts
 * import { pluginAction } from "./runtime.ts";
 * import { defineMachine } from "../core/machine.ts";
 * export const order = defineMachine({
 *   id: "order",
 *   initial: "notifying",
 *   states: {
 *     notifying: {
 *       invoke: {
 *         src: pluginAction("notifier.send"),
 *         input: { text: "order received" },
 *         onDone: "done",
 *         onError: "failed",
 *       },
 *     },
 *     done: { type: "final" },
 *     failed: {},
 *   },
 * });
 * ```
 */
export function pluginAction(
  target: string,
): (args: { input: unknown; effectId?: string }) => Promise<unknown> {
  const dot = target.indexOf(".");
  if (dot <= 0 || dot === target.length - 1) {
    throw new TypeError(`pluginAction("${target}"): write "<plugin>.<action>"`);
  }
  const plugin = target.slice(0, dot), action = target.slice(dot + 1);
  const call = ({ input, effectId }: { input: unknown; effectId?: string }) => {
    if (current === null) return Promise.reject(new Error(`no runtime is open to call ${target}`));
    // The invocation's effect id reaches the action as `ctx.effectId`.
    return current.plugins.call(plugin, action, input, { effectId });
  };
  // Read when an invocation starts (manifests load after machines compile): the action's
  // `retry` / `timeout` from plugin.yaml, under the invoke's own and over `invokeDefaults`.
  return Object.assign(call, {
    retryPolicy: () => current?.plugins.actionPolicy(plugin, action),
  });
}

/**
 * A project's machines, durable store and plugins, wired together: what `statecraft serve`,
 * the REPL and an embedding program run on. Open with `Runtime.open`; every instance it
 * spawns is durable, and `send` resolves once the event's macrostep is committed.
 *
 * @example
 * ```ts
 * import { Runtime } from "./runtime.ts";
 * import { defineMachine } from "../core/machine.ts";
 * const turnstile = defineMachine({
 *   id: "turnstile",
 *   initial: "locked",
 *   states: { locked: { on: { COIN: "unlocked" } }, unlocked: { on: { PUSH: "locked" } } },
 * });
 * const runtime = await Runtime.open({
 *   kv: ":memory:", // or a file, a KV Connect URL, a postgres:// URL
 *   machines: [], // no machine scripts: only the machine given here
 *   noPlugins: true,
 *   extraMachines: [turnstile],
 * });
 * try {
 *   const stop = runtime.watch((t) => console.log(t.instance, t.from, "->", t.to));
 *   const gate = await runtime.spawn("turnstile", "gate-1");
 *   const after = await runtime.send(gate.id, "COIN"); // resolves once durable
 *   // after.configuration is ["unlocked"]
 *   await runtime.undo(gate.id); // back to "locked"
 *   const entries = await runtime.history(gate.id);
 *   stop();
 * } finally {
 *   await runtime.close();
 * }
 * ```
 */
export class Runtime {
  /** The project folder (absolute, no trailing slash). */
  readonly projectDir: string;
  /** The configuration in force: `statecraft.yaml` with the options' overrides. */
  readonly config: RuntimeConfig;
  /** The durable store of the instances. */
  readonly store: Store;
  /** The plugin supervisor: `plugins.call(...)`, `plugins.list()`. */
  readonly plugins: PluginSupervisor;
  /** The machines by id, with their source. */
  readonly machines: Map<string, LoadedMachine>;
  /** Scripts that did not load. */
  readonly scriptErrors: ScriptError[];
  /** What loading the plugins did. */
  readonly pluginReport: LoadReport;
  /** Whether plugins were started (false with `noPlugins` or in inspect mode). */
  readonly pluginsStarted: boolean;
  readonly #log: NonNullable<RuntimeOptions["log"]>;
  /** Scripts added with `loadMachines`, reloaded with the configured ones. */
  readonly #extraFiles = new Set<string>();
  #spawned = 0;
  #scheduler: Scheduler | undefined;

  /** The schedules' firing loop (live mode only; docs/operations.md, "Schedules"). */
  get scheduler(): Scheduler | undefined {
    return this.#scheduler;
  }

  private constructor(
    projectDir: string,
    config: RuntimeConfig,
    store: Store,
    plugins: PluginSupervisor,
    machines: Map<string, LoadedMachine>,
    scriptErrors: ScriptError[],
    pluginReport: LoadReport,
    log: NonNullable<RuntimeOptions["log"]>,
    pluginsStarted: boolean,
  ) {
    this.projectDir = projectDir;
    this.config = config;
    this.store = store;
    this.plugins = plugins;
    this.machines = machines;
    this.scriptErrors = scriptErrors;
    this.pluginReport = pluginReport;
    this.pluginsStarted = pluginsStarted;
    this.#log = log;
  }

  /** The bus: `machine.transition`, `plugin.*` and plugin events. */
  get bus(): EventBus {
    return this.plugins.bus;
  }

  /** Reads the configuration, loads machine scripts and plugins, opens the store. */
  static async open(options: RuntimeOptions = {}): Promise<Runtime> {
    const projectDir = (options.projectDir ?? Deno.cwd()).replace(/\/$/, "");
    const abs = (p: string) =>
      p === ":memory:" || p.startsWith("/") || /^[a-z]+:\/\//.test(p) ? p : `${projectDir}/${p}`;
    const log = options.log ??
      ((level, message) => console.error(level === "info" ? message : `${level}: ${message}`));
    let config = defaultConfig();
    const configFile = options.configFile ?? `${projectDir}/statecraft.yaml`;
    let configRead = false;
    try {
      const text = await Deno.readTextFile(configFile);
      config = parseConfig(text, configFile, options.env);
      configRead = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || options.configFile !== undefined) throw e;
    }
    if (options.kv !== undefined) config.kv = options.kv;
    if (options.plugins !== undefined) config.plugins = options.plugins;
    if (options.machines !== undefined) config.machines = options.machines;

    const files = await expandGlobs(config.machines, projectDir);
    const loaded = await loadScripts(files);
    const machines = new Map<string, LoadedMachine>();
    for (const m of loaded.machines) {
      const other = machines.get(m.machine.id);
      if (other !== undefined && other.machine !== m.machine) {
        loaded.errors.push({
          file: m.file,
          message:
            `machine "${m.machine.id}" is also defined in ${other.file}; the first one is used`,
        });
        continue;
      }
      machines.set(m.machine.id, m);
    }
    for (const machine of options.extraMachines ?? []) {
      machines.set(machine.id, {
        machine,
        file: "(embedded)",
        exportName: "",
        version: machine.hash,
      });
    }
    for (const e of loaded.errors) {
      log("error", `${e.file}${e.line === undefined ? "" : `:${e.line}:${e.col}`}: ${e.message}`);
    }

    let encryptionKey = config.encryption?.key;
    if (encryptionKey === undefined && config.encryption?.keyEnv !== undefined) {
      encryptionKey = (options.env ?? Deno.env.get)(config.encryption.keyEnv);
      if (encryptionKey === undefined) {
        throw new Error(`the encryption key variable ${config.encryption.keyEnv} is not set`);
      }
    }
    const mode = options.mode ?? "live";
    // The store and the plugins each need the other: publishing goes through this holder.
    const holder: { runtime: Runtime | null } = { runtime: null };
    const backend = await openBackend(abs(config.kv));
    let cluster: ClusterMembership | undefined;
    try {
      cluster = mode === "live" ? await joinIfClustered(backend, config, options, log) : undefined;
    } catch (e) {
      await backend.close();
      throw e;
    }
    const store = await openStore({
      backend,
      cluster,
      machines: [...machines.values()].map((m) => m.machine),
      encryptionKey,
      mode,
      clock: options.clock,
      maxCausalHops: options.maxCausalHops ?? config.limits?.maxCausalHops,
      onCommit: (commit) => holder.runtime?.published(commit),
      onSend: (target, event, _from, effectId) =>
        holder.runtime?.routeSend(target, event, effectId),
      onError: (error, id) => log("error", `instance "${id}": ${error.message}`),
      onReindex: (p) =>
        log(
          "info",
          `search: re-indexing "${p.machine}": ${p.done}/${p.total}` +
            (p.finished ? ` done (${p.updated} changed)` : ""),
        ),
    });
    const kvForPlugins = store.backend;
    const plugins = new PluginSupervisor({
      kv: kvForPlugins,
      heartbeatMs: mode === "live" ? 2000 : 0,
      clock: options.clock,
      log: (plugin, level, message) => {
        if (level !== "debug") log(level, `[${plugin}] ${message}`);
      },
    });
    let report: LoadReport = { loaded: [], failed: [] };
    if (mode === "live" && options.noPlugins !== true) {
      const trustedKeys = [...config.signing.trustedKeys];
      for (const f of config.signing.trustedKeyFiles) {
        trustedKeys.push((await Deno.readTextFile(abs(f))).trim());
      }
      report = await loadPlugins({
        dirs: config.plugins.map(abs),
        supervisor: plugins,
        unsigned: config.signing.unsigned,
        trustedKeys,
        trustedPlugins: config.signing.trustedPlugins,
      });
      for (const f of report.failed) {
        log("warn", `plugin ${f.name ?? f.dir} not loaded: ${f.error}`);
      }
    }
    const runtime = new Runtime(
      projectDir,
      config,
      store,
      plugins,
      machines,
      loaded.errors,
      report,
      log,
      mode === "live" && options.noPlugins !== true,
    );
    holder.runtime = runtime;
    // A plugin's emit that names an instance is delivered to it.
    plugins.bus.subscribe("*", (event) => {
      const plugin = (event as { plugin?: unknown }).plugin;
      const target = (event as { instance?: unknown }).instance;
      if (typeof plugin !== "string" || typeof target !== "string") return;
      const { plugin: _p, instance: _i, ...rest } = event as EventObject & Record<string, unknown>;
      return runtime.send(target, rest as EventObject, { by: `plugin:${plugin}` }).then(() => {});
    }, { name: "runtime:deliver", priority: -100 });
    current = runtime;
    if (mode === "live") {
      await runtime.#startSchedules(options.clock ?? new SystemClock(), configRead);
    }
    return runtime;
  }

  /**
   * Reconciles the store's schedules with the configuration (removing config schedules it no
   * longer declares only when a configuration file was read) and starts firing them.
   */
  async #startSchedules(clock: Clock, configRead: boolean): Promise<void> {
    for (
      const line of await syncSchedules(
        this.store,
        this.config.schedules ?? [],
        clock.now(),
        { prune: configRead, revision: this.config.schedulesRevision },
      )
    ) {
      this.#log("info", line);
    }
    this.#scheduler = new Scheduler({
      store: this.store,
      clock,
      send: (instance, event, options) => this.send(instance, event, options),
      onError: (e, name) =>
        this.#log("warn", `schedule "${name}": ${e instanceof Error ? e.message : String(e)}`),
    });
    this.#scheduler.start();
  }

  /** Starts an instance of a machine; resolves once it is durable. */
  spawn(
    machineId: string,
    instanceId?: string,
    options: { context?: Record<string, unknown>; by?: string; eventId?: string } = {},
  ): Promise<InstanceInfo> {
    if (!this.machines.has(machineId)) {
      return Promise.reject(
        new Error(
          `unknown machine "${machineId}" (known: ${
            [...this.machines.keys()].sort().join(", ") || "none"
          })`,
        ),
      );
    }
    const id = instanceId ??
      `${machineId}-${Date.now().toString(36)}${(++this.#spawned).toString(36)}`;
    return this.store.create(machineId, id, options);
  }

  /**
   * Sends an event to an instance. Plugins with a `beforeTransition` hook hear it first; the
   * promise resolves once the macrostep is committed.
   */
  async send(
    instanceId: string,
    event: EventObject | string,
    options: { eventId?: string; by?: string } = {},
  ): Promise<SendResult> {
    const ev = typeof event === "string" ? { type: event } : event;
    await this.plugins.runHook("beforeTransition", { instance: instanceId, event: ev });
    return await this.store.send(instanceId, ev, options);
  }

  /** An instance's state, or `null` when there is none. */
  get(instanceId: string): Promise<InstanceInfo | null> {
    return this.store.get(instanceId);
  }

  /** Instances, filtered and paged (see `ListOptions`). */
  list(options?: ListOptions): Promise<ListPage> {
    return this.store.list(options);
  }

  /** An instance's journal, oldest first (`from`: the first seq; `limit`: how many). */
  history(
    instanceId: string,
    options?: { from?: number; limit?: number },
  ): Promise<JournalEntry[]> {
    return this.store.history(instanceId, options);
  }

  /** Records a checkpoint of an instance (its snapshot now), optionally named. */
  checkpoint(instanceId: string, label?: string): Promise<CheckpointInfo> {
    return this.store.checkpoint(instanceId, label);
  }

  /**
   * Moves an instance back to the state after a journal entry, or at a checkpoint. `by` is
   * who asked, as the journal records it (default `"runtime"`).
   */
  rollback(
    instanceId: string,
    to: { seq: number } | { checkpoint: string },
    options: { by?: string } = {},
  ): Promise<InstanceInfo> {
    return this.store.rollback(instanceId, to, { by: options.by ?? "runtime" });
  }

  /**
   * Steps back one event: to the state before the event the current state rests on. A
   * rollback is followed to the entry it restored, so undo after rollback keeps going back.
   */
  async undo(instanceId: string): Promise<InstanceInfo> {
    const info = await this.store.get(instanceId);
    if (info === null) throw new Error(`no instance "${instanceId}"`);
    const journal = await this.store.history(instanceId, { limit: 100_000 });
    const bySeq = new Map(journal.map((e) => [e.seq, e]));
    let entry = bySeq.get(info.seq);
    for (let hops = 0; entry !== undefined && hops < 100_000; hops++) {
      if (entry.kind === "event" || entry.kind === "timer" || entry.kind === "invoke") {
        return await this.store.rollback(instanceId, { seq: entry.seq - 1 }, { by: "undo" });
      }
      if (entry.kind === "create") break;
      // A rollback restored the state after entry `to`; other entries did not change it.
      entry = bySeq.get(entry.kind === "rollback" ? entry.to! : entry.seq - 1);
    }
    throw new Error(`instance "${instanceId}" has no event to undo`);
  }

  /** The events the instance accepts now (guards evaluated with a payload-less event). */
  acceptedEvents(instanceId: string, options: { ignoreGuards?: boolean } = {}): Promise<string[]> {
    return this.store.inspect(instanceId, (i) => i.acceptedEvents(options));
  }

  /** Reads the live instance (configuration, context, `can`...) without changing it. */
  inspect<T>(instanceId: string, fn: (instance: MachineInstance) => T): Promise<T> {
    return this.store.inspect(instanceId, fn);
  }

  /** Calls a plugin action through the supervisor. */
  call(plugin: string, action: string, payload?: unknown): Promise<unknown> {
    return this.plugins.call(plugin, action, payload);
  }

  /** Receives committed transitions (of one instance, or all); returns the unsubscribe. */
  watch(listener: (t: TransitionEvent) => void, instanceId?: string): () => void {
    return this.bus.subscribe("machine.transition", (event) => {
      const t = event as TransitionEvent;
      if (instanceId === undefined || t.instance === instanceId) listener(t);
    }, { name: "watch", priority: 100 });
  }

  /**
   * Loads the machine scripts again (the configured globs and any files given to
   * `loadMachines`). A machine whose script changed moves to the new definition when its shape
   * is the same (only code changed) or when its migrations lead from the old version to the
   * new one; otherwise running instances keep the old definition, and the outcome says why.
   * New machines are added.
   */
  async reload(): Promise<ReloadOutcome[]> {
    const files = await expandGlobs(this.config.machines, this.projectDir);
    return await this.#adopt([...new Set([...files, ...this.#extraFiles])], false);
  }

  /**
   * Loads more machine scripts into the running runtime (the REPL's `load`), by the rules of
   * `reload()`; later reloads include them. A file that exports no machine is an outcome too.
   */
  async loadMachines(files: string[]): Promise<ReloadOutcome[]> {
    for (const f of files) this.#extraFiles.add(f);
    return await this.#adopt(files, true);
  }

  async #adopt(files: string[], reportEmpty: boolean): Promise<ReloadOutcome[]> {
    const loaded = await loadScripts(files);
    const outcomes: ReloadOutcome[] = loaded.errors.map((e) => ({
      machine: "",
      file: e.file,
      result: "error",
      reason: `${e.line === undefined ? "" : `${e.line}:${e.col} `}${e.message}`,
    }));
    if (reportEmpty) {
      for (const file of files) {
        if (
          !loaded.machines.some((m) => m.file === file) && !outcomes.some((o) => o.file === file)
        ) {
          outcomes.push({ machine: "", file, result: "error", reason: "exports no machine" });
        }
      }
    }
    for (const m of loaded.machines) {
      const id = m.machine.id;
      const old = this.machines.get(id);
      const register = async (result: ReloadOutcome["result"], reason?: string) => {
        this.machines.set(id, m);
        await this.store.replaceMachine(m.machine);
        outcomes.push(
          reason === undefined ? { machine: id, file: m.file, result } : {
            machine: id,
            file: m.file,
            result,
            reason,
          },
        );
      };
      if (old === undefined) {
        await register("added");
        continue;
      }
      if (old.file !== m.file && old.file !== "(embedded)") {
        outcomes.push({
          machine: id,
          file: m.file,
          result: "error",
          reason: `machine "${id}" is already defined in ${old.file}; not loaded`,
        });
        continue;
      }
      // Same content, same machine (an SCXML document is parsed into a new object each time).
      if (old.version === m.version) continue;
      if (old.machine.hash === m.machine.hash) await register("updated");
      else if (
        old.machine.version !== undefined &&
        (m.machine.config.migrations ?? {})[String(old.machine.version)] !== undefined
      ) {
        await register(
          "migrated",
          `instances migrate from version ${old.machine.version} to ${m.machine.version}`,
        );
      } else {
        outcomes.push({
          machine: id,
          file: m.file,
          result: "kept",
          reason:
            `the states or transitions of "${id}" changed (version ${
              old.machine.version ?? "unversioned"
            } -> ${m.machine.version ?? "unversioned"}) and it declares no migration from ` +
            `${old.machine.version ?? "unversioned"}: running instances keep the old definition`,
        });
      }
    }
    return outcomes;
  }

  /** Stops plugins and closes the store (everything acknowledged is already durable). */
  async close(): Promise<void> {
    if (current === this) current = null;
    await this.#scheduler?.stop();
    await this.plugins.close();
    await this.store.close();
  }

  /** @internal The store committed: publish transitions and run hooks. */
  published(commit: CommitInfo): void {
    let from = commit.from;
    for (const entry of commit.entries) {
      const t: TransitionEvent = {
        type: "machine.transition",
        instance: commit.id,
        machine: commit.machine,
        event: entry.event?.type ?? entry.kind,
        kind: entry.kind,
        from,
        to: entry.configuration,
        seq: entry.seq,
        time: entry.time,
        status: entry.status,
      };
      from = entry.configuration;
      this.bus.emit(t).catch(() => {});
      const hook = entry.kind === "create" ? "instanceCreated" : "afterTransition";
      this.plugins.runHook(hook, t).catch(() => {});
      if (entry.status === "done") this.plugins.runHook("instanceDone", t).catch(() => {});
    }
  }

  /** @internal A machine sent to a target the engine does not know. */
  routeSend(target: string, event: EventObject, effectId?: string): () => Promise<unknown> {
    const m = /^plugin:([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_-]*)$/.exec(target);
    if (m === null) {
      throw new Error(
        `unknown target "${target}" (plugins: "plugin:<name>.<action>"; instances: "instance:<id>")`,
      );
    }
    // Run by the store once the transition that sent it is committed (and again after a
    // restart or takeover until it has run): a failure keeps it in the outbox.
    return () => this.plugins.call(m[1], m[2], event, { effectId });
  }
}

/**
 * Joins the store's cluster when this process is asked to (options or `cluster:` of the
 * configuration), or as a client when the store already runs in cluster mode.
 */
async function joinIfClustered(
  backend: KvBackend,
  config: RuntimeConfig,
  options: RuntimeOptions,
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void,
): Promise<ClusterMembership | undefined> {
  const fromConfig = config.cluster !== undefined && config.cluster.enabled
    ? config.cluster
    : undefined;
  let settings: (ClusterOptions & { url?: string }) | undefined = options.cluster === undefined
    ? fromConfig
    : { ...fromConfig, ...options.cluster };
  if (settings === undefined) {
    if ((await backend.get(K.clusterConfig())).value === null) return undefined;
    settings = { role: "client" };
  }
  const { joinCluster } = await import("../cluster/membership.ts");
  const { enabled: _, ...rest } = settings as typeof settings & { enabled?: boolean };
  return await joinCluster(backend, {
    ...rest,
    onError: (e) => log("warn", `cluster: ${e instanceof Error ? e.message : String(e)}`),
  });
}
