/**
 * The plugin side of the protocol: runs inside a Worker or a subprocess, loads the plugin's
 * module, answers the host's requests and forwards the plugin's service calls. Everything a
 * plugin does outside its own code goes through here (or is refused by Deno's permissions).
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import type { HostMessage, InitData, PluginMessage, RemoteError, ServiceName } from "./protocol.ts";
import { toRemoteError } from "./protocol.ts";
import { activeTraceparent, inPluginSpan, pluginTracing } from "./plugin_tracing.ts";
import type { PluginContext, PluginDefinition, PluginKvKey } from "./types.ts";

/** How the runtime talks to the host. */
export interface Transport {
  send(message: PluginMessage): void;
  onMessage(handler: (message: HostMessage) => void): void;
}

/** Starts answering the host on this transport. */
export function runPlugin(transport: Transport): void {
  let definition: PluginDefinition | null = null;
  let ctx: PluginContext | null = null;
  let nextSvc = 1;
  const pendingSvc = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  const service = (name: ServiceName, args: unknown[]): Promise<unknown> => {
    const id = nextSvc++;
    return new Promise((resolve, reject) => {
      pendingSvc.set(id, { resolve, reject });
      transport.send({ t: "svc", id, service: name, args });
    });
  };

  const makeContext = (init: InitData): PluginContext => {
    const log =
      (level: "debug" | "info" | "warn" | "error") => (message: string, data?: unknown) => {
        const line: PluginMessage = data === undefined
          ? { t: "log", level, message: String(message) }
          : { t: "log", level, message: String(message), data };
        // Written in a traced request: the host logs it in that trace.
        const trace = pluginTracing ? activeTraceparent() : undefined;
        transport.send(trace === undefined ? line : { ...line, trace });
      };
    return Object.freeze({
      name: init.name,
      version: init.version,
      config: init.config,
      log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
      kv: {
        get: (key: PluginKvKey) => service("kv.get", [key]),
        set: (key: PluginKvKey, value: unknown) => service("kv.set", [key, value]).then(() => {}),
        delete: (key: PluginKvKey) => service("kv.delete", [key]).then(() => {}),
        list: (prefix: PluginKvKey, limit?: number) => service("kv.list", [prefix, limit]),
      },
      scheduler: {
        after: (ms: number, action: string, payload?: unknown) =>
          service("schedule.after", [ms, action, payload]) as Promise<string>,
        every: (ms: number, action: string, payload?: unknown) =>
          service("schedule.every", [ms, action, payload]) as Promise<string>,
        cancel: (id: string) => service("schedule.cancel", [id]).then(() => {}),
      },
      emit: (event: EventObject) => transport.send({ t: "emit", event }),
    }) as PluginContext;
  };

  const reply = (id: number, work: () => unknown): void => {
    Promise.resolve().then(work).then(
      (value) => transport.send({ t: "result", id, ok: true, value }),
      (e) => transport.send({ t: "result", id, ok: false, error: toRemoteError(e) }),
    ).catch((e) => {
      // The value could not cross (not cloneable): say so instead of leaving the call hanging.
      const error: RemoteError = { name: "DataCloneError", message: toRemoteError(e).message };
      transport.send({ t: "result", id, ok: false, error });
    });
  };

  /** A request carrying a traceparent runs in the plugin's span for it (OpenTelemetry on). */
  const traced = (trace: string | undefined, name: string, work: () => unknown) =>
    trace === undefined || !pluginTracing
      ? work()
      : inPluginSpan(trace, `plugin ${ctx?.name ?? "?"} ${name}`, {
        "statecraft.plugin": ctx?.name ?? "",
      }, work);

  const need = (): [PluginDefinition, PluginContext] => {
    if (definition === null || ctx === null) throw new Error("the plugin is not initialised");
    return [definition, ctx];
  };

  transport.onMessage((msg) => {
    switch (msg.t) {
      case "init":
        reply(msg.id, async () => {
          // The plugin's entry by URL (JSR cannot analyse it; it needs no import map).
          const mod = await import(msg.init.entryUrl);
          const def = mod.default as PluginDefinition | undefined;
          if (typeof def !== "object" || def === null) {
            throw new TypeError(
              `${msg.init.entryUrl} must \`export default definePlugin({...})\``,
            );
          }
          definition = def;
          ctx = makeContext(msg.init);
          return { actions: Object.keys(def.actions ?? {}) };
        });
        return;
      case "call":
        reply(msg.id, () =>
          traced(msg.trace, msg.action, () => {
            const [def, c] = need();
            const handler = def.actions?.[msg.action];
            if (typeof handler !== "function") throw new Error(`no action "${msg.action}"`);
            // A call made for an effect carries its id: the action's idempotency key.
            const withId = msg.effectId === undefined
              ? c
              : Object.create(c, { effectId: { value: msg.effectId, enumerable: true } });
            return handler(msg.payload, withId);
          }));
        return;
      case "event":
        reply(msg.id, () =>
          traced(msg.trace, `event ${msg.event.type}`, () => {
            const [def, c] = need();
            const handler = def.events?.[msg.descriptor];
            if (typeof handler === "function") return handler(msg.event, c);
            return undefined;
          }));
        return;
      case "hook":
        reply(msg.id, () =>
          traced(msg.trace, `hook ${msg.hook}`, () => {
            const [def, c] = need();
            const handler = def.hooks?.[msg.hook];
            if (typeof handler === "function") return handler(msg.data, c);
            return undefined;
          }));
        return;
      case "lifecycle":
        reply(msg.id, () => {
          const [def, c] = need();
          const fn = msg.phase === "load"
            ? def.onLoad
            : msg.phase === "unload"
            ? def.onUnload
            : def.onReload;
          return typeof fn === "function" ? fn.call(def, c) : undefined;
        });
        return;
      case "ping":
        transport.send({ t: "result", id: msg.id, ok: true, value: "pong" });
        return;
      case "svcResult": {
        const pending = pendingSvc.get(msg.id);
        if (pending === undefined) return;
        pendingSvc.delete(msg.id);
        if (msg.ok) pending.resolve(msg.value);
        else {
          const err = new Error(msg.error.message);
          err.name = msg.error.name;
          pending.reject(err);
        }
        return;
      }
    }
  });
}
