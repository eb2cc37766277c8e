/**
 * The error type of the command line: a user mistake (a missing file, a bad option, a
 * malformed events file) reported as one clear message on stderr and exit code 1, never as a
 * stack trace.
 *
 * @module
 */

/**
 * A mistake the user can fix; the message says what was wrong and where.
 *
 * @example
 * ```ts
 * import { CliError } from "./cli_error.ts";
 * const e = new CliError(`events.jsonl:3: not JSON: Unexpected token`);
 * // e.message is "events.jsonl:3: not JSON: Unexpected token"
 * ```
 */
export class CliError extends Error {
  /**
   * Makes the error.
   *
   * @param message what was wrong, where, and what to do
   */
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}
