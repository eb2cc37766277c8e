/**
 * The API's errors: the JSON body every error response carries ({@linkcode ApiError}), the
 * error handlers throw to answer with it ({@linkcode HttpError}), and how any other error maps
 * to a status and a body ({@linkcode toHttp}).
 *
 * @module
 */
import { EventError } from "../core/errors.ts";
import { StoreError } from "../persist/store.ts";
import { PluginError, PluginHostError } from "../plugins/types.ts";

/** The JSON body of every error response. */
export interface ApiError {
  /** A stable code: `invalid`, `not_found`, `conflict`, `too_large`, `unauthorized`... */
  error: string;
  /** What was wrong, for a person. */
  message?: string;
  /**
   * The body field, query parameter or header at fault (`type`, `context.n`, `limit`); for an
   * event's payload, the payload field (`code`), as it sits in the body beside `type`.
   */
  field?: string;
}

/** An error the handlers throw to answer with a status and an {@linkcode ApiError}. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The JSON body. */
  readonly body: ApiError;
  /** Makes the error; its message is the body's. */
  constructor(status: number, body: ApiError) {
    super(body.message ?? body.error);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
  }
}

/** The status and body an error is answered with. */
export function toHttp(e: unknown): { status: number; body: ApiError } {
  if (e instanceof HttpError) return { status: e.status, body: e.body };
  if (e instanceof StoreError) {
    const status = STORE_STATUS[e.code] ?? 500;
    return { status, body: { error: e.code, message: e.message } };
  }
  if (e instanceof EventError) {
    // The instance ended: the request is fine, the resource's state refuses it.
    if (/ is (done|stopped)\b/.test(e.message)) {
      return { status: 409, body: { error: "conflict", message: e.message } };
    }
    return { status: 400, body: { error: "invalid", field: eventField(e), message: e.message } };
  }
  if (e instanceof PluginHostError) {
    // "no plugin X" is a 404; a plugin that is loaded but failed or stopping is a 503.
    const missing = e.code === "not_running" && e.message.startsWith("no plugin ");
    const status = missing ? 404 : PLUGIN_STATUS[e.code] ?? 502;
    return { status, body: { error: missing ? "not_found" : e.code, message: e.message } };
  }
  if (e instanceof PluginError) {
    return { status: 422, body: { error: "plugin_error", message: e.message } };
  }
  // bodyLimit and other Hono HTTPExceptions carry their own status.
  const status = (e as { status?: unknown; getResponse?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { status, body: { error: "invalid", message: (e as Error).message } };
  }
  if (e instanceof Error && /^unknown machine /.test(e.message)) {
    return { status: 400, body: { error: "invalid", field: "machine", message: e.message } };
  }
  return { status: 500, body: { error: "internal", message: "internal error" } };
}

/**
 * The body field an event the engine rejected is faulted for: the payload field its schema
 * named; the whole body when the schema named none; `type` when the event's name is wrong.
 */
function eventField(e: EventError): string {
  if (e.field !== undefined) return e.field;
  return /^event ".*" rejected: /s.test(e.message) ? "(body)" : "type";
}

const STORE_STATUS: Record<string, number> = {
  not_found: 404,
  exists: 409,
  archived: 409,
  cancelled: 409,
  conflict: 409,
  incompatible: 409,
  invalid: 400,
  too_large: 413,
  // The storage or the partition's owner cannot be reached now: try again (same key).
  unavailable: 503,
  not_owner: 503,
  read_only: 409,
};

const PLUGIN_STATUS: Record<string, number> = {
  not_running: 503,
  unknown_action: 404,
  rate_limited: 429,
  too_large: 413,
  invalid: 400,
  timeout: 504,
  crashed: 502,
};
