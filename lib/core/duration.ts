/**
 * Delays: milliseconds as a number, or a time string: CSS2 time as SCXML uses it (`"500ms"`,
 * `"2s"`, `"1.5s"`, `".5s"`, a bare number of milliseconds), plus `m`, `h` and `d` for people
 * writing long timeouts. The one parser of the engine, the CLI and SCXML `<send delay>`.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Milliseconds for a delay, or `undefined` when it is not one (a negative or non-finite
 * number, an unknown unit, anything but a number or a string).
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("1.5s"); // 1500
 * parseDuration("2m"); // 120000
 * parseDuration(".5s"); // 500
 * parseDuration("1d"); // 86400000
 * parseDuration(250); // 250
 * parseDuration("soon"); // undefined
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * UNITS[m[2] ?? "ms"];
}
