/**
 * The services the host gives plugins over RPC: a KV namespace of its own (it can never read
 * or write another plugin's keys or the machines' keys), a scheduler, a logger, and `emit`.
 * Everything a plugin sends is data from an untrusted party: checked here.
 *
 * @module
 */
import type { Clock, EventObject } from "../core/types.ts";
import type { KvBackend } from "../persist/backend.ts";
import type { HostServices } from "./host.ts";
import type { ServiceName } from "./protocol.ts";

/** Where plugin log lines go. */
export type LogSink = (
  plugin: string,
  level: "debug" | "info" | "warn" | "error",
  message: string,
  data?: unknown,
) => void;

/** Options for `PluginServices`. */
export interface PluginServicesOptions {
  /** Storage for plugins' namespaces (`["plugin", name, ...]`); none: KV calls fail clearly. */
  kv?: KvBackend;
  /** Receives plugin `emit`s (the bus). */
  onEmit?: (plugin: string, event: EventObject) => void;
  /** Receives plugin log lines (default: console, prefixed with the plugin's name). */
  log?: LogSink;
  /** Runs a scheduled action (the supervisor's `call`). */
  runScheduled?: (plugin: string, action: string, payload: unknown) => void;
  /** Most scheduled timers one plugin may hold (default 100). */
  maxTimers?: number;
  /**
   * The clock plugins' schedules run on (the runtime's; tests give a virtual one). Default:
   * the host's own timers (`setTimeout`, `setInterval`).
   */
  clock?: Clock;
}

const KEY_PART_TYPES = new Set(["string", "number", "bigint", "boolean"]);

function checkKey(key: unknown, what: string): (string | number | bigint | boolean)[] {
  if (!Array.isArray(key) || key.length > 16) {
    throw new TypeError(`${what}: a key is an array of at most 16 parts`);
  }
  for (const part of key) {
    if (!KEY_PART_TYPES.has(typeof part)) {
      throw new TypeError(`${what}: key parts are strings, numbers, bigints or booleans`);
    }
  }
  return key as (string | number | bigint | boolean)[];
}

/** The host services of every plugin of one runtime. */
export class PluginServices implements HostServices {
  readonly #options: PluginServicesOptions;
  /** Per plugin: its scheduled timers by id, each as the function that cancels it. */
  readonly #timers = new Map<string, Map<string, () => void>>();
  #nextTimer = 1;

  constructor(options: PluginServicesOptions = {}) {
    this.#options = options;
  }

  async service(plugin: string, name: ServiceName, args: unknown[]): Promise<unknown> {
    switch (name) {
      case "kv.get": {
        const kv = this.#kv(name);
        return (await kv.get(["plugin", plugin, ...checkKey(args[0], name)])).value;
      }
      case "kv.set": {
        const kv = this.#kv(name);
        const key = ["plugin", plugin, ...checkKey(args[0], name)];
        await kv.atomic([], [{ type: "set", key, value: args[1] }]);
        return null;
      }
      case "kv.delete": {
        const kv = this.#kv(name);
        const key = ["plugin", plugin, ...checkKey(args[0], name)];
        await kv.atomic([], [{ type: "delete", key }]);
        return null;
      }
      case "kv.list": {
        const kv = this.#kv(name);
        const prefix = checkKey(args[0], name);
        const limit = typeof args[1] === "number" ? Math.max(1, Math.min(args[1], 1000)) : 100;
        const out: { key: unknown[]; value: unknown }[] = [];
        for await (const e of kv.list({ prefix: ["plugin", plugin, ...prefix] }, { limit })) {
          out.push({ key: e.key.slice(2), value: e.value });
        }
        return out;
      }
      case "schedule.after":
      case "schedule.every":
        return this.#schedule(plugin, name === "schedule.every", args);
      case "schedule.cancel": {
        const id = String(args[0]);
        const cancel = this.#timers.get(plugin)?.get(id);
        if (cancel !== undefined) {
          cancel();
          this.#timers.get(plugin)!.delete(id);
        }
        return null;
      }
      default:
        throw new TypeError(`unknown service "${String(name)}"`);
    }
  }

  emit(plugin: string, event: EventObject): void {
    this.#options.onEmit?.(plugin, event);
  }

  log(
    plugin: string,
    level: "debug" | "info" | "warn" | "error",
    message: string,
    data?: unknown,
  ): void {
    if (this.#options.log !== undefined) this.#options.log(plugin, level, message, data);
    else console[level](`[${plugin}] ${message}`, ...(data === undefined ? [] : [data]));
  }

  /** Cancels every timer of a plugin (it stopped or is reloading). */
  clearTimers(plugin: string): void {
    const timers = this.#timers.get(plugin);
    if (timers === undefined) return;
    for (const cancel of timers.values()) cancel();
    this.#timers.delete(plugin);
  }

  #kv(name: string): KvBackend {
    if (this.#options.kv === undefined) throw new Error(`${name}: this runtime has no KV store`);
    return this.#options.kv;
  }

  #schedule(plugin: string, repeat: boolean, args: unknown[]): string {
    const [ms, action, payload] = args;
    if (typeof ms !== "number" || !(ms >= 1) || ms > 2_147_483_647) {
      throw new TypeError("schedule: ms must be a number of milliseconds, at least 1");
    }
    if (typeof action !== "string" || action === "") {
      throw new TypeError("schedule: action must be a name");
    }
    const timers = this.#timers.get(plugin) ?? new Map();
    if (timers.size >= (this.#options.maxTimers ?? 100)) {
      throw new RangeError(`schedule: at most ${this.#options.maxTimers ?? 100} timers per plugin`);
    }
    const id = `t${this.#nextTimer++}`;
    const run = () => {
      if (!repeat) timers.delete(id);
      this.#options.runScheduled?.(plugin, action, payload);
    };
    timers.set(id, this.#arm(run, ms, repeat));
    this.#timers.set(plugin, timers);
    return id;
  }

  /** Runs `fn` after `ms` (every `ms` when `repeat`); returns the function that cancels it. */
  #arm(fn: () => void, ms: number, repeat: boolean): () => void {
    const clock = this.#options.clock;
    if (clock === undefined) {
      const timer = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
      return () => repeat ? clearInterval(timer) : clearTimeout(timer);
    }
    // A Clock has one-shot timers: a repeating one is armed again each time it fires.
    let cancelled = false;
    let handle: unknown;
    const tick = () => {
      if (cancelled) return;
      if (repeat) handle = clock.setTimer(tick, ms);
      fn();
    };
    handle = clock.setTimer(tick, ms);
    return () => {
      cancelled = true;
      clock.clearTimer(handle);
    };
  }
}
