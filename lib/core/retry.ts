/**
 * Retry policies of invocations (`invoke: { src, retry, timeout }`, the machine's
 * `invokeDefaults`): checked and compiled here, with the backoff they give and the test of an
 * error against `nonRetryable`. The interpreter runs the attempts; the waits between them are
 * ordinary delayed sends (durable in the store, kept in snapshots).
 *
 * @module
 */
import type { CompileContext } from "./compile_context.ts";
import type { CompiledRetry } from "./compiled_types.ts";
import type { RetryPolicyState } from "./types.ts";
import { isObject } from "./compile_context.ts";
import { parseDuration } from "./duration.ts";

export type { CompiledRetry } from "./compiled_types.ts";

const RETRY_KEYS = new Set(["attempts", "initial", "factor", "max", "nonRetryable"]);
const DEFAULTS_KEYS = new Set(["retry", "timeout"]);
const POLICY_STATE_KEYS = new Set([...RETRY_KEYS, "timeout"]);

/** The send id of an invocation's retry wait: a delayed send like any other. */
export const RETRY_SEND_PREFIX = "statecraft.retry:";

/** The wait after failed attempt `attempt` (1 for the first): `initial * factor^(n-1)`, capped. */
export function retryDelay(policy: CompiledRetry, attempt: number): number {
  return Math.round(Math.min(policy.initial * policy.factor ** (attempt - 1), policy.max));
}

/**
 * Whether `error` is one of the policy's `nonRetryable` ones: by its `name`, its `code` (a
 * `PluginHostError`'s `"timeout"`, a Deno error's `"ENOENT"`) or, for a `PluginError`, the name
 * of the error the plugin threw (`remoteName`).
 */
export function isNonRetryable(policy: CompiledRetry, error: unknown): boolean {
  if (policy.nonRetryable.length === 0) return false;
  const e = error as { name?: unknown; code?: unknown; remoteName?: unknown } | null;
  if (typeof e !== "object" || e === null) return false;
  for (const v of [e.name, e.code, e.remoteName]) {
    if (typeof v === "string" && policy.nonRetryable.includes(v)) return true;
  }
  return false;
}

/**
 * The policy in force, as snapshots (`retries[id].policy`) and `error.attempt.*` journal
 * entries (`policy`) keep it: plain JSON (no cap and no timeout are left out).
 *
 * @example
 * ```ts
 * import { policyState } from "./retry.ts";
 * const kept = policyState(
 *   { attempts: 5, initial: 500, factor: 2, max: Infinity, nonRetryable: ["Declined"] },
 *   10_000,
 * );
 * // { attempts: 5, initial: 500, factor: 2, nonRetryable: ["Declined"], timeout: 10000 }
 * ```
 */
export function policyState(retry: CompiledRetry, timeout: number | null): RetryPolicyState {
  const kept: RetryPolicyState = {
    attempts: retry.attempts,
    initial: retry.initial,
    factor: retry.factor,
    nonRetryable: [...retry.nonRetryable],
  };
  if (Number.isFinite(retry.max)) kept.max = retry.max;
  if (timeout !== null) kept.timeout = timeout;
  return kept;
}

/**
 * Why `v` is not a kept policy (`policyState`'s form): the property at fault (none: the value
 * itself) and why; null when it is one. `lib/core/snapshot_check.ts` and the interpreter (for
 * a journal entry's) ask it.
 */
export function policyStateProblem(v: unknown): { key?: string; why: string } | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { why: `must be an object, not ${show(v)}` };
  }
  const p = v as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!POLICY_STATE_KEYS.has(key)) return { key, why: "is not a property of a retry policy" };
  }
  if (!Number.isInteger(p.attempts) || (p.attempts as number) < 1) {
    return { key: "attempts", why: `must be an integer >= 1, not ${show(p.attempts)}` };
  }
  for (const key of ["initial", "max", "timeout"]) {
    const n = p[key];
    if (key !== "initial" && n === undefined) continue;
    const positive = key === "timeout";
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || (positive && n === 0)) {
      const what = positive ? "a positive" : "a non-negative";
      return { key, why: `must be ${what} number of ms, not ${show(n)}` };
    }
  }
  if (typeof p.factor !== "number" || !Number.isFinite(p.factor) || p.factor < 1) {
    return { key: "factor", why: `must be a number >= 1, not ${show(p.factor)}` };
  }
  if (!Array.isArray(p.nonRetryable) || !p.nonRetryable.every((x) => typeof x === "string")) {
    return { key: "nonRetryable", why: "must be a list of error names or codes (strings)" };
  }
  return null;
}

/** A kept policy back in force: the compiled retry policy and the attempt timeout. */
export function policyFromState(
  kept: RetryPolicyState,
): { retry: CompiledRetry; timeout: number | null } {
  return {
    retry: {
      attempts: kept.attempts,
      initial: kept.initial,
      factor: kept.factor,
      max: kept.max ?? Infinity,
      nonRetryable: [...kept.nonRetryable],
    },
    timeout: kept.timeout ?? null,
  };
}

function duration(ctx: CompileContext, v: unknown, path: string[], what: string): number | null {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.error(path, `${what} must be a duration ("500ms", "2s", "1m") or ms, got ${show(v)}`);
    return null;
  }
  return ms;
}

function show(v: unknown): string {
  return typeof v === "string"
    ? JSON.stringify(v)
    : typeof v === "object"
    ? "an object"
    : String(v);
}

/** Checks `raw` (a `retry` object) at `path`; null when absent or broken (reported). */
export function compileRetry(
  ctx: CompileContext,
  raw: unknown,
  path: string[],
  base: CompiledRetry | null,
): CompiledRetry | null {
  if (raw === undefined) return base;
  if (!isObject(raw)) {
    ctx.error(path, "retry must be an object { attempts, initial, factor, max, nonRetryable }");
    return base;
  }
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!RETRY_KEYS.has(k)) ctx.error([...path, k], `unknown retry property "${k}"`);
  }
  const out: CompiledRetry = base === null
    ? { attempts: 3, initial: 1000, factor: 2, max: Infinity, nonRetryable: [] }
    : { ...base };
  if (r.attempts !== undefined) {
    if (!Number.isInteger(r.attempts) || (r.attempts as number) < 1) {
      ctx.error([...path, "attempts"], `attempts must be an integer >= 1, got ${show(r.attempts)}`);
    } else out.attempts = r.attempts as number;
  }
  if (r.initial !== undefined) {
    out.initial = duration(ctx, r.initial, [...path, "initial"], "initial") ?? out.initial;
  }
  if (r.max !== undefined) out.max = duration(ctx, r.max, [...path, "max"], "max") ?? out.max;
  if (r.factor !== undefined) {
    if (typeof r.factor !== "number" || !Number.isFinite(r.factor) || r.factor < 1) {
      ctx.error([...path, "factor"], `factor must be a number >= 1, got ${show(r.factor)}`);
    } else out.factor = r.factor;
  }
  if (r.nonRetryable !== undefined) {
    const list = r.nonRetryable;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string" && x !== "")) {
      ctx.error(
        [...path, "nonRetryable"],
        "nonRetryable must be a list of error names or codes (strings)",
      );
    } else out.nonRetryable = [...list];
  }
  return out;
}

/** Checks a `timeout` (absent: `base`); a timeout is positive. */
export function compileTimeout(
  ctx: CompileContext,
  raw: unknown,
  path: string[],
  base: number | null,
): number | null {
  if (raw === undefined) return base;
  const ms = duration(ctx, raw, path, "timeout");
  if (ms !== null && ms <= 0) {
    ctx.error(path, `timeout must be positive, got ${show(raw)}`);
    return base;
  }
  return ms ?? base;
}

/** The machine's `invokeDefaults`: the retry policy and timeout of invokes that set none. */
export function compileInvokeDefaults(
  ctx: CompileContext,
  raw: unknown,
): { retry: CompiledRetry | null; timeout: number | null } {
  const none = { retry: null, timeout: null };
  if (raw === undefined) return none;
  if (!isObject(raw)) {
    ctx.error(["invokeDefaults"], "invokeDefaults must be an object { retry?, timeout? }");
    return none;
  }
  const d = raw as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!DEFAULTS_KEYS.has(k)) {
      ctx.error(["invokeDefaults", k], `unknown invokeDefaults property "${k}"`);
    }
  }
  return {
    retry: compileRetry(ctx, d.retry, ["invokeDefaults", "retry"], null),
    timeout: compileTimeout(ctx, d.timeout, ["invokeDefaults", "timeout"], null),
  };
}
