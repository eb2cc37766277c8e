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
import { DefinitionError, type DefinitionProblem } from "./errors.ts";
import { checkSnapshot, type SnapshotTarget } from "./snapshot_check.ts";
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
    // Own entries on an object without a prototype: an event named "constructor" or "toString"
    // finds no schema (the compiler checked every entry is one).
    const events = config.schemas?.events;
    this.schemas = events === undefined ? undefined : Object.assign(Object.create(null), events);
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
   *
   * @throws {SnapshotError} naming the field at fault (`snapshot.configuration[3]: "door.open"
   *   is listed twice`) when the snapshot is not one this machine can continue: checked
   *   completely first (shape, machine, hash, a legal configuration, history, timers, queues,
   *   `when` memory, child snapshots, plain JSON data), in time linear in its size.
   */
  restore(snapshot: Snapshot, options: StartOptions<C> = {}): MachineInstance<C, E> {
    checkSnapshot(snapshot, { compiled: this.#compiled, version: this.version }, childTarget);
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

/** The machine a child snapshot is checked against: a `Machine` invoked as a child. */
function childTarget(src: unknown): SnapshotTarget | null {
  if (!(src instanceof Machine)) return null;
  return { compiled: compiledOfAny(src), version: src.version };
}
