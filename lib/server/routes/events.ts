/**
 * `GET /events`: Server-Sent Events from the runtime's bus (committed transitions, plugin
 * state changes), filtered by descriptors and instance.
 *
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "../http_error.ts";
import { parse } from "../request.ts";
import { eventsQuery } from "../schemas.ts";
import { sseResponse } from "../sse.ts";
import type { RouteDeps } from "./deps.ts";

/** The `/events` route. */
export function eventStreamRoutes({ runtime, metrics, signal }: RouteDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const q = parse(eventsQuery, c.req.query(), "query");
    let response: Response;
    try {
      response = sseResponse(runtime.bus, {
        events: q.events,
        instance: q.instance,
        signal,
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
  return app;
}
