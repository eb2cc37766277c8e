/**
 * Typed errors the engine throws. Each message says what was wrong and where.
 *
 * @module
 */

/** One problem found in a machine definition. */
export interface DefinitionProblem {
  /** `"error"` makes the definition unusable; `"warning"` does not. */
  severity: "error" | "warning";
  /** Where in the config: keys from the root, e.g. `["states", "open", "on", "CLOSE"]`. */
  path: string[];
  /** What is wrong. */
  message: string;
}

/** Renders a config path the way a user reads it: `states.open.on.CLOSE[0]`. */
export function formatPath(path: readonly string[]): string {
  let out = "";
  for (const part of path) {
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out === "" ? "(root)" : out;
}

/** Thrown by `defineMachine` with every error-level problem of the definition. */
export class DefinitionError extends Error {
  /** Every problem found (errors and warnings). */
  readonly problems: DefinitionProblem[];
  /** The machine's id, when it had one. */
  readonly machineId: string | undefined;

  constructor(machineId: string | undefined, problems: DefinitionProblem[]) {
    const errors = problems.filter((p) => p.severity === "error");
    const lines = errors.map((p) => `  ${formatPath(p.path)}: ${p.message}`);
    super(
      `machine ${machineId === undefined ? "(no id)" : `"${machineId}"`} has ${errors.length} ` +
        `definition error${errors.length === 1 ? "" : "s"}:\n${lines.join("\n")}`,
    );
    this.name = "DefinitionError";
    this.problems = problems;
    this.machineId = machineId;
  }
}

/** Thrown by `send` for an event that cannot be processed (bad shape, failed payload schema). */
export class EventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EventError";
  }
}

/** Thrown by `restore` for a snapshot that does not fit the machine. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}
