/**
 * The HTTP API over a {@linkcode Runtime} as a Hono app: machines, instances (create, send,
 * state, history, checkpoint, rollback), plugins (actions and their declared routes), SSE,
 * health, Prometheus metrics and the OpenAPI document. `createApp` needs no socket: tests call
 * `app.request(...)`; `serve` (serve.ts) puts it on `Deno.serve`.
 *
 * @module
 */
import { K } from "../persist/keys.ts";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { EventError } from "../core/errors.ts";
import { StoreError } from "../persist/store.ts";
import { PluginError, PluginHostError } from "../plugins/types.ts";
import type { PluginRoute } from "../plugins/manifest.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { Metrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import {
  checkpointBody,
  createBody,
  eventBody,
  eventsQuery,
  historyQuery,
  idempotencyKey,
  instanceId,
  listQuery,
  rollbackBody,
} from "./schemas.ts";
import { sseResponse } from "./sse.ts";

/** A route a plugin declares in its manifest, mounted at `/plugins/<plugin><route.path>`. */
export interface MountedPluginRoute {
  /** The plugin's name. */
  plugin: string;
  /** The route as the manifest declares it. */
  route: PluginRoute;
}

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

/** The JSON body of every error response. */
export interface ApiError {
  /** A stable code: `invalid`, `not_found`, `conflict`, `too_large`, `unauthorized`... */
  error: string;
  /** What was wrong, for a person. */
  message?: string;
  /** The body field, query parameter or header at fault (`type`, `context.n`, `limit`). */
  field?: string;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const encoder = new TextEncoder();

/** An error the handlers throw to answer with a status and an {@linkcode ApiError}. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The JSON body. */
  readonly body: ApiError;
  /** Makes the error; its message is the body's. */
  constructor(status: number, body: ApiError) {
    super(body.message ?? body.error);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
  }
}

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
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const token = options.token === undefined || options.token === ""
    ? null
    : encoder.encode(options.token);
  const app = new Hono();
  const unwatch = runtime.watch((t) => metrics.recordTransition(t));
  options.signal?.addEventListener("abort", unwatch, { once: true });

  // Metrics of every request, and the bearer token on mutating routes.
  app.use("*", async (c, next) => {
    const method = c.req.method;
    if (token !== null && MUTATING.has(method) && !authorized(c.req.header("authorization"))) {
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
        { error: "too_large", message: `the body is larger than ${maxBodyBytes} bytes` },
        413,
      );
    },
  });

  function authorized(header: string | undefined): boolean {
    if (header === undefined || !header.startsWith("Bearer ")) return false;
    const given = encoder.encode(header.slice(7).trim());
    // Constant time over the expected token's length: no early exit on the first difference.
    let diff = given.length ^ token!.length;
    for (let i = 0; i < token!.length; i++) diff |= token![i] ^ (given[i] ?? 0);
    return diff === 0;
  }

  // --- machines and instances -------------------------------------------------------------

  app.get("/machines", (c) =>
    c.json({
      items: [...runtime.machines.values()].map((m) => ({
        id: m.machine.id,
        file: m.file,
        version: m.machine.version ?? null,
        hash: m.machine.hash,
      })).sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    }));

  app.get("/instances", async (c) => {
    const q = parse(listQuery, c.req.query(), "query");
    try {
      return c.json(await runtime.list(q));
    } catch (e) {
      // Deno KV rejects a cursor it did not make with a TypeError.
      if (q.cursor !== undefined && e instanceof TypeError) {
        throw new HttpError(400, { error: "invalid", field: "cursor", message: "invalid cursor" });
      }
      throw e;
    }
  });

  app.post("/instances", limit, async (c) => {
    const body = parse(createBody, await jsonBody(c), "body");
    if (!runtime.machines.has(body.machine)) {
      throw new HttpError(400, {
        error: "invalid",
        field: "machine",
        message: `unknown machine "${body.machine}"`,
      });
    }
    // With an Idempotency-Key, a retried create answers with the instance it created (200).
    const eventId = idempotency(c.req.header("idempotency-key"));
    const info = await runtime.spawn(body.machine, body.id, { context: body.context, eventId });
    const location = { location: `/instances/${encodeURIComponent(info.id)}` };
    return c.json(info, info.duplicate === true ? 200 : 201, location);
  });

  app.get("/instances/:id", async (c) => {
    const id = param(c);
    const info = await runtime.get(id);
    if (info === null) throw notFound(id);
    const cluster = runtime.store.cluster;
    if (cluster === undefined) return c.json(info);
    // Cluster mode: which partition the instance is in, and which node owns it now.
    const partition = cluster.partitionOf(id);
    const lease = await runtime.store.backend.get<{ owner: string | null }>(K.lease(partition));
    const owner = lease.value?.owner ?? null;
    return c.json({ ...info, partition, owner });
  });

  app.get("/cluster", async (c) => {
    const cluster = runtime.store.cluster;
    if (cluster === undefined) {
      return c.json({
        error: "not_clustered",
        message: "this node runs alone on its store (start it with --cluster or --node)",
      }, 404);
    }
    return c.json({ ...(await cluster.status()), stats: cluster.stats });
  });

  app.get("/instances/:id/history", async (c) => {
    const id = param(c);
    const q = parse(historyQuery, c.req.query(), "query");
    return c.json({ items: await runtime.history(id, q) });
  });

  app.get("/instances/:id/accepted", async (c) => {
    const id = param(c);
    return c.json({ events: await runtime.acceptedEvents(id) });
  });

  app.post("/instances/:id/events", limit, async (c) => {
    const started = performance.now();
    const id = param(c);
    const eventId = idempotency(c.req.header("idempotency-key"));
    const event = parse(eventBody, await jsonBody(c), "body");
    try {
      const result = await runtime.send(id, event, { eventId, by: "http" });
      metrics.recordEvent(
        result.duplicate ? "duplicate" : "applied",
        (performance.now() - started) / 1000,
      );
      return c.json(result);
    } catch (e) {
      metrics.recordEvent("rejected");
      throw e;
    }
  });

  app.post("/instances/:id/checkpoints", limit, async (c) => {
    const id = param(c);
    const raw = await jsonBody(c, {});
    const body = parse(checkpointBody, raw, "body");
    return c.json(await runtime.checkpoint(id, body.label), 201);
  });

  app.post("/instances/:id/rollback", limit, async (c) => {
    const id = param(c);
    const body = parse(rollbackBody, await jsonBody(c), "body");
    const to = body.seq !== undefined ? { seq: body.seq } : { checkpoint: body.checkpoint! };
    return c.json(await runtime.rollback(id, to));
  });

  // --- plugins -----------------------------------------------------------------------------

  app.get("/plugins", (c) => c.json({ items: runtime.plugins.list() }));

  // Routes plugins declare come before the generic action route, so they win.
  for (const { plugin, route } of options.pluginRoutes ?? []) {
    const path = `/plugins/${plugin}${route.path === "/" ? "" : route.path}`;
    app.on(route.method, path, limit, async (c) => {
      // A plugin's GET runs plugin code all the same: every declared route needs the token.
      if (token !== null && !MUTATING.has(c.req.method)) {
        if (!authorized(c.req.header("authorization"))) {
          metrics.recordError("unauthorized");
          return c.json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
        }
      }
      const text = route.method === "GET" || route.method === "DELETE" ? "" : await c.req.text();
      let body: unknown = text;
      if (text !== "" && (c.req.header("content-type") ?? "").includes("json")) {
        body = parseJson(text);
      }
      const payload = {
        method: c.req.method,
        path: c.req.path,
        params: c.req.param(),
        query: c.req.query(),
        body: text === "" ? null : body,
      };
      const result = await runtime.call(plugin, route.action, payload);
      return c.json({ result: result ?? null });
    });
  }

  app.post("/plugins/:name/:action", limit, async (c) => {
    const name = c.req.param("name"), action = c.req.param("action");
    const text = await c.req.text();
    const payload = text === "" ? undefined : parseJson(text);
    const result = await runtime.call(name, action, payload);
    return c.json({ result: result ?? null });
  });

  // --- observation ---------------------------------------------------------------------------

  app.get("/events", (c) => {
    const q = parse(eventsQuery, c.req.query(), "query");
    let response: Response;
    try {
      response = sseResponse(runtime.bus, {
        events: q.events,
        instance: q.instance,
        signal: options.signal,
        onClose: () => metrics.sseClients(-1),
      });
    } catch (e) {
      if (e instanceof TypeError) {
        throw new HttpError(400, { error: "invalid", field: "events", message: e.message });
      }
      throw e;
    }
    metrics.sseClients(1);
    return response;
  });

  app.get("/health", async (c) => {
    let store: string = "ok";
    try {
      await withTimeout(runtime.list({ limit: 1 }), 2000);
    } catch (e) {
      store = e instanceof Error ? e.message : String(e);
    }
    const plugins = runtime.plugins.list().map((p) => ({
      name: p.name,
      state: p.state,
      stuck: p.stuck,
      restarts: p.restarts,
      lastError: p.lastError,
    }));
    const stuck = plugins.filter((p) => p.stuck).map((p) => p.name);
    const failed = plugins.filter((p) => p.state === "failed").map((p) => p.name);
    const status = store !== "ok" ? "down" : stuck.length + failed.length > 0 ? "degraded" : "ok";
    return c.json({ status, store, plugins, stuck, failed }, status === "down" ? 503 : 200);
  });

  app.get("/metrics", (c) =>
    c.body(metrics.render(runtime), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));

  app.get("/openapi.json", (c) => c.json(openApiDocument()));

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
 * The routes the loaded plugins declare in their manifests (read again from the configured
 * plugin directories: the supervisor keeps no manifests). Plugins that are not loaded get none.
 */
export async function discoverPluginRoutes(runtime: Runtime): Promise<MountedPluginRoute[]> {
  const loaded = new Set(runtime.plugins.list().map((p) => p.name));
  if (loaded.size === 0) return [];
  const { discoverPlugins } = await import("../plugins/resolver.ts");
  const dirs = runtime.config.plugins.map((d) =>
    d.startsWith("/") ? d : `${runtime.projectDir}/${d}`
  );
  const { plugins } = await discoverPlugins(dirs);
  const out: MountedPluginRoute[] = [];
  for (const p of plugins) {
    if (!loaded.has(p.manifest.name)) continue;
    for (const route of p.manifest.routes) out.push({ plugin: p.manifest.name, route });
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e);
}

function routeOf(c: Context): string {
  const routes = c.req.matchedRoutes;
  for (let i = routes.length - 1; i >= 0; i--) {
    if (routes[i].method !== "ALL") return routes[i].path;
  }
  return "(none)";
}

function param(c: Context): string {
  const raw = c.req.param("id") ?? "";
  const checked = instanceId.safeParse(raw);
  if (!checked.success) {
    throw new HttpError(400, {
      error: "invalid",
      field: "id",
      message: `instance id: ${checked.error.issues[0].message}`,
    });
  }
  return checked.data;
}

function notFound(id: string): HttpError {
  return new HttpError(404, { error: "not_found", message: `no instance "${id}"` });
}

async function jsonBody(c: Context, empty?: unknown): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "" && empty !== undefined) return empty;
  return parseJson(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, {
      error: "invalid",
      field: "(body)",
      message: `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  let field = issue.path.map(String).join(".");
  if (field === "" && issue.code === "unrecognized_keys") field = issue.keys.join(",");
  if (field === "") field = `(${where})`;
  throw new HttpError(400, { error: "invalid", field, message: `${field}: ${issue.message}` });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The status and body an error is answered with. */
export function toHttp(e: unknown): { status: number; body: ApiError } {
  if (e instanceof HttpError) return { status: e.status, body: e.body };
  if (e instanceof StoreError) {
    const status = STORE_STATUS[e.code] ?? 500;
    return { status, body: { error: e.code, message: e.message } };
  }
  if (e instanceof EventError) {
    // The instance ended: the request is fine, the resource's state refuses it.
    if (/ is (done|stopped)\b/.test(e.message)) {
      return { status: 409, body: { error: "conflict", message: e.message } };
    }
    return { status: 400, body: { error: "invalid", field: "type", message: e.message } };
  }
  if (e instanceof PluginHostError) {
    // "no plugin X" is a 404; a plugin that is loaded but failed or stopping is a 503.
    const missing = e.code === "not_running" && e.message.startsWith("no plugin ");
    const status = missing ? 404 : PLUGIN_STATUS[e.code] ?? 502;
    return { status, body: { error: missing ? "not_found" : e.code, message: e.message } };
  }
  if (e instanceof PluginError) {
    return { status: 422, body: { error: "plugin_error", message: e.message } };
  }
  // bodyLimit and other Hono HTTPExceptions carry their own status.
  const status = (e as { status?: unknown; getResponse?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { status, body: { error: "invalid", message: (e as Error).message } };
  }
  if (e instanceof Error && /^unknown machine /.test(e.message)) {
    return { status: 400, body: { error: "invalid", field: "machine", message: e.message } };
  }
  return { status: 500, body: { error: "internal", message: "internal error" } };
}

/** A checked `Idempotency-Key` header, or `undefined` without one. */
function idempotency(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const checked = idempotencyKey.safeParse(key);
  if (!checked.success) {
    throw new HttpError(400, {
      error: "invalid",
      field: "Idempotency-Key",
      message: `Idempotency-Key: ${checked.error.issues[0].message}`,
    });
  }
  return checked.data;
}

const STORE_STATUS: Record<string, number> = {
  not_found: 404,
  exists: 409,
  archived: 409,
  conflict: 409,
  incompatible: 409,
  invalid: 400,
  too_large: 413,
  // The storage or the partition's owner cannot be reached now: try again (same key).
  unavailable: 503,
  not_owner: 503,
  read_only: 409,
};

const PLUGIN_STATUS: Record<string, number> = {
  not_running: 503,
  unknown_action: 404,
  rate_limited: 429,
  too_large: 413,
  invalid: 400,
  timeout: 504,
  crashed: 502,
};
