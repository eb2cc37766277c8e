/**
 * `GET /machines`: the machines the runtime loaded.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "./deps.ts";

/** The `/machines` routes. */
export function machineRoutes({ runtime }: RouteDeps): Hono {
  const app = new Hono();
  app.get("/", (c) =>
    c.json({
      items: [...runtime.machines.values()].map((m) => ({
        id: m.machine.id,
        file: m.file,
        version: m.machine.version ?? null,
        hash: m.machine.hash,
      })).sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    }));
  return app;
}
