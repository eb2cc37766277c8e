/**
 * Terminal colours for the REPL: ANSI codes on a terminal, plain text when output is piped or
 * `NO_COLOR` is set (https://no-color.org).
 *
 * @module
 */

/** Text styles; each returns its argument unchanged when colours are off. */
export interface Colors {
  /** Whether the styles add escape codes. */
  readonly enabled: boolean;
  /** Errors. */
  red(text: string): string;
  /** Active states, results. */
  green(text: string): string;
  /** Warnings, kept definitions. */
  yellow(text: string): string;
  /** The prompt, instance tags. */
  cyan(text: string): string;
  /** Timings, hints. */
  dim(text: string): string;
  /** Names. */
  bold(text: string): string;
}

const style = (open: number, close: number) => (text: string) =>
  `\x1b[${open}m${text}\x1b[${close}m`;

/**
 * The styles, with escape codes or without.
 *
 * @example
 * ```ts
 * import { makeColors } from "./color.ts";
 * const c = makeColors(false);
 * // c.red("error") is "error"
 * ```
 */
export function makeColors(enabled: boolean): Colors {
  if (!enabled) {
    const id = (text: string) => text;
    return { enabled, red: id, green: id, yellow: id, cyan: id, dim: id, bold: id };
  }
  return {
    enabled,
    red: style(31, 39),
    green: style(32, 39),
    yellow: style(33, 39),
    cyan: style(36, 39),
    dim: style(2, 22),
    bold: style(1, 22),
  };
}

/** Whether colours belong on stdout: a terminal, and `NO_COLOR` unset or empty. */
export function colorsWanted(): boolean {
  if (!Deno.stdout.isTerminal()) return false;
  const env = { name: "env", variable: "NO_COLOR" } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return true;
  return (Deno.env.get("NO_COLOR") ?? "") === "";
}
