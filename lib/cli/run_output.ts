/**
 * Where `statecraft run` (and its SCXML runner) write: data lines to stdout, warnings and
 * errors to stderr.
 *
 * @module
 */

/** Where `run` writes. */
export interface RunOutput {
  /** Receives a line for stdout. */
  line(text: string): void;
  /** Receives a warning or error line for stderr. */
  warn(text: string): void;
}
