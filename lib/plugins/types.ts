/**
 * What a plugin author writes (`definePlugin`) and what a plugin receives (`PluginContext`).
 * A plugin module runs in a Web Worker, a subprocess, or (trusted) the host process, and
 * reaches the host only through its context.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";

/** The hooks a plugin may declare in its manifest and handle. */
export type HookName =
  | "load"
  | "unload"
  | "reload"
  | "beforeTransition"
  | "afterTransition"
  | "instanceCreated"
  | "instanceDone";

/** How a plugin is isolated. */
export type IsolationMode = "trusted" | "worker" | "process";

/** A key in a plugin's own KV namespace (the host prefixes it; others' keys are unreachable). */
export type PluginKvKey = readonly (string | number | bigint | boolean)[];

/** The KV namespace a plugin gets: its keys live under `["plugin", <name>, ...key]`. */
export interface PluginKv {
  /** The value stored under `key`, or `null`. */
  get<T = unknown>(key: PluginKvKey): Promise<T | null>;
  /** Stores `value` (structured-clone data) under `key`. */
  set(key: PluginKvKey, value: unknown): Promise<void>;
  /** Removes `key`; nothing happens when it is absent. */
  delete(key: PluginKvKey): Promise<void>;
  /** Entries whose keys start with `prefix`, in key order, at most `limit` of them. */
  list<T = unknown>(prefix: PluginKvKey, limit?: number): Promise<{ key: PluginKvKey; value: T }[]>;
}

/** A logger that goes to the host (and its log sinks). */
export interface PluginLogger {
  /** Detail for debugging, with optional structured data. */
  debug(message: string, data?: unknown): void;
  /** Normal operation. */
  info(message: string, data?: unknown): void;
  /** Something unexpected that the plugin handled. */
  warn(message: string, data?: unknown): void;
  /** A failure. */
  error(message: string, data?: unknown): void;
}

/** Timers kept by the host: the action is called through the supervisor when due. */
export interface PluginScheduler {
  /** Calls `action` of this plugin with `payload` after `ms`; returns an id for `cancel`. */
  after(ms: number, action: string, payload?: unknown): Promise<string>;
  /** Calls `action` every `ms`. */
  every(ms: number, action: string, payload?: unknown): Promise<string>;
  /** Cancels a timer set by `after` or `every`; an unknown id is ignored. */
  cancel(id: string): Promise<void>;
}

/** What a plugin's handlers receive. */
export interface PluginContext {
  /** The plugin's name, from its manifest. */
  readonly name: string;
  /** The plugin's version, from its manifest. */
  readonly version: string;
  /** `config` from the manifest (after `${VAR}` substitution). */
  readonly config: Record<string, unknown>;
  /** Log lines that go to the host's log. */
  readonly log: PluginLogger;
  /** The plugin's own KV namespace, in the runtime's store. */
  readonly kv: PluginKv;
  /** Timers kept by the host, calling this plugin's actions. */
  readonly scheduler: PluginScheduler;
  /** Publishes an event on the host's bus (subscribers, machine instances). */
  emit(event: EventObject): void;
  /**
   * In an action called for a machine's invocation (`pluginAction`): the invocation's effect id,
   * the same when the call is made again (a retry, a restart, a takeover by another node). Pass
   * it on as the idempotency key of the side effect.
   */
  readonly effectId?: string;
}

/** An action handler: payload in, result out (structured-clone data; JSON in process mode). */
export type ActionHandler = (payload: unknown, ctx: PluginContext) => unknown;

/** A plugin module's default export. */
export interface PluginDefinition {
  /** The actions the manifest `provides`. */
  actions?: Record<string, ActionHandler>;
  /** Handlers for the event descriptors the manifest `subscribes` to (same keys). */
  events?: Record<string, (event: EventObject, ctx: PluginContext) => unknown>;
  /** Handlers for the hooks the manifest declares (machine observation and lifecycle). */
  hooks?: Partial<Record<HookName, (data: unknown, ctx: PluginContext) => unknown>>;
  /** Called once the plugin is started, before any action or event reaches it. */
  onLoad?(ctx: PluginContext): unknown;
  /** Called before the plugin is stopped (unload, reload, shutdown). */
  onUnload?(ctx: PluginContext): unknown;
  /** Called in the new version after a hot reload replaced the old one. */
  onReload?(ctx: PluginContext): unknown;
}

/**
 * Declares a plugin; the module's default export.
 *
 * @example
 * ```ts
 * import { definePlugin } from "./types.ts";
 * export default definePlugin({
 *   actions: { greet: (payload) => `hello ${(payload as { name: string }).name}` },
 * });
 * ```
 */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition;
}

/**
 * An error that came back from a plugin: its message and stack, never a host object.
 *
 * @example
 * ```ts
 * import { PluginError } from "./types.ts";
 * import type { PluginSupervisor } from "./supervisor.ts";
 * async function notify(plugins: PluginSupervisor): Promise<void> {
 *   try {
 *     await plugins.call("notifier", "send", { text: "hi" });
 *   } catch (e) {
 *     if (e instanceof PluginError) console.error(e.plugin, e.remoteName, e.message);
 *     else throw e;
 *   }
 * }
 * ```
 */
export class PluginError extends Error {
  /** The plugin it came from. */
  readonly plugin: string;
  /** The plugin-side error's name (`TypeError`, `NotCapable`...). */
  readonly remoteName: string;
  /** The plugin-side error's message, as thrown. */
  readonly remoteMessage: string;
  /** The plugin-side stack, as text. */
  readonly remoteStack: string | undefined;
  /**
   * Made by the host from an error a plugin threw. The message is
   * `plugin "<name>": <remote name>: <remote message>`, or `plugin "<name>" <hint>` when the
   * host knows better what the user should do (a permission refused by Deno: which key of
   * which `plugin.yaml` grants it).
   *
   * @param plugin the plugin's name.
   * @param remote the plugin-side error's name, message and stack.
   * @param hint what the plugin needs, in the user's terms, in place of the remote message.
   */
  constructor(
    plugin: string,
    remote: { name: string; message: string; stack?: string },
    hint?: string,
  ) {
    super(
      hint === undefined
        ? `plugin "${plugin}": ${remote.name}: ${remote.message}`
        : `plugin "${plugin}" ${hint}`,
    );
    this.name = "PluginError";
    this.plugin = plugin;
    this.remoteName = remote.name;
    this.remoteMessage = remote.message;
    this.remoteStack = remote.stack;
  }
}

/**
 * A call or message the host refused or could not complete (timeout, size, state).
 *
 * @example
 * ```ts
 * import { PluginHostError } from "./types.ts";
 * import type { PluginSupervisor } from "./supervisor.ts";
 * async function tryCall(plugins: PluginSupervisor): Promise<unknown> {
 *   try {
 *     return await plugins.call("geo", "lookup", { ip: "127.0.0.1" });
 *   } catch (e) {
 *     if (e instanceof PluginHostError && e.code === "timeout") return null;
 *     throw e;
 *   }
 * }
 * ```
 */
export class PluginHostError extends Error {
  /** `timeout`, `too_large`, `not_running`, `crashed`, `rate_limited`, `unknown_action`, `invalid`. */
  readonly code: string;
  /**
   * Made by the host or the supervisor for a call it refused or could not complete.
   *
   * @param code one of the codes above, for programs.
   * @param message what failed, naming the plugin, for people.
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "PluginHostError";
    this.code = code;
  }
}
