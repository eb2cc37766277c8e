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

/**
 * Renders a config path the way a user reads it: `states.open.on.CLOSE[0]`.
 *
 * @example
 * ```ts
 * import { formatPath } from "./errors.ts";
 * formatPath(["states", "open", "on", "CLOSE", "0"]); // "states.open.on.CLOSE[0]"
 * formatPath([]); // "(root)"
 * ```
 */
export function formatPath(path: readonly string[]): string {
  let out = "";
  for (const part of path) {
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out === "" ? "(root)" : out;
}

/**
 * Thrown by `defineMachine` with every error-level problem of the definition.
 *
 * @example
 * ```ts
 * import { DefinitionError, formatPath } from "./errors.ts";
 * import { defineMachine } from "./machine.ts";
 * try {
 *   defineMachine({ id: "door", initial: "closed", states: { closed: { on: { OPEN: "opn" } } } });
 * } catch (e) {
 *   if (!(e instanceof DefinitionError)) throw e;
 *   for (const p of e.problems) console.log(`${formatPath(p.path)}: ${p.message}`);
 *   // states.closed.on.OPEN: unknown target "opn" ...
 * }
 * ```
 */
export class DefinitionError extends Error {
  /** Every problem found (errors and warnings). */
  readonly problems: DefinitionProblem[];
  /** The machine's id, when it had one. */
  readonly machineId: string | undefined;

  /**
   * Made by `defineMachine` (and `new Machine`) from the problems of a config.
   *
   * @param machineId the machine's id, or `undefined` when the config has none.
   * @param problems every problem found; the message lists those of severity `"error"`.
   */
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

/**
 * Thrown by `send` for an event that cannot be processed (bad shape, failed payload schema).
 *
 * @example
 * ```ts
 * import { EventError } from "./errors.ts";
 * import { defineMachine } from "./machine.ts";
 * const m = defineMachine({ id: "m", states: { idle: { on: { GO: "idle" } } } });
 * const i = m.start();
 * try {
 *   i.send("");
 * } catch (e) {
 *   // e instanceof EventError: "send: an event name must not be empty"
 *   if (!(e instanceof EventError)) throw e;
 * }
 * ```
 */
export class EventError extends Error {
  /**
   * The payload field a payload schema rejected (`code`, `items.0.sku`: the first issue's
   * path), when that is what was wrong; `undefined` otherwise.
   */
  readonly field?: string;
  /**
   * Made by the engine for an event it rejects (`send`, or a delay an action gave `send`).
   *
   * @param message what is wrong with the event, naming it.
   * @param field the payload field at fault, when a payload schema rejected the event.
   */
  constructor(message: string, field?: string) {
    super(message);
    this.name = "EventError";
    if (field !== undefined) this.field = field;
  }
}

/**
 * Thrown by `restore` for a snapshot that does not fit the machine: another machine's, one
 * taken under another definition (a different structural hash), or not a snapshot at all.
 *
 * @example
 * ```ts
 * import { SnapshotError } from "./errors.ts";
 * import { defineMachine } from "./machine.ts";
 * const a = defineMachine({ id: "a", initial: "x", states: { x: {} } });
 * const b = defineMachine({ id: "b", initial: "x", states: { x: {} } });
 * try {
 *   b.restore(a.start().snapshot());
 * } catch (e) {
 *   // e instanceof SnapshotError: the snapshot belongs to machine "a", not "b"
 *   if (!(e instanceof SnapshotError)) throw e;
 * }
 * ```
 */
export class SnapshotError extends Error {
  /**
   * Made by `restore` for a snapshot it rejects.
   *
   * @param message why the snapshot does not fit, naming the snapshot and the machine.
   */
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

/** Where a livelock was found: what `LivelockError` says, as data. */
export interface LivelockDetails {
  /** The instance that kept feeding itself. */
  instance: string;
  /** `"microsteps"`: one macrostep never settled (eventless transitions, raised events);
   * `"macrosteps"`: macrosteps on events it fed itself never stopped (sends to itself, to and
   * from its parent or children, zero-delay timers). */
  kind: "microsteps" | "macrosteps";
  /** The bound that was passed (`maxMicrosteps` or `maxSelfFedMacrosteps`). */
  limit: number;
  /** Types of the events that cycled, most recent last (at most 8, each once). */
  events: string[];
  /** The atomic states the instance was in when it was cut short. */
  states: string[];
}

/**
 * Thrown (by `send`, `start`, `restore`) or reported to listeners (when a timer or another
 * instance started the run) when an instance never settles: more than
 * `StartOptions.maxMicrosteps` microsteps in one macrostep (eventless transitions or raised
 * events), or more than `StartOptions.maxSelfFedMacrosteps` macrosteps in a row on events the
 * instance fed itself (sends to itself, to and from its parent or invoked children, zero-delay
 * timers) with no event from outside between them. The run is cut short; the instance stays
 * active in the configuration it had reached, and the events it had queued for itself are
 * dropped.
 *
 * @example
 * ```ts
 * import { LivelockError } from "./errors.ts";
 * import { defineMachine } from "./machine.ts";
 * const echo = defineMachine({
 *   id: "echo",
 *   initial: "idle",
 *   states: { idle: { on: { PING: { actions: ({ send }) => send("PING") } } } },
 * });
 * const i = echo.start({ maxSelfFedMacrosteps: 100 });
 * try {
 *   i.send("PING");
 * } catch (e) {
 *   if (!(e instanceof LivelockError)) throw e;
 *   // e.details.events is ["PING"], e.details.states is ["idle"]
 * }
 * ```
 */
export class LivelockError extends Error {
  /** What cycled, where, and which bound it passed. */
  readonly details: LivelockDetails | undefined;
  /**
   * Made by the engine when an instance passes one of its livelock bounds.
   *
   * @param message what did not settle, and in which instance and states.
   * @param details the same, as data.
   */
  constructor(message: string, details?: LivelockDetails) {
    super(message);
    this.name = "LivelockError";
    this.details = details;
  }
}
