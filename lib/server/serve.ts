/**
 * Puts the HTTP API (app.ts) on `Deno.serve`: loopback by default; beyond loopback a bearer
 * token is required. Mounts the plugins' declared routes and, when `lib/server/inspector.ts`
 * exists, the inspector page (`inspectorRoutes(app, runtime)`).
 *
 * @module
 */
import type { Hono } from "hono";
import type { Runtime } from "../runtime/runtime.ts";
import { type ApiApp, createApp, discoverPluginRoutes } from "./app.ts";
import { Metrics } from "./metrics.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port (default 8787; 0 picks a free one). */
  port?: number;
  /** Bearer token for mutating routes; required when `host` is not a loopback address. */
  token?: string;
  /** Largest request body, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Mount the inspector page when lib/server/inspector.ts exists (default true). */
  inspector?: boolean;
  /** Where server log lines go (default: stderr). */
  log?: (message: string) => void;
}

/** A running server. */
export interface Server {
  /** `http://host:port` (the real port when 0 was asked). */
  url: string;
  /** The app serving requests. */
  app: ApiApp;
  /** Stops listening, ends SSE streams, waits for requests in flight. */
  close(): Promise<void>;
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Thrown when the server would listen beyond loopback without a token. */
export class ServeConfigError extends Error {
  /** Makes the error with what to change. */
  constructor(message: string) {
    super(message);
    this.name = "ServeConfigError";
  }
}

/**
 * Serves the runtime's API on `Deno.serve` (loopback unless a token is given).
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 * import { Runtime } from "../runtime/runtime.ts";
 * const runtime = await Runtime.open({ kv: ":memory:", machines: [], noPlugins: true });
 * const server = await serve(runtime, { port: 0, inspector: false });
 * console.log(await (await fetch(`${server.url}/health`)).json());
 * await server.close();
 * await runtime.close();
 * ```
 */
export async function serve(runtime: Runtime, options: ServeOptions = {}): Promise<Server> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? ((m: string) => console.error(m));
  const token = options.token === "" ? undefined : options.token;
  if (!isLoopback(host) && token === undefined) {
    throw new ServeConfigError(
      `listening on ${host} (beyond loopback) needs a bearer token: set server.tokenEnv in ` +
        `statecraft.yaml and that variable, or listen on 127.0.0.1`,
    );
  }
  const abort = new AbortController();
  const pluginRoutes = await discoverPluginRoutes(runtime);
  const inspector = options.inspector === false ? null : await loadInspector(log);
  const app = createApp(runtime, {
    token,
    maxBodyBytes: options.maxBodyBytes,
    pluginRoutes,
    metrics: new Metrics(),
    signal: abort.signal,
    log,
    extend: inspector === null ? undefined : (a) => inspector(a, runtime),
  });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: host,
    port: options.port ?? 8787,
    signal: abort.signal,
    onListen: resolve,
    onError: (e) => {
      log(`server: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      return new Response(JSON.stringify({ error: "internal", message: "internal error" }), {
        status: 500,
        headers: { "content-type": "application/json" },
      });
    },
  }, app.fetch);
  const addr = await listening;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${shown}:${addr.port}`,
    app,
    close() {
      closed ??= (async () => {
        abort.abort();
        await server.finished;
      })();
      return closed;
    },
  };
}

type InspectorRoutes = (app: Hono, runtime: Runtime) => void | Promise<void>;

/**
 * `inspectorRoutes` of lib/server/inspector.ts, loaded only when the inspector is on; a failure
 * to load it (elkjs missing from Deno's cache, say) is logged and the API serves without it.
 */
async function loadInspector(log: (m: string) => void): Promise<InspectorRoutes | null> {
  try {
    return (await import("./inspector.ts")).inspectorRoutes;
  } catch (e) {
    log(`warn: the inspector did not load: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}
