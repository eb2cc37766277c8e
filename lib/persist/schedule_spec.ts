/**
 * What a schedule is: a cron expression in a time zone, the action each tick takes (create an
 * instance, or send an event), and its overlap and catch-up policies. Validated by one zod
 * schema, used by `statecraft.yaml` (`schedules:`), the HTTP API, the CLI and the REPL; ticks
 * are computed with `croner` (evaluation only: it never starts a timer of its own). See
 * docs/operations.md, "Schedules".
 *
 * @module
 */
import { Cron } from "croner";
import { z } from "zod";
import { formatPath } from "../core/errors.ts";

/** What to do when a tick falls due while the previous one's work is not over. */
export type OverlapPolicy = "skip" | "queue" | "allow";
/** Which ticks missed while no node ran the schedule are fired late. */
export type CatchUpPolicy = "none" | "last" | "all";

/** A schedule's definition. */
export interface ScheduleSpec {
  /** Unique name: letters, digits, `.`, `_`, `-` (1-100 characters). */
  name: string;
  /** A cron expression: 5 fields, or 6 with seconds first; `@daily`, `@hourly`... */
  cron: string;
  /** An IANA time zone the expression is read in (default `UTC`). */
  timezone?: string;
  /** Each tick creates an instance of `machine`; `id` is a template holding `{tick}`. */
  create?: { machine: string; id?: string; context?: Record<string, unknown> };
  /** Each tick sends `event` to `instance`. */
  send?: { instance: string; event: { type: string; [field: string]: unknown } };
  /** Default `skip`. */
  overlap: OverlapPolicy;
  /** Default `last`. */
  catchUp: CatchUpPolicy;
  /** At most this many missed ticks are fired late with `catchUp: all` (default 10). */
  maxCatchUp: number;
  /** At most this many ticks wait with `overlap: queue` (default 10; the most recent kept). */
  maxQueued: number;
  /** A tick fired at most this late is on time, not missed (default 60,000 ms). */
  graceMs: number;
}

/** A schedule definition that does not hold: `where` is the field at fault (`cron`, `send.event`). */
export class ScheduleError extends Error {
  /** The field at fault, as a path (`cron`, `create.id`), or `(root)`. */
  readonly where: string;
  /** Makes the error; the message starts with `where`. */
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "ScheduleError";
    this.where = where;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The keys a schedule may have (for "did you mean" hints in `statecraft.yaml`). */
export const SCHEDULE_KEYS: Record<string, string[]> = {
  "": [
    "name",
    "cron",
    "timezone",
    "create",
    "send",
    "overlap",
    "catchUp",
    "maxCatchUp",
    "maxQueued",
    "graceMs",
  ],
  create: ["machine", "id", "context"],
  send: ["instance", "event"],
};

/** The zod schema of one schedule (exported for `statecraft.yaml`'s schema). */
export const scheduleSchema = z.strictObject({
  name: z.string().regex(NAME, "1-100 letters, digits, '.', '_' or '-', starting alphanumeric"),
  cron: z.string().min(1).max(200),
  timezone: z.string().min(1).max(100).optional(),
  create: z.strictObject({
    machine: z.string().min(1).max(256),
    id: z.string().min(1).max(200).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
  send: z.strictObject({
    instance: z.string().min(1).max(256),
    event: z.preprocess(
      (e) => typeof e === "string" ? { type: e } : e,
      z.looseObject({ type: z.string().min(1).max(256) }),
    ),
  }).optional(),
  overlap: z.enum(["skip", "queue", "allow"]).default("skip"),
  catchUp: z.enum(["none", "last", "all"]).default("last"),
  maxCatchUp: z.number().int().min(1).max(1000).default(10),
  maxQueued: z.number().int().min(1).max(1000).default(10),
  graceMs: z.number().int().min(0).max(86_400_000).default(60_000),
}).superRefine((s, ctx) => {
  if ((s.create === undefined) === (s.send === undefined)) {
    ctx.addIssue({ code: "custom", path: [], message: "give exactly one of create or send" });
  }
  if (s.timezone !== undefined && !isTimeZone(s.timezone)) {
    ctx.addIssue({
      code: "custom",
      path: ["timezone"],
      message: `unknown time zone "${s.timezone}" (an IANA name such as "Europe/Berlin")`,
    });
    return;
  }
  const problem = cronProblem(s.cron, s.timezone);
  if (problem !== null) ctx.addIssue({ code: "custom", path: ["cron"], message: problem });
  if (s.create?.id !== undefined && !s.create.id.includes("{tick}")) {
    ctx.addIssue({
      code: "custom",
      path: ["create", "id"],
      message: `the id template must hold {tick}, so that each tick makes its own instance`,
    });
  }
});

/** Why a cron expression does not parse or never fires, or `null`. */
function cronProblem(cron: string, timezone: string | undefined): string | null {
  try {
    const c = new Cron(cron, { timezone, paused: true });
    if (c.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) return `"${cron}" never fires`;
    return null;
  } catch (e) {
    const m = e instanceof Error ? e.message.replace(/^CronPattern: /, "") : String(e);
    return `invalid cron expression "${cron}": ${m}`;
  }
}

/**
 * Validates a schedule from the API, the CLI or the REPL; throws a `ScheduleError` naming the
 * field at fault (every problem, one per line).
 *
 * @example
 * ```ts
 * import { parseSchedule } from "./schedule_spec.ts";
 * const s = parseSchedule({ name: "tick", cron: "* * * * *", send: { instance: "m", event: "TICK" } });
 * // s.overlap is "skip", s.catchUp is "last", s.send.event is { type: "TICK" }
 * ```
 */
export function parseSchedule(input: unknown): ScheduleSpec {
  const r = scheduleSchema.safeParse(input);
  if (r.success) return r.data as ScheduleSpec;
  const issues = r.error.issues.map((i) => ({
    where: formatPath(i.path.map(String)),
    message: i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.join(", ")}` : i.message,
  }));
  const first = issues[0];
  const rest = issues.slice(1).map((i) => `\n  ${i.where}: ${i.message}`).join("");
  throw new ScheduleError(first.where, first.message + rest);
}

const crons = new Map<string, Cron>();

function cronOf(spec: Pick<ScheduleSpec, "cron" | "timezone">): Cron {
  const key = `${spec.timezone ?? "UTC"}\u0000${spec.cron}`;
  let c = crons.get(key);
  if (c === undefined) {
    if (crons.size > 1000) crons.clear();
    c = new Cron(spec.cron, { timezone: spec.timezone ?? "UTC", paused: true });
    crons.set(key, c);
  }
  return c;
}

/**
 * The first tick strictly after `after` (ms since the epoch), or `null` when there is none.
 *
 * @example
 * ```ts
 * import { nextTick } from "./schedule_spec.ts";
 * const t = nextTick({ cron: "0 2 * * *", timezone: "Europe/Berlin" }, Date.UTC(2025, 0, 1));
 * // new Date(t!).toISOString() is "2025-01-01T01:00:00.000Z"
 * ```
 */
export function nextTick(
  spec: Pick<ScheduleSpec, "cron" | "timezone">,
  after: number,
): number | null {
  // croner works to the second: from the last whole second at or before `after`.
  const from = new Date(Math.floor(after / 1000) * 1000);
  const d = cronOf(spec).nextRun(from);
  return d === null ? null : d.getTime();
}

/** Ticks enumerated at most, before only the most recent are computed (and the count is "more"). */
const ENUMERATE = 10_000;

/**
 * The ticks in `[from, to]`: all of them (`count`), and the most recent `keep` in order.
 * `count` is a lower bound when `exact` is false (more than 10,000 ticks).
 */
export function ticksBetween(
  spec: Pick<ScheduleSpec, "cron" | "timezone">,
  from: number,
  to: number,
  keep: number,
): { ticks: number[]; count: number; exact: boolean } {
  const ticks: number[] = [];
  let count = 0;
  let t: number | null = from;
  if (nextTick(spec, from - 1000) !== from) t = nextTick(spec, from);
  while (t !== null && t <= to && count < ENUMERATE) {
    count++;
    ticks.push(t);
    if (ticks.length > keep) ticks.shift();
    t = nextTick(spec, t);
  }
  if (t === null || t > to) return { ticks, count, exact: true };
  const tail = cronOf(spec).previousRuns(keep, new Date(to + 1)).map((d) => d.getTime())
    .filter((x) => x >= from).reverse();
  return { ticks: tail, count, exact: false };
}

/** A tick as instance ids and event ids carry it: `20250101T020000Z`. */
export function tickLabel(tick: number): string {
  return new Date(tick).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}
