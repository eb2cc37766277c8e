/**
 * Reading a request as the API's routes do: path parameters, JSON bodies and query strings
 * checked against the zod schemas of schemas.ts, the `Idempotency-Key` header. Every failure
 * is an {@linkcode HttpError} 400 that names the field at fault.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { HttpError } from "./http_error.ts";
import { idempotencyKey, instanceId } from "./schemas.ts";

/** The `:id` path parameter, checked as an instance id. */
export function param(c: Context): string {
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

/** The 404 of an instance that is not there. */
export function notFound(id: string): HttpError {
  return new HttpError(404, { error: "not_found", message: `no instance "${id}"` });
}

/** The body as JSON; `empty` (when given) stands for an empty body. */
export async function jsonBody(c: Context, empty?: unknown): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "" && empty !== undefined) return empty;
  return parseJson(text);
}

/** Parses a body's text as JSON, or answers 400. */
export function parseJson(text: string): unknown {
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

/**
 * Checks a value against a schema, or answers 400 naming the field: the path of the first
 * issue (`context.n`), the unknown keys of a strict object, or `(where)` for the whole value.
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") path.push(issue.keys.join(","));
  const field = path.length === 0 ? `(${where})` : path.join(".");
  throw new HttpError(400, { error: "invalid", field, message: `${field}: ${issue.message}` });
}

/** A checked `Idempotency-Key` header, or `undefined` without one. */
export function idempotency(key: string | undefined): string | undefined {
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
