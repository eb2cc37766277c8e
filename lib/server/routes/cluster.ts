/**
 * `GET /cluster`: this node's view of the cluster (members, partitions, leases, its counters);
 * 404 `not_clustered` when the node runs alone on its store.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "./deps.ts";

/** The `/cluster` route. */
export function clusterRoutes({ runtime }: RouteDeps): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const cluster = runtime.store.cluster;
    if (cluster === undefined) {
      return c.json({
        error: "not_clustered",
        message: "this node runs alone on its store (start it with --cluster or --node)",
      }, 404);
    }
    return c.json({ ...(await cluster.status()), stats: cluster.stats });
  });
  return app;
}
