/**
 * Operator actions over HTTP: `POST /instances/:id/cancel|fork|redrive`, `GET
 * /instances/:id/forks`, and the bulk versions `POST /operations/:action` over a `list`
 * filter, with `dryRun`. The journal records `by` from the body, `"http"` unless given.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { bulk, type OperatorAction } from "../../runtime/operator.ts";
import { HttpError } from "../http_error.ts";
import { jsonBody, param, parseBody } from "../request.ts";
import { instanceId } from "../schemas.ts";
import type { RouteDeps } from "./deps.ts";
import { BY_HTTP, whereQuery } from "./instances.ts";

const by = z.string().min(1).max(256).optional().describe(
  `who does it, as the journal records it (default "http")`,
);
const reason = z.string().min(1).max(1000).describe("why (kept in the record and the journal)");

const cancelBody = z.strictObject({ reason, by });
const forkBody = z.strictObject({
  id: instanceId.describe("the new instance's id"),
  seq: z.number().int().min(0).optional().describe("the origin's journal seq (default latest)"),
  by,
});
const redriveBody = z.strictObject({
  effect: z.string().min(1).max(1024).optional().describe(
    "only this failed effect (an effect id of the instance's failedEffects)",
  ),
  invocation: z.boolean().optional().describe(
    "retry the failed invocation even when there are failed effects",
  ),
  by,
});
const bulkBody = z.strictObject({
  filter: z.strictObject({
    machine: z.string().min(1).max(256).optional(),
    state: z.string().min(1).max(256).optional(),
    status: z.enum(["active", "done", "stopped", "cancelled", "archived"]).optional(),
    where: z.array(z.string().min(1).max(256)).optional().describe(
      `search clauses, as GET /instances?where= takes them (["total>=100", "tag=vip"])`,
    ),
  }).describe("which instances, as GET /instances filters them"),
  dryRun: z.boolean().optional().describe("only list what would be done"),
  reason: reason.optional(),
  suffix: z.string().min(1).max(64).optional().describe(`fork: the forks' id suffix ("-fork")`),
  invocation: z.boolean().optional().describe(
    "redrive: the failed invocations, even of instances with failed effects",
  ),
  by,
});

/** The per-instance operator routes, mounted under `/instances`. */
export function operatorInstanceRoutes({ runtime, limit }: RouteDeps): Hono {
  const app = new Hono();
  app.post("/:id/cancel", limit, async (c) => {
    const body = parseBody(cancelBody, await jsonBody(c));
    return c.json(
      await runtime.store.cancel(param(c), { reason: body.reason, by: body.by ?? BY_HTTP }),
    );
  });
  app.post("/:id/fork", limit, async (c) => {
    const body = parseBody(forkBody, await jsonBody(c));
    const info = await runtime.store.fork(param(c), body.id, {
      seq: body.seq,
      by: body.by ?? BY_HTTP,
    });
    return c.json(info, 201);
  });
  app.post("/:id/redrive", limit, async (c) => {
    const body = parseBody(redriveBody, await jsonBody(c, {}));
    return c.json(
      await runtime.store.redrive(param(c), {
        by: body.by ?? BY_HTTP,
        effect: body.effect,
        invocation: body.invocation,
      }),
    );
  });
  app.get("/:id/forks", async (c) => c.json({ items: await runtime.store.forks(param(c)) }));
  return app;
}

/** The bulk operator routes, mounted under `/operations`. */
export function operationRoutes({ runtime, limit }: RouteDeps): Hono {
  const app = new Hono();
  app.post("/:action", limit, async (c) => {
    const action = c.req.param("action");
    if (action !== "cancel" && action !== "fork" && action !== "redrive") {
      throw new HttpError(404, {
        error: "not_found",
        message: `no operator action "${action}" (cancel, fork, redrive)`,
      });
    }
    const body = parseBody(bulkBody, await jsonBody(c));
    if (action === "cancel" && body.reason === undefined) {
      throw new HttpError(400, {
        error: "invalid",
        field: "reason",
        message: "a bulk cancel needs a reason",
      });
    }
    try {
      const { where, ...filter } = body.filter;
      return c.json(
        await bulk(runtime.store, {
          ...body,
          filter: { ...filter, where: whereQuery(where, "filter.where") },
          action: action as OperatorAction,
          by: body.by ?? BY_HTTP,
        }),
      );
    } catch (e) {
      if (e instanceof RangeError) {
        throw new HttpError(400, { error: "invalid", field: "filter", message: e.message });
      }
      throw e;
    }
  });
  return app;
}
