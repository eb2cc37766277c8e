/**
 * What every group of routes is built from: the runtime, the metrics, the body-size limit and
 * the bearer-token check `createApp` (app.ts) sets up once for all of them.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Runtime } from "../../runtime/runtime.ts";
import type { Metrics } from "../metrics.ts";

/** The methods that change something: they need the bearer token when one is configured. */
export const MUTATING: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Shared by the route groups (`routes/*.ts`). */
export interface RouteDeps {
  /** The runtime the API is over. */
  runtime: Runtime;
  /** Where requests, events and errors are counted. */
  metrics: Metrics;
  /** The body-size limit (413 beyond it): middleware for every route that reads a body. */
  limit: MiddlewareHandler;
  /** Whether an `Authorization` header carries the token (always true without a token). */
  authorized(header: string | undefined): boolean;
  /** Ends open SSE streams when aborted (the server is closing). */
  signal?: AbortSignal;
}
