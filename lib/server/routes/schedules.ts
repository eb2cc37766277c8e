/**
 * The `/schedules` routes: list, add, read, pause, resume and remove the store's schedules
 * (docs/operations.md, "Schedules"). A definition that does not hold is a 400 naming the field
 * (`cron`, `create.machine`); a name already taken is a 409. Every change the runtime's
 * scheduler sees (made here, by a tick, on another node, by the CLI) is published on the bus as
 * `schedule.changed` (`schedules`: the names), which `GET /events?events=schedule.changed`
 * streams: the inspector's Schedules view follows it.
 *
 * @module
 */
import { Hono } from "hono";
import { ScheduleError } from "../../persist/schedules.ts";
import { runtimeSchedules } from "../../runtime/schedules.ts";
import { HttpError } from "../http_error.ts";
import { jsonBody } from "../request.ts";
import type { RouteDeps } from "./deps.ts";

/** The `/schedules` routes. */
export function scheduleRoutes({ runtime, limit, signal }: RouteDeps): Hono {
  const app = new Hono();
  const schedules = runtimeSchedules(runtime, "api");
  const unsubscribe = runtime.scheduler?.onChange((names) => {
    runtime.bus.emit({ type: "schedule.changed", schedules: names }).catch(() => {});
  });
  signal?.addEventListener("abort", () => unsubscribe?.(), { once: true });
  const missing = (name: string) =>
    new HttpError(404, { error: "not_found", message: `no schedule "${name}"` });

  app.get("/", async (c) => c.json({ items: await schedules.list() }));

  app.post("/", limit, async (c) => {
    const body = await jsonBody(c);
    const { paused, ...spec } = typeof body === "object" && body !== null
      ? body as Record<string, unknown>
      : { paused: undefined };
    if (paused !== undefined && typeof paused !== "boolean") {
      throw new HttpError(400, { error: "invalid", field: "paused", message: "paused: a boolean" });
    }
    try {
      const made = await schedules.add(typeof body === "object" ? spec : body, { paused });
      return c.json(made, 201, { location: `/schedules/${encodeURIComponent(made.name)}` });
    } catch (e) {
      if (e instanceof ScheduleError) {
        throw new HttpError(400, { error: "invalid", field: e.where, message: e.message });
      }
      throw e;
    }
  });

  app.get("/:name", async (c) => {
    const name = c.req.param("name");
    const found = await schedules.get(name);
    if (found === null) throw missing(name);
    return c.json(found);
  });

  app.post("/:name/pause", async (c) => c.json(await schedules.pause(c.req.param("name"))));
  app.post("/:name/resume", async (c) => c.json(await schedules.resume(c.req.param("name"))));

  app.delete("/:name", async (c) => {
    const name = c.req.param("name");
    if (!(await schedules.remove(name))) throw missing(name);
    return c.body(null, 204);
  });

  return app;
}
