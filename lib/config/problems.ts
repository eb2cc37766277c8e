/**
 * Problems in a YAML document (a plugin manifest, `statecraft.yaml`), each at the line and
 * column it was written at, and the error that carries all of them.
 *
 * @module
 */
import { formatPath } from "../core/errors.ts";

/** One problem in a YAML document. */
export interface DocumentProblem {
  /** Where in the document: keys from the root, e.g. `["permissions", "net", "0"]`. */
  path: string[];
  /** What is wrong. */
  message: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  col?: number;
}

/**
 * Thrown with every problem of a YAML document: one `file:line:col path: message` line each.
 *
 * @example
 * ```ts
 * import { DocumentError } from "./problems.ts";
 * const error = new DocumentError("statecraft.yaml", [
 *   { path: ["kv"], message: "must not be empty", line: 3, col: 5 },
 * ], "configuration");
 * console.log(error.message);
 * // invalid configuration (1 problem):
 * //   statecraft.yaml:3:5 kv: must not be empty
 * ```
 */
export class DocumentError extends Error {
  /** Every problem found, in file order. */
  readonly problems: DocumentProblem[];
  /** The file, as given. */
  readonly file: string;

  /**
   * Makes the error and its message (one `file:line:col path: message` line per problem).
   *
   * @param file the file as given
   * @param problems every problem, in file order
   * @param what what the document is, for the first line (`plugin manifest`, `configuration`)
   */
  constructor(file: string, problems: DocumentProblem[], what = "document") {
    const lines = problems.map((p) => `  ${formatProblem(file, p)}`);
    super(
      `invalid ${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        lines.join("\n"),
    );
    this.name = "DocumentError";
    this.problems = problems;
    this.file = file;
  }
}

/**
 * Renders one problem as `file:line:col path: message`.
 *
 * @example
 * ```ts
 * import { formatProblem } from "./problems.ts";
 * formatProblem("plugin.yaml", { path: ["version"], message: "is required", line: 1, col: 1 });
 * // "plugin.yaml:1:1 version: is required"
 * ```
 */
export function formatProblem(file: string, problem: DocumentProblem): string {
  const at = problem.line === undefined ? file : `${file}:${problem.line}:${problem.col ?? 1}`;
  const where = problem.path.length === 0 ? "" : `${formatPath(problem.path)}: `;
  return `${at} ${where}${problem.message}`;
}

/** Problems in file order (line, then column, then as found). */
export function sortProblems(problems: DocumentProblem[]): DocumentProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) =>
      (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.col ?? 0) - (b.p.col ?? 0) || a.i - b.i
    )
    .map(({ p }) => p);
}
