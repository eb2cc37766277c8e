/**
 * The progress line of `kv export` and `kv import`: `[#####-----] 123 instances, 4567 records`
 * on stderr, redrawn in place, and only when stderr is a terminal (a pipe or a log file gets
 * nothing). Written here rather than taken from npm: it is a few lines, and the npm packages
 * for it (`cli-progress`, `progress`) are built on Node's `process.stderr` and add a dependency
 * (and an import-map entry) for what is one `\r` and a string.
 *
 * @module
 */

const WIDTH = 20;
/** Redraws at most this often: a terminal needs no more, and writes are not free. */
const REDRAW_MS = 100;

/**
 * Renders one progress line (without the leading `\r`).
 *
 * @param fraction done so far, 0..1, or `undefined` when the total is unknown (no bar)
 * @param text what to show after the bar
 *
 * @example
 * ```ts
 * import { renderProgress } from "./kv_progress.ts";
 * const line = renderProgress(0.5, "123 instances, 4567 records");
 * // line is "[##########----------] 123 instances, 4567 records"
 * ```
 */
export function renderProgress(fraction: number | undefined, text: string): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return text;
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${text}`;
}

/**
 * `123 instances, 4567 records`: the text of the export and import progress lines.
 *
 * @example
 * ```ts
 * import { progressCounts } from "./kv_progress.ts";
 * const text = progressCounts(1, 12);
 * // text is "1 instance, 12 records"
 * ```
 */
export function progressCounts(instances: number, records: number): string {
  const s = (n: number) => n === 1 ? "" : "s";
  return `${instances} instance${s(instances)}, ${records} record${s(records)}`;
}

/** A progress line on stderr; does nothing when stderr is not a terminal. */
export class ProgressLine {
  readonly #enabled: boolean;
  #last = 0;
  #shown = false;

  /**
   * Makes a progress line.
   *
   * @param enabled draw at all (default: when stderr is a terminal)
   */
  constructor(enabled: boolean = Deno.stderr.isTerminal()) {
    this.#enabled = enabled;
  }

  /** Shows the current progress (throttled). */
  update(fraction: number | undefined, text: string): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (this.#shown && now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#draw(renderProgress(fraction, text));
  }

  /** Draws the final state and ends the line. */
  finish(fraction: number | undefined, text: string): void {
    if (!this.#enabled) return;
    this.#draw(renderProgress(fraction, text));
    this.#write("\n");
    this.#shown = false;
  }

  /** Erases the line (before an error message). */
  clear(): void {
    if (!this.#enabled || !this.#shown) return;
    this.#write("\r\x1b[K");
    this.#shown = false;
  }

  #draw(text: string): void {
    this.#shown = true;
    this.#write(`\r\x1b[K${text}`);
  }

  #write(text: string): void {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}
