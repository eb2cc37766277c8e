/**
 * The `/instances` routes: list, create, read, history, the events accepted now, send,
 * checkpoint and rollback. Every write says `by: "http"` in the journal.
 *
 * @module
 */
import { Hono } from "hono";
import { K } from "../../persist/keys.ts";
import { type ListSort, StoreError, type WhereClause } from "../../persist/store.ts";
import { parseWhere } from "../../persist/search.ts";
import { parseSort } from "../../persist/search_sort.ts";
import { HttpError } from "../http_error.ts";
import {
  checkContextSize,
  idempotency,
  jsonBody,
  notFound,
  param,
  parse,
  parseBody,
  parseEvent,
} from "../request.ts";
import { checkpointBody, createBody, historyQuery, listQuery, rollbackBody } from "../schemas.ts";
import type { RouteDeps } from "./deps.ts";

/** Who the journal says made a change through the HTTP API. */
export const BY_HTTP = "http";

/** The `/instances` routes. */
export function instanceRoutes({ runtime, metrics, limit }: RouteDeps): Hono {
  const app = new Hono();

  app.get("/", async (c) => {
    // `sort=total:desc` is read here (parseSort), the other parameters by the schema.
    const { sort: sortText, ...query } = c.req.query();
    const { where: _where, ...q } = parse(listQuery, query, "query");
    const sort = sortQuery(sortText);
    try {
      const where = whereQuery(c.req.queries("where"));
      return c.json(await runtime.list({ ...q, where, ...(sort === undefined ? {} : { sort }) }));
    } catch (e) {
      // Deno KV rejects a cursor it did not make with a TypeError.
      if (q.cursor !== undefined && e instanceof TypeError) {
        throw new HttpError(400, { error: "invalid", field: "cursor", message: "invalid cursor" });
      }
      // The store's checks of a sort and of a sorted list's cursor: say which parameter.
      if (e instanceof StoreError && e.code === "invalid") {
        const field = e.message.startsWith("sort ")
          ? "sort"
          : e.message.startsWith("cursor: ")
          ? "cursor"
          : undefined;
        if (field !== undefined) {
          throw new HttpError(400, { error: "invalid", field, message: e.message });
        }
      }
      throw e;
    }
  });

  app.post("/", limit, async (c) => {
    const body = parseBody(createBody, await jsonBody(c));
    checkContextSize(body.context);
    if (!runtime.machines.has(body.machine)) {
      throw new HttpError(400, {
        error: "invalid",
        field: "machine",
        message: `unknown machine "${body.machine}"`,
      });
    }
    // With an Idempotency-Key, a retried create answers with the instance it created (200).
    const eventId = idempotency(c.req.header("idempotency-key"));
    const info = await runtime.spawn(body.machine, body.id, {
      context: body.context,
      eventId,
      by: BY_HTTP,
    });
    const location = { location: `/instances/${encodeURIComponent(info.id)}` };
    return c.json(info, info.duplicate === true ? 200 : 201, location);
  });

  app.get("/:id", async (c) => {
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

  app.get("/:id/history", async (c) => {
    const id = param(c);
    const q = parse(historyQuery, c.req.query(), "query");
    return c.json({ items: await runtime.history(id, q) });
  });

  app.get("/:id/accepted", async (c) => {
    const id = param(c);
    return c.json({ events: await runtime.acceptedEvents(id) });
  });

  app.post("/:id/events", limit, async (c) => {
    const started = performance.now();
    const id = param(c);
    const eventId = idempotency(c.req.header("idempotency-key"));
    const event = parseEvent(await jsonBody(c));
    try {
      const result = await runtime.send(id, event, { eventId, by: BY_HTTP });
      metrics.recordEvent(
        result.duplicate ? "duplicate" : "applied",
        (performance.now() - started) / 1000,
      );
      return c.json(result);
    } catch (e) {
      metrics.recordEvent("rejected");
      // The store bounds an event's size: the fault is the whole body.
      if (e instanceof StoreError && e.code === "too_large") {
        throw new HttpError(413, { error: "too_large", field: "(body)", message: e.message });
      }
      throw e;
    }
  });

  app.post("/:id/checkpoints", limit, async (c) => {
    const id = param(c);
    const body = parseBody(checkpointBody, await jsonBody(c, {}));
    return c.json(await runtime.checkpoint(id, body.label), 201);
  });

  app.post("/:id/rollback", limit, async (c) => {
    const id = param(c);
    const body = parseBody(rollbackBody, await jsonBody(c));
    const to = body.seq !== undefined ? { seq: body.seq } : { checkpoint: body.checkpoint! };
    try {
      return c.json(await runtime.rollback(id, to, { by: BY_HTTP }));
    } catch (e) {
      // A seq past the journal's end: the store says so; the field at fault is `seq`.
      if (e instanceof StoreError && e.code === "invalid" && body.seq !== undefined) {
        throw new HttpError(400, { error: "invalid", field: "seq", message: e.message });
      }
      throw e;
    }
  });

  return app;
}

/** `?sort=total:desc`: the sort, or a 400 naming it (the store checks the field). */
function sortQuery(text: string | undefined): ListSort | undefined {
  if (text === undefined) return undefined;
  try {
    return parseSort(text);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    throw new HttpError(400, { error: "invalid", field: "sort", message: e.message });
  }
}

/**
 * `?where=customer=acme&where=total>=100` (or a body's `where` list, at `field`): the clauses,
 * or a 400 naming the bad one.
 */
export function whereQuery(
  clauses: string[] | undefined,
  field = "where",
): WhereClause[] | undefined {
  if (clauses === undefined || clauses.length === 0) return undefined;
  if (clauses.length > 16) {
    throw new HttpError(400, { error: "invalid", field, message: "at most 16 clauses" });
  }
  try {
    return parseWhere(clauses);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    throw new HttpError(400, { error: "invalid", field, message: e.message });
  }
}
