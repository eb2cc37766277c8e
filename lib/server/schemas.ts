/**
 * The zod schemas of the HTTP API's request bodies and query strings: the server validates
 * with them and the OpenAPI document is generated from them, so the two cannot disagree.
 *
 * @module
 */
import { z } from "zod";

/**
 * A string that is a storage key: no lone surrogate (a key is UTF-8, where one becomes U+FFFD,
 * so that the key stored would not be the one given).
 */
const wellFormed = (s: z.ZodString): z.ZodString =>
  s.refine((v) => v.isWellFormed(), "no lone surrogates (UTF-16 halves without their pair)");

/**
 * An instance id as the API accepts it: 1 to 256 characters, no control characters, no lone
 * surrogates.
 */
export const instanceId: z.ZodString = wellFormed(
  z.string().min(1).max(256).regex(
    // deno-lint-ignore no-control-regex
    /^[^\u0000-\u001f\u007f]+$/,
    "no control characters",
  ),
);

/** `POST /instances`. */
export const createBody = z.strictObject({
  machine: z.string().min(1).max(256).describe("the machine's id (GET /machines)"),
  id: instanceId.optional().describe("the instance id (default: generated)"),
  context: z.record(z.string(), z.unknown()).optional().describe(
    "context overrides, merged over the machine's initial context",
  ),
});

/** `POST /instances/:id/events`: the event itself; fields beside `type` are its payload. */
export const eventBody = z.looseObject({
  type: z.string().min(1).max(256).describe("the event name"),
});

/** `POST /instances/:id/checkpoints`. */
export const checkpointBody = z.strictObject({
  label: wellFormed(z.string().min(1).max(256).regex(/\D/, "a label is not a number")).optional(),
});

/**
 * `POST /instances/:id/rollback`: exactly one of `seq` and `checkpoint`. Both given, the
 * fault is `checkpoint` (the second); neither, the whole body.
 */
export const rollbackBody = z.strictObject({
  seq: z.number().int().min(0).optional().describe("a journal seq"),
  checkpoint: wellFormed(z.string().min(1).max(256)).optional().describe("a checkpoint label"),
}).superRefine((b, ctx) => {
  if (b.seq !== undefined && b.checkpoint !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'give "seq" or "checkpoint", not both',
      path: ["checkpoint"],
    });
  } else if (b.seq === undefined && b.checkpoint === undefined) {
    ctx.addIssue({ code: "custom", message: 'give "seq" (a journal seq) or "checkpoint"' });
  }
});

const intString = (min: number, max: number) =>
  z.string().regex(/^\d{1,15}$/, "a whole number").transform(Number).pipe(
    z.number().int().min(min).max(max),
  );

/** `GET /instances` query. */
export const listQuery = z.strictObject({
  machine: z.string().min(1).max(256).optional(),
  state: z.string().min(1).max(256).optional(),
  status: z.enum(["active", "done", "stopped", "archived"]).optional(),
  updatedAfter: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intString(1, 1000).optional(),
  cursor: z.string().min(1).max(2048).optional(),
  // Search clauses (repeatable; read with `c.req.queries("where")`): docs/operations.md.
  where: z.string().min(1).max(1024).optional(),
});

/** `GET /instances/:id/history` query. */
export const historyQuery = z.strictObject({
  from: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intString(1, 10_000).optional(),
});

/** `GET /events` query. */
export const eventsQuery = z.strictObject({
  events: z.string().min(1).max(1024).optional().describe(
    "bus descriptors, space- or comma-separated (default: machine.transition plugin.state " +
      "plugin.stuck)",
  ),
  instance: instanceId.optional().describe("only events of this instance"),
});

/** The `Idempotency-Key` header (becomes the event id). */
export const idempotencyKey = z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, "visible ASCII");
