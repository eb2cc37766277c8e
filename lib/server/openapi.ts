/**
 * The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json`. Request bodies come
 * from the zod schemas the server validates with (schemas.ts).
 *
 * @module
 */
import { z } from "zod";
import denoJson from "../../deno.json" with { type: "json" };
import { checkpointBody, createBody, eventBody, rollbackBody } from "./schemas.ts";

/** A JSON object. */
export type Json = Record<string, unknown>;

let cached: Json | null = null;

/**
 * The document (built once).
 *
 * @example
 * ```ts ignore
 * const doc = openApiDocument();
 * console.log(Object.keys(doc.paths as object));
 * ```
 */
export function openApiDocument(): Json {
  if (cached !== null) return cached;
  const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
  const error = { $ref: "#/components/schemas/Error" };
  const json = (s: unknown) => ({ "application/json": { schema: s } });
  const errors = (...codes: number[]) =>
    Object.fromEntries(codes.map((code) => [String(code), {
      description: ERROR_TEXT[code],
      content: json(error),
    }]));
  const ok = (description: string, s: unknown = { type: "object" }) => ({
    description,
    content: json(s),
  });
  const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
  const q = (name: string, type: string, description: string, extra: Json = {}) => ({
    name,
    in: "query",
    required: false,
    description,
    schema: { type, ...extra },
  });
  const mutating = { security: [{ bearer: [] }] };
  const body = (s: z.ZodType, required = true) => ({ required, content: json(schema(s)) });

  cached = {
    openapi: "3.1.0",
    info: {
      title: "Statecraft",
      version: denoJson.version,
      description: "Durable statechart instances over HTTP. Mutating routes need " +
        "`Authorization: Bearer <token>` when a token is configured (always, beyond loopback).",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: { type: "string", description: "invalid, not_found, conflict, too_large..." },
            message: { type: "string" },
            field: { type: "string", description: "the field, parameter or header at fault" },
          },
        },
        Instance: {
          type: "object",
          properties: {
            id: { type: "string" },
            machine: { type: "string" },
            status: { enum: ["active", "done", "stopped"] },
            archived: { type: "boolean" },
            seq: { type: "integer" },
            configuration: { type: "array", items: { type: "string" } },
            context: {},
            createdAt: { type: "integer" },
            updatedAt: { type: "integer" },
          },
        },
        SendResult: {
          type: "object",
          properties: {
            id: { type: "string" },
            seq: { type: "integer" },
            configuration: { type: "array", items: { type: "string" } },
            status: { enum: ["active", "done", "stopped"] },
            duplicate: { type: "boolean", description: "the Idempotency-Key was applied before" },
          },
        },
      },
    },
    paths: {
      "/machines": { get: { summary: "The machines", responses: { 200: ok("machines") } } },
      "/instances": {
        get: {
          summary: "List instances (newest first pages; pass `cursor` back for the next)",
          parameters: [
            q("machine", "string", "only this machine's instances"),
            q("state", "string", "only instances with this state active"),
            q("status", "string", "active, done, stopped or archived"),
            q("updatedAfter", "integer", "only instances updated after this time (ms)"),
            q("limit", "integer", "page size (1-1000)"),
            q("cursor", "string", "from the previous page"),
            q(
              "where",
              "string",
              "search clause, repeatable: field=value, field>=value (> < <=), tag=name " +
                "(fields need machine; docs/operations.md)",
            ),
            q(
              "sort",
              "string",
              "order: by[:asc|:desc], by = id, updatedAt, createdAt or a search field of " +
                "machine (e.g. total:desc; ties by id; cursors follow the sort)",
            ),
          ],
          responses: { 200: ok("a page: { items, cursor? }"), ...errors(400) },
        },
        post: {
          summary: "Create an instance",
          ...mutating,
          parameters: [{
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description: "a create retried with the same key answers 200 with the instance it made",
            schema: { type: "string" },
          }],
          requestBody: body(createBody),
          responses: {
            201: ok("created", { $ref: "#/components/schemas/Instance" }),
            200: ok("made before with this Idempotency-Key", {
              $ref: "#/components/schemas/Instance",
            }),
            ...errors(400, 401, 409, 413),
          },
        },
      },
      "/instances/{id}": {
        get: {
          summary: "An instance's state",
          parameters: [idParam],
          responses: {
            200: ok("the instance", { $ref: "#/components/schemas/Instance" }),
            ...errors(404),
          },
        },
      },
      "/instances/{id}/events": {
        post: {
          summary: "Send an event; answers after the durable commit",
          ...mutating,
          parameters: [idParam, {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description: "the event id: a repeated key is acknowledged, not applied again",
            schema: { type: "string" },
          }],
          requestBody: body(eventBody),
          responses: {
            200: ok("committed", { $ref: "#/components/schemas/SendResult" }),
            ...errors(400, 401, 404, 409, 413),
          },
        },
      },
      "/instances/{id}/history": {
        get: {
          summary: "The instance's journal",
          parameters: [
            idParam,
            q("from", "integer", "first seq"),
            q("limit", "integer", "1-10000"),
          ],
          responses: { 200: ok("{ items }"), ...errors(400, 404) },
        },
      },
      "/instances/{id}/accepted": {
        get: {
          summary: "The events the instance accepts now",
          parameters: [idParam],
          responses: { 200: ok("{ events }"), ...errors(404) },
        },
      },
      "/instances/{id}/checkpoints": {
        post: {
          summary: "Record a checkpoint",
          ...mutating,
          parameters: [idParam],
          requestBody: body(checkpointBody, false),
          responses: { 201: ok("{ seq, label?, time }"), ...errors(400, 401, 404, 409) },
        },
      },
      "/instances/{id}/rollback": {
        post: {
          summary: "Roll back to a seq or a checkpoint",
          ...mutating,
          parameters: [idParam],
          requestBody: body(rollbackBody),
          responses: {
            200: ok("the instance after", { $ref: "#/components/schemas/Instance" }),
            ...errors(400, 401, 404, 409),
          },
        },
      },
      "/plugins": {
        get: { summary: "Plugins and their state", responses: { 200: ok("{ items }") } },
      },
      "/plugins/{name}/{action}": {
        post: {
          summary: "Call a plugin action through the supervisor (routes a plugin declares in " +
            "its manifest are mounted under /plugins/{name}/ too)",
          ...mutating,
          parameters: [
            { name: "name", in: "path", required: true, schema: { type: "string" } },
            { name: "action", in: "path", required: true, schema: { type: "string" } },
          ],
          requestBody: { required: false, content: json({}) },
          responses: { 200: ok("{ result }"), ...errors(400, 401, 404, 413, 422, 429, 503) },
        },
      },
      "/events": {
        get: {
          summary: "Server-Sent Events: committed transitions and plugin state changes",
          parameters: [
            q(
              "events",
              "string",
              "bus descriptors (default: machine.transition plugin.state plugin.stuck)",
            ),
            q("instance", "string", "only this instance's events"),
          ],
          responses: {
            200: { description: "event stream", content: { "text/event-stream": {} } },
            ...errors(400),
          },
        },
      },
      "/health": {
        get: {
          summary: "Store, plugins and stuck workers",
          responses: { 200: ok("ok or degraded"), 503: ok("the store does not answer") },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus text format",
          responses: { 200: { description: "metrics", content: { "text/plain": {} } } },
        },
      },
      "/openapi.json": { get: { summary: "This document", responses: { 200: ok("OpenAPI 3.1") } } },
    },
  };
  return cached;
}

const ERROR_TEXT: Record<number, string> = {
  400: "invalid request: the body names the field",
  401: "missing or wrong bearer token",
  404: "no such instance, plugin or action",
  409: "conflict (exists, archived, concurrent change)",
  413: "body too large",
  422: "the plugin action failed",
  429: "plugin rate limit",
  503: "plugin not running",
};
