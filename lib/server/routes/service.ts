/**
 * The service's own routes: `GET /health` (store, plugins, stuck workers), `GET /metrics`
 * (Prometheus text) and `GET /openapi.json`.
 *
 * @module
 */
import { Hono } from "hono";
import { openApiDocument } from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

/** `/health`, `/metrics` and `/openapi.json`. */
export function serviceRoutes({ runtime, metrics }: RouteDeps): Hono {
  const app = new Hono();

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

  return app;
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
