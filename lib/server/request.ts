/**
 * Reading a request as the API's routes do: path parameters, JSON bodies and query strings
 * checked against the zod schemas of schemas.ts, the `Idempotency-Key` header. Every failure
 * is an {@linkcode HttpError} 400 that names the field at fault (413 for a context too large).
 * A body must be UTF-8 and its JSON nested at most `MAX_JSON_DEPTH` levels; a body's values
 * are kept as sent (a key named `__proto__` stays a key: zod would drop it).
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import {
  invalidUtf8At,
  jsonBytes,
  MAX_CONTEXT_BYTES,
  MAX_JSON_DEPTH,
  tooDeep,
} from "../persist/input_limits.ts";
import { HttpError } from "./http_error.ts";
import { eventBody, idempotencyKey, instanceId } from "./schemas.ts";

const utf8 = new TextDecoder();

// The request path's quick tests: each is true only for values its zod schema (schemas.ts)
// accepts unchanged, so that the common request skips zod; a value they do not pass goes to
// zod, whose first issue is the answer as before.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** What `instanceId` accepts: 1 to 256 UTF-16 units, no control character, well formed. */
function plainInstanceId(s: string): boolean {
  return s.length >= 1 && s.length <= 256 && !CONTROL.test(s) && s.isWellFormed();
}

/** The `:id` path parameter, checked as an instance id. */
export function param(c: Context): string {
  const raw = c.req.param("id") ?? "";
  if (plainInstanceId(raw)) return raw;
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
  const text = await bodyText(c);
  if (text.trim() === "" && empty !== undefined) return empty;
  return parseJson(text);
}

/** The body as text, or a 400 when it is not UTF-8 (naming the first bad byte). */
export async function bodyText(c: Context): Promise<string> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  const bad = invalidUtf8At(bytes);
  if (bad >= 0) {
    throw new HttpError(400, {
      error: "invalid",
      field: "(body)",
      message: `the body is not UTF-8: byte ${bad} (0x${bytes[bad].toString(16)}) is not valid`,
    });
  }
  return utf8.decode(bytes);
}

/**
 * Parses a body's text as JSON, or answers 400: not JSON, or nested deeper than
 * `MAX_JSON_DEPTH` levels (the field is the body's field it is under).
 */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, {
      error: "invalid",
      field: "(body)",
      message: `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const path = tooDeep(value);
  if (path !== null) {
    const field = typeof path[0] === "string" ? fieldOf([path[0]], "body") : "(body)";
    throw new HttpError(400, {
      error: "invalid",
      field,
      message: `${field}: nested deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
  return value;
}

/**
 * Checks a JSON body against a schema, or answers 400 naming the field (as `parse`); returns
 * the body as sent, not zod's copy of it, which leaves out keys named `__proto__`.
 */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  parse(schema, value, "body");
  return value as z.output<T>;
}

/**
 * `POST /instances/:id/events`'s body checked against `eventBody` (as `parseBody`): an object
 * whose `type` is a string of 1 to 256 units passes without zod; anything else gets zod's
 * answer.
 */
export function parseEvent(value: unknown): z.output<typeof eventBody> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const type = (value as { type?: unknown }).type;
    if (typeof type === "string" && type.length >= 1 && type.length <= 256) {
      return value as z.output<typeof eventBody>;
    }
  }
  return parseBody(eventBody, value);
}

/** Refuses an initial context larger than `MAX_CONTEXT_BYTES` as JSON (413, `context`). */
export function checkContextSize(context: unknown): void {
  if (context === undefined) return;
  const bytes = jsonBytes(context);
  if (bytes > MAX_CONTEXT_BYTES) {
    throw new HttpError(413, {
      error: "too_large",
      field: "context",
      message: `context: ${bytes} bytes as JSON; at most ${MAX_CONTEXT_BYTES}`,
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
  const field = fieldOf(path, where);
  throw new HttpError(400, { error: "invalid", field, message: `${field}: ${issue.message}` });
}

/**
 * A field's name from its path: the keys joined with dots, an empty key as `""`; the whole
 * value as `(where)`.
 */
function fieldOf(path: string[], where: string): string {
  if (path.length === 0) return `(${where})`;
  return path.map((key) => key === "" ? '""' : key).join(".");
}

/** A checked `Idempotency-Key` header, or `undefined` without one. */
export function idempotency(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key.length >= 1 && key.length <= 256 && VISIBLE_ASCII.test(key)) return key;
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
