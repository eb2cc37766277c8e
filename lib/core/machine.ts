/**
 * `defineMachine`: checks a machine config and returns a `Machine`, from which instances are
 * started or restored from snapshots.
 *
 * @module
 */
import type {
  EventObject,
  MachineConfig,
  MachineInstance,
  MachineLike,
  Snapshot,
  StandardSchema,
  StartOptions,
} from "./types.ts";
import {
  type CompiledMachine,
  compiledOf as compiledOfAny,
  compileMachine,
  setCompiledReader,
} from "./compile.ts";
import { DefinitionError, type DefinitionProblem, SnapshotError } from "./errors.ts";
import { Instance } from "./interpreter.ts";
import { SystemClock } from "./clock.ts";

/** SystemClock has no state: one serves every instance started without a clock. */
const SYSTEM_CLOCK = new SystemClock();
const NO_OPTIONS: StartOptions = Object.freeze({});

/**
 * A checked machine definition, made by `defineMachine`. Immutable: start as many instances
 * as you like, or continue one from a snapshot.
 *
 * @example
 * ```ts
 * import { defineMachine } from "./machine.ts";
 * const counter = defineMachine({
 *   id: "counter",
 *   context: { count: 0 },
 *   states: { counting: { on: { INC: { actions: ({ context }) => context.count++ } } } },
 * });
 * const a = counter.start();
 * a.send("INC");
 * const b = counter.restore(a.snapshot(), { id: "copy" });
 * b.send("INC");
 * // a.context.count is 1, b.context.count is 2
 * ```
 */
export class Machine<C = Record<string, unknown>, E extends EventObject = EventObject>
  implements MachineLike<C> {
  /** The machine's id. */
  readonly id: string;
  /** The config it was defined from. */
  readonly config: MachineConfig<C, E>;
  /** The compiled model: the engine's, not part of the public API (see `compiledOf`). */
  readonly #compiled: CompiledMachine;
  /** Definition warnings (unreachable states, choice states without an else...). */
  readonly warnings: DefinitionProblem[];
  /** The structural hash recorded in snapshots. */
  readonly hash: string;
  /** `config.version`. */
  readonly version: string | number | undefined;
  /** Payload schemas by event type. */
  readonly schemas: Record<string, StandardSchema> | undefined;

  static {
    setCompiledReader((machine) => (machine as Machine).#compiled);
  }

  /**
   * Checks and compiles `config`, like `defineMachine` (which is the usual way to make one).
   *
   * @throws {DefinitionError} listing every problem of the config, each with its path.
   */
  constructor(config: MachineConfig<C, E>) {
    const compiled = compileMachine(config);
    if (compiled.problems.some((p) => p.severity === "error")) {
      throw new DefinitionError(compiled.id || undefined, compiled.problems);
    }
    this.config = config;
    this.#compiled = compiled;
    this.id = compiled.id;
    this.hash = compiled.hash;
    this.version = config.version;
    this.schemas = config.schemas?.events;
    this.warnings = compiled.problems.filter((p) => p.severity === "warning");
  }

  /** @internal A fresh copy of the initial context. */
  initialContext(): unknown {
    const c = this.config.context;
    if (c === undefined) return {};
    if (typeof c === "function") return (c as () => unknown)();
    return structuredClone(c);
  }

  /**
   * Starts an instance: its initial configuration is entered and the first macrostep runs
   * before this returns.
   */
  start(options: StartOptions<C> = NO_OPTIONS as StartOptions<C>): MachineInstance<C, E> {
    const instance = new Instance<C, E>(this, options, options.clock ?? SYSTEM_CLOCK);
    const context = this.initialContext() as Record<string, unknown>;
    if (typeof context !== "object" || context === null) {
      throw new TypeError(`machine "${this.id}": context must be an object`);
    }
    if (options.context !== undefined) Object.assign(context, options.context);
    return instance.start(context);
  }

  /**
   * Continues an instance from a snapshot taken with `instance.snapshot()`: same
   * configuration, history, context, queued and deferred events, and timers at their due
   * times (overdue ones fire at once, in due order).
   */
  restore(snapshot: Snapshot, options: StartOptions<C> = {}): MachineInstance<C, E> {
    checkSnapshotShape(snapshot);
    if (snapshot.machine !== this.id) {
      throw new SnapshotError(
        `snapshot of "${snapshot.id}" belongs to machine "${snapshot.machine}", not "${this.id}"`,
      );
    }
    if (snapshot.hash !== this.hash) {
      throw new SnapshotError(
        `snapshot of "${snapshot.id}" was taken under another definition of "${this.id}" ` +
          `(snapshot version ${snapshot.version ?? "unversioned"}, hash ${snapshot.hash}; ` +
          `machine version ${this.version ?? "unversioned"}, hash ${this.hash})`,
      );
    }
    const copy = structuredClone(snapshot);
    const instance = new Instance<C, E>(
      this,
      { ...options, id: options.id ?? copy.id },
      options.clock ?? new SystemClock(),
    );
    return instance.restoreFrom(copy);
  }
}

/**
 * Checks a machine config and returns the machine. Throws a `DefinitionError` listing every
 * problem, each with its path in the config; warnings are kept on `machine.warnings`.
 *
 * @example
 * ```ts
 * import { defineMachine } from "./machine.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const d = door.start();
 * d.send("OPEN");
 * // d.configuration is ["open"]
 * ```
 */
export function defineMachine<C = Record<string, unknown>, E extends EventObject = EventObject>(
  config: MachineConfig<C, E>,
): Machine<C, E> {
  return new Machine(config);
}

/**
 * The compiled model of a machine: what the interpreter, the diagrams, the SCXML exporter, the
 * REPL and the inspector read. Internal to Statecraft (not exported by `core.ts` or `mod.ts`):
 * its shape changes with the engine.
 */
// deno-lint-ignore no-explicit-any
export function compiledOf(machine: Machine<any, any>): CompiledMachine {
  return compiledOfAny(machine);
}

/**
 * Every problem of a config (errors and warnings) without throwing: what an editor or a
 * linter shows before `defineMachine` is called.
 *
 * @example
 * ```ts
 * import { validateMachine } from "./machine.ts";
 * const problems = validateMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "nowhere" } }, open: {} },
 * });
 * for (const p of problems) console.log(p.severity, p.path.join("."), p.message);
 * ```
 */
export function validateMachine<C, E extends EventObject>(
  config: MachineConfig<C, E>,
): DefinitionProblem[] {
  return compileMachine(config).problems;
}

function checkSnapshotShape(s: unknown): asserts s is Snapshot {
  const bad = (why: string): never => {
    throw new SnapshotError(`not a Statecraft snapshot: ${why}`);
  };
  if (typeof s !== "object" || s === null) bad("expected an object");
  const snap = s as Record<string, unknown>;
  if (snap.format !== "statecraft.snapshot/1") bad(`format is ${JSON.stringify(snap.format)}`);
  for (const key of ["machine", "hash", "id", "status"] as const) {
    if (typeof snap[key] !== "string") bad(`"${key}" must be a string`);
  }
  if (!["active", "done", "stopped"].includes(snap.status as string)) bad(`bad status`);
  if (
    !Array.isArray(snap.configuration) || !snap.configuration.every((x) => typeof x === "string")
  ) {
    bad(`"configuration" must be an array of state ids`);
  }
  if (typeof snap.history !== "object" || snap.history === null) bad(`"history" must be an object`);
  for (const key of ["timers", "queue", "deferred", "when"] as const) {
    if (!Array.isArray(snap[key])) bad(`"${key}" must be an array`);
  }
  for (const t of snap.timers as unknown[]) {
    const timer = t as Record<string, unknown>;
    if (
      typeof timer !== "object" || timer === null || typeof timer.sendId !== "string" ||
      typeof timer.due !== "number" || typeof timer.event !== "object" || timer.event === null
    ) bad("a timer must be { sendId, event, due }");
  }
  if (typeof snap.children !== "object" || snap.children === null) {
    bad(`"children" must be an object`);
  }
  if (typeof snap.stats !== "object" || snap.stats === null) bad(`"stats" must be an object`);
  if (typeof snap.nextId !== "number") bad(`"nextId" must be a number`);
  if (typeof snap.context !== "object" || snap.context === null) bad(`"context" must be an object`);
}
