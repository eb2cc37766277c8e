/**
 * What every hostile-input property test shares (issue #14): how many cases to run (a CI
 * default, more with `STATECRAFT_FUZZ_RUNS`), a fixed seed unless `STATECRAFT_FUZZ_SEED` says
 * otherwise (printed on failure by fast-check, so a failure can be replayed), a time bound per
 * case, and the checks every surface must pass: the outcome is a valid result or a clear error,
 * never an internal one, and `Object.prototype` is untouched.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";

/** Cases per property: `STATECRAFT_FUZZ_RUNS`, else `ciRuns`. */
export function runs(ciRuns: number): number {
  const env = Deno.permissions.querySync({ name: "env", variable: "STATECRAFT_FUZZ_RUNS" });
  const text = env.state === "granted" ? Deno.env.get("STATECRAFT_FUZZ_RUNS") : undefined;
  const n = text === undefined ? NaN : Number(text);
  return Number.isInteger(n) && n > 0 ? n : ciRuns;
}

/** The fast-check parameters of one property: runs, seed, and a bound per case. */
export function params(ciRuns: number, caseMs = 2_000): fc.Parameters<unknown> {
  const env = Deno.permissions.querySync({ name: "env", variable: "STATECRAFT_FUZZ_SEED" });
  const seedText = env.state === "granted" ? Deno.env.get("STATECRAFT_FUZZ_SEED") : undefined;
  const seed = seedText === undefined ? 20261130 : Number(seedText);
  return { numRuns: runs(ciRuns), seed, timeout: caseMs };
}

/** Messages that betray an internal error rather than a refusal of the input. */
export const INTERNAL: RegExp[] = [
  /Cannot read propert(y|ies) of (undefined|null)/,
  /Cannot (set|convert) .* (undefined|null)/,
  /is not a function/,
  /is not iterable/,
  /is not a constructor/,
  /Maximum call stack size exceeded/,
  /undefined is not an object/,
  /Invalid array length/,
  /this is a bug in statecraft/,
  /\[object Object\]/,
];

/** Asserts that `error` is a clear refusal: an Error with a message, none of `INTERNAL`. */
export function assertClearError(error: unknown, what: string): void {
  assert.ok(error instanceof Error, `${what}: threw a non-Error: ${String(error)}`);
  assert.ok(error.message.trim().length > 0, `${what}: an error without a message`);
  for (const re of INTERNAL) {
    assert.doesNotMatch(error.message, re, `${what}: internal error: ${error.message}`);
  }
  assert.ok(
    !(error instanceof RangeError && /call stack/.test(error.message)),
    `${what}: stack overflow`,
  );
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join(",");

/** Asserts `Object.prototype` has exactly its own standard properties (nothing polluted it). */
export function assertPrototypeUntouched(what: string): void {
  assert.equal(
    Object.getOwnPropertyNames(Object.prototype).sort().join(","),
    PROTOTYPE_KEYS,
    `${what}: Object.prototype was changed`,
  );
  // deno-lint-ignore no-explicit-any
  const probe = {} as any;
  for (const key of ["polluted", "isAdmin", "x", "__statecraft"]) {
    assert.equal(probe[key], undefined, `${what}: Object.prototype.${key} was set`);
  }
}

/**
 * Runs `fn` and classifies its outcome: `{ ok: value }` or `{ error }` after checking that the
 * error is a clear one; either way `Object.prototype` must be untouched.
 */
export async function outcome<T>(
  what: string,
  fn: () => T | Promise<T>,
): Promise<{ ok: T } | { error: Error }> {
  try {
    const ok = await fn();
    assertPrototypeUntouched(what);
    return { ok };
  } catch (e) {
    assertPrototypeUntouched(what);
    assertClearError(e, what);
    return { error: e as Error };
  }
}

/** Names an input must treat as data, never as a property of `Object.prototype`. */
export const PROTO_NAMES: readonly string[] = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
  "isPrototypeOf",
];

/** Strings for names: ordinary ones, the `Object.prototype` ones, odd characters. */
export const nameArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("a", "b", "idle", "run", "GO", "x.y", "#a", "*", "", " "),
  fc.constantFrom(...PROTO_NAMES),
  fc.string({ maxLength: 8 }),
);
