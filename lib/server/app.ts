/**
 * The HTTP API over a {@linkcode Runtime} as a Hono app: machines, instances (create, send,
 * state, history, checkpoint, rollback), plugins (actions and their declared routes), SSE,
 * cluster, health, Prometheus metrics and the OpenAPI document. `createApp` needs no socket:
 * tests call `app.request(...)`; `serve` (serve.ts) puts it on `Deno.serve`.
 *
 * This file holds what every route shares (the bearer token, metrics of every request, the
 * body limit, not-found and error answers); the routes are Hono sub-apps, one file per
 * resource under `routes/`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Runtime } from "../runtime/runtime.ts";
import { toHttp } from "./http_error.ts";
import { Metrics } from "./metrics.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { MUTATING, type RouteDeps } from "./routes/deps.ts";
import { eventStreamRoutes } from "./routes/events.ts";
import { instanceRoutes } from "./routes/instances.ts";
import { operationRoutes, operatorInstanceRoutes } from "./routes/operator.ts";
import { machineRoutes } from "./routes/machines.ts";
import { type MountedPluginRoute, pluginRoutes } from "./routes/plugins.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { serviceRoutes } from "./routes/service.ts";

export { type ApiError, HttpError, toHttp } from "./http_error.ts";
export { discoverPluginRoutes, type MountedPluginRoute } from "./routes/plugins.ts";

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /**
   * The bearer token mutating routes require (`Authorization: Bearer <token>`). Without one,
   * mutating routes are open: `serve` refuses that beyond loopback.
   */
  token?: string;
  /** Largest request body accepted, in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Plugin-declared routes to mount (see {@linkcode discoverPluginRoutes}). */
  pluginRoutes?: MountedPluginRoute[];
  /** The metrics to record into (default: a new `Metrics`). */
  metrics?: Metrics;
  /** Ends open SSE streams when aborted (the server is closing). */
  signal?: AbortSignal;
  /** Where 5xx errors are logged (default `console.error`). */
  log?: (message: string) => void;
  /**
   * @internal Adds routes after the API's own (the inspector page's `inspectorRoutes`); the
   * argument is the app's Hono router, whose API is not part of Statecraft's.
   */
  extend?: (app: Hono) => void;
}

/**
 * The HTTP API as {@linkcode createApp} returns it (a Hono app): serve it with
 * `Deno.serve(app.fetch)`, or call it in process with `app.request`.
 */
export interface ApiApp {
  /** Answers one request: the handler to give `Deno.serve`. */
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
  /** Answers a request made in process (tests, embedding): a path or URL, and `fetch`'s init. */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

const encoder = new TextEncoder();

/**
 * Builds the HTTP API over a runtime, without listening (`serve` listens); `app.request`
 * answers in process.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * import { Runtime } from "../runtime/runtime.ts";
 * import { defineMachine } from "../core/machine.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const runtime = await Runtime.open({
 *   kv: ":memory:",
 *   machines: [],
 *   noPlugins: true,
 *   extraMachines: [door],
 * });
 * const app = createApp(runtime, { token: "s3cret" });
 * const headers = { authorization: "Bearer s3cret", "content-type": "application/json" };
 * await app.request("/instances", {
 *   method: "POST",
 *   headers,
 *   body: JSON.stringify({ machine: "door", id: "door-1" }),
 * });
 * const res = await app.request("/instances/door-1/events", {
 *   method: "POST",
 *   headers: { ...headers, "idempotency-key": "e-1" },
 *   body: JSON.stringify({ type: "OPEN" }),
 * });
 * console.log(await res.json()); // { id, seq, configuration, status, duplicate }
 * await runtime.close();
 * ```
 */
export function createApp(runtime: Runtime, options: AppOptions = {}): ApiApp {
  const metrics = options.metrics ?? new Metrics();
  metrics.exportToOpenTelemetry(runtime); // OpenTelemetry on: /metrics as OTel metrics too
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const authorized = bearerCheck(options.token);
  const open = options.token === undefined || options.token === ""; // no header to read
  const app = new Hono();
  const unwatch = runtime.watch((t) => metrics.recordTransition(t));
  options.signal?.addEventListener("abort", unwatch, { once: true });

  // Metrics of every request, and the bearer token on mutating routes.
  app.use("*", async (c, next) => {
    const method = c.req.method;
    if (!open && MUTATING.has(method) && !authorized(c.req.header("authorization"))) {
      metrics.recordError("unauthorized");
      metrics.recordRequest(method, "(unauthorized)", 401);
      return c.json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
    }
    await next();
    metrics.recordRequest(method, routeOf(c), c.res.status);
  });
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => {
      metrics.recordError("too_large");
      return c.json(
        {
          error: "too_large",
          field: "(body)",
          message: `the body is larger than ${maxBodyBytes} bytes`,
        },
        413,
      );
    },
  });

  const deps: RouteDeps = { runtime, metrics, limit, authorized, signal: options.signal };
  app.route("/machines", machineRoutes(deps));
  app.route("/instances", instanceRoutes(deps));
  app.route("/instances", operatorInstanceRoutes(deps));
  app.route("/operations", operationRoutes(deps));
  app.route("/cluster", clusterRoutes(deps));
  app.route("/schedules", scheduleRoutes(deps));
  app.route("/plugins", pluginRoutes(deps, options.pluginRoutes ?? []));
  app.route("/events", eventStreamRoutes(deps));
  app.route("/", serviceRoutes(deps));

  options.extend?.(app);

  app.notFound((c) => {
    metrics.recordError("not_found");
    return c.json({ error: "not_found", message: `no route ${c.req.method} ${c.req.path}` }, 404);
  });

  app.onError((e, c) => {
    const { status, body } = toHttp(e);
    metrics.recordError(body.error);
    if (status >= 500) {
      (options.log ?? console.error)(`${c.req.method} ${c.req.path}: ${errorText(e)}`);
    }
    return c.json(body, status as 400);
  });

  return app;
}

/**
 * Whether an `Authorization` header carries the token: always true without a token. The
 * comparison takes the same time wherever the first difference is.
 */
function bearerCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined || token === "") return () => true;
  const expected = encoder.encode(token);
  return (header) => {
    if (header === undefined || !header.startsWith("Bearer ")) return false;
    const given = encoder.encode(header.slice(7).trim());
    let diff = given.length ^ expected.length;
    for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (given[i] ?? 0);
    return diff === 0;
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e);
}

/** The route pattern a request matched (`/instances/:id/events`): the metrics' label. */
function routeOf(c: Context): string {
  const routes = c.req.matchedRoutes;
  for (let i = routes.length - 1; i >= 0; i--) {
    if (routes[i].method !== "ALL") return routes[i].path;
  }
  return "(none)";
}
