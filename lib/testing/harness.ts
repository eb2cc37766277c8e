/**
 * One virtual clock for a whole store or runtime: every instance, durable timer, invocation
 * and plugin schedule runs on one `VirtualClock`, and `advance` / `settle` move it, waiting
 * for the store's real work (commits, loads) between firings instead of sleeping. A machine
 * with `after: { "1h": ... }` completes at once.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { testStore } from "./harness.ts";
 *
 * const kettle = defineMachine({
 *   id: "kettle",
 *   initial: "heating",
 *   states: { heating: { after: { "3m": "boiled" } }, boiled: { type: "final" } },
 * });
 * await using t = await testStore({ machines: [kettle] });
 * await t.store.create("kettle", "k1");
 * await t.advance("3m");
 * const info = await t.store.get("k1"); // info.configuration is ["boiled"]
 * ```
 *
 * @module
 */
import { VirtualClock } from "../core/clock.ts";
import { parseDuration } from "../core/duration.ts";
import type { Machine } from "../core/machine.ts";
import type { EventObject } from "../core/types.ts";
import { K } from "../persist/keys.ts";
import {
  type CommitInfo,
  DurableStore,
  openStore,
  type OpenStoreOptions,
  type Store,
} from "../persist/store.ts";
import type { AnyMachine } from "../persist/types.ts";
import { Runtime, type RuntimeOptions, type TransitionEvent } from "../runtime/runtime.ts";

/** Where virtual time starts unless told: 2025-01-01T00:00:00Z (stored times read as dates). */
export const DEFAULT_START: number = Date.UTC(2025, 0, 1);

/** Rounds `settle` runs (each: fire what is due next, wait for the work it made) by default. */
export const DEFAULT_MAX_ROUNDS = 1000;

/** Options of `settle`. */
export interface SettleOptions {
  /** Rounds before giving up with a `SettleError` (default: the harness's `maxRounds`). */
  maxRounds?: number;
}

/**
 * A store or runtime on virtual time: the clock, and the moves that let time pass.
 *
 * @example
 * ```ts
 * import { testStore, type VirtualTime } from "./harness.ts";
 * async function tick(t: VirtualTime): Promise<number> {
 *   await t.advance(1000);
 *   return t.clock.now();
 * }
 * await using t = await testStore({ machines: [] });
 * await tick(t);
 * ```
 */
export interface VirtualTime extends AsyncDisposable {
  /** The one clock every instance, durable timer and plugin schedule runs on. */
  readonly clock: VirtualClock;
  /**
   * Lets `by` of virtual time pass (milliseconds, or a duration such as `"90s"` or `"1h"`):
   * every timer due meanwhile fires at its own time, in order, and the work each one makes
   * (a commit, new timers, an invocation, a plugin call) is done before the next fires.
   * Instances not in memory whose stored timers fall due are loaded, as the store's poller
   * would. Throws a `SettleError` when timers keep firing without time moving.
   */
  advance(by: number | string): Promise<void>;
  /**
   * Runs until nothing is pending: fires the next due timer (moving the clock to its due
   * time), waits for the work it made, and repeats until no timer is pending and the store is
   * idle. Throws a `SettleError` naming what kept being due after `maxRounds` rounds (a
   * machine that reschedules itself forever never settles: use `advance` for those).
   */
  settle(options?: SettleOptions): Promise<void>;
  /** Waits for work already started (commits, plugin calls) without moving the clock. */
  flush(): Promise<void>;
  /** Closes the store (and the runtime's plugins). */
  close(): Promise<void>;
}

/** A store on virtual time, from `testStore`. */
export interface TestStore extends VirtualTime {
  /** The in-memory store, on `clock`. */
  readonly store: Store;
}

/** A runtime on virtual time, from `testRuntime`. */
export interface TestRuntime extends VirtualTime {
  /** The runtime: its in-memory store, plugins and their schedules all on `clock`. */
  readonly runtime: Runtime;
  /** The runtime's store. */
  readonly store: Store;
}

/** Options of `testStore`: those of `openStore`, but the store is in memory on a virtual clock. */
export interface TestStoreOptions
  extends Omit<OpenStoreOptions, "path" | "backend" | "clock" | "mode" | "cluster"> {
  /** The clock to run on (default: a new one at `start`). */
  clock?: VirtualClock;
  /** Virtual time at the start, in ms since the epoch (default `DEFAULT_START`). */
  start?: number;
  /** Rounds `settle` runs before it throws (default `DEFAULT_MAX_ROUNDS`). */
  maxRounds?: number;
}

/** Options of `testRuntime`. */
export interface TestRuntimeOptions {
  /** Machines given directly (embedding). */
  machines?: AnyMachine[];
  /** Machine scripts to load, relative to `projectDir` (default: none). */
  scripts?: string[];
  /** Plugin directories (folders of plugin folders) to load, relative to `projectDir`. */
  plugins?: string[];
  /** The project folder (default: the working directory); its `statecraft.yaml` is read. */
  projectDir?: string;
  /** A `statecraft.yaml` to read instead. */
  configFile?: string;
  /** The clock to run on (default: a new one at `start`). */
  clock?: VirtualClock;
  /** Virtual time at the start, in ms since the epoch (default `DEFAULT_START`). */
  start?: number;
  /** Rounds `settle` runs before it throws (default `DEFAULT_MAX_ROUNDS`). */
  maxRounds?: number;
  /** Where runtime log lines go (default: warnings and errors on stderr). */
  log?: RuntimeOptions["log"];
  /** Environment for `${VAR}` in the configuration (default: the process's). */
  env?: RuntimeOptions["env"];
}

/**
 * Virtual time did not settle: timers kept falling due after `rounds` rounds. The message
 * names what kept firing and what is still due.
 *
 * @example
 * ```ts
 * import { SettleError } from "./harness.ts";
 * const e = new SettleError("settle(): still busy", 1000, ['instance "beat": after.1s.on']);
 * // e.rounds is 1000
 * ```
 */
export class SettleError extends Error {
  /** The rounds run. */
  readonly rounds: number;
  /** What kept firing and what is still due, one description each. */
  readonly due: string[];
  /**
   * Makes the error.
   *
   * @param message what did not settle
   * @param rounds the rounds run
   * @param due what kept firing and what is still due
   */
  constructor(message: string, rounds: number, due: string[]) {
    super(message);
    this.name = "SettleError";
    this.rounds = rounds;
    this.due = due;
  }
}

/**
 * An in-memory store whose instances, durable timers and invocations all run on one
 * `VirtualClock`.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { testStore } from "./harness.ts";
 *
 * const light = defineMachine({
 *   id: "light",
 *   initial: "green",
 *   states: { green: { after: { "1h": "red" } }, red: {} },
 * });
 * const t = await testStore({ machines: [light] });
 * try {
 *   await t.store.create("light", "l1");
 *   await t.settle(); // the hour passes at once
 *   (await t.store.get("l1"))?.configuration; // ["red"]
 * } finally {
 *   await t.close();
 * }
 * ```
 */
export async function testStore(options: TestStoreOptions): Promise<TestStore> {
  const { clock: given, start, maxRounds, ...rest } = options;
  const clock = given ?? new VirtualClock(start ?? DEFAULT_START);
  // The driver counts what settle's rounds commit; it exists once the store does.
  const listeners: ((commit: CommitInfo) => void)[] = [];
  const userCommit = rest.onCommit;
  const store = await openStore({
    ...rest,
    path: ":memory:",
    clock,
    onCommit: (commit: CommitInfo) => {
      for (const listen of listeners) listen(commit);
      userCommit?.(commit);
    },
  });
  const d = new Driver(clock, store, maxRounds ?? DEFAULT_MAX_ROUNDS, () => store.close());
  listeners.push((commit) => {
    for (const e of commit.entries) d.committed(commit.id, e.kind, e.event);
  });
  return {
    store,
    clock,
    advance: (by) => d.advance(by),
    settle: (o) => d.settle(o),
    flush: () => d.quiesce(),
    close: () => d.close(),
    [Symbol.asyncDispose]: () => d.close(),
  };
}

/**
 * A `Runtime` with an in-memory store, given machines, machine scripts and plugin
 * directories; every instance, durable timer, invocation and plugin schedule runs on one
 * `VirtualClock`. Plugin calls in flight (scheduled actions, invocations, sends from
 * machines) and bus deliveries count as pending work: `advance` and `settle` wait for them.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { testRuntime } from "./harness.ts";
 *
 * const reminder = defineMachine({
 *   id: "reminder",
 *   initial: "waiting",
 *   states: { waiting: { after: { "24h": "due" } }, due: {} },
 * });
 * await using t = await testRuntime({ machines: [reminder] });
 * await t.runtime.spawn("reminder", "r1");
 * await t.advance("24h");
 * (await t.runtime.get("r1"))?.configuration; // ["due"]
 * ```
 */
export async function testRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const clock = options.clock ?? new VirtualClock(options.start ?? DEFAULT_START);
  const runtime = await Runtime.open({
    projectDir: options.projectDir,
    configFile: options.configFile,
    kv: ":memory:",
    machines: options.scripts ?? [],
    extraMachines: (options.machines ?? []) as Machine<Record<string, unknown>>[],
    plugins: options.plugins ?? [],
    noPlugins: options.plugins === undefined || options.plugins.length === 0,
    clock,
    env: options.env,
    log: options.log ?? ((level, message) => {
      if (level === "warn" || level === "error") console.error(`${level}: ${message}`);
    }),
  });
  const driver = new Driver(
    clock,
    runtime.store,
    options.maxRounds ?? DEFAULT_MAX_ROUNDS,
    () => runtime.close(),
  );
  driver.watchRuntime(runtime);
  return {
    runtime,
    store: runtime.store,
    clock,
    advance: (by) => driver.advance(by),
    settle: (o) => driver.settle(o),
    flush: () => driver.quiesce(),
    close: () => driver.close(),
    [Symbol.asyncDispose]: () => driver.close(),
  };
}

/** Rounds of waiting for work in flight before `quiesce` gives up (a livelock, not a wait). */
const MAX_QUIESCE_ROUNDS = 10_000;

/** Lets every queued microtask and ready I/O callback run (one macrotask turn). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Moves the clock and waits for the store's (and the runtime's) work between firings. */
class Driver {
  readonly #clock: VirtualClock;
  readonly #store: Store;
  readonly #maxRounds: number;
  readonly #closeAll: () => Promise<void>;
  /** Work the store does not see: plugin calls and bus deliveries in flight. */
  readonly #inflight = new Set<Promise<unknown>>();
  /** What was committed (instance, event, kind) and how often, while a settle runs. */
  #fired: Map<string, number> | null = null;
  #closed: Promise<void> | null = null;

  constructor(
    clock: VirtualClock,
    store: Store,
    maxRounds: number,
    closeAll: () => Promise<void>,
  ) {
    this.#clock = clock;
    this.#store = store;
    this.#maxRounds = maxRounds;
    this.#closeAll = closeAll;
  }

  /** A journal entry was committed (counted while a settle runs, for `SettleError`). */
  committed(id: string, kind: string, event: EventObject | undefined): void {
    if (this.#fired === null) return;
    const what = `instance "${id}": ${event?.type ?? kind} (${kind})`;
    this.#fired.set(what, (this.#fired.get(what) ?? 0) + 1);
  }

  /**
   * Counts the runtime's plugin calls and bus deliveries as pending work: the store's mailboxes
   * do not see a scheduled plugin action on its way to emit an event for an instance.
   */
  watchRuntime(runtime: Runtime): void {
    const plugins = runtime.plugins;
    const call = plugins.call.bind(plugins);
    plugins.call = (...args: Parameters<typeof call>) => this.#track(call(...args));
    const bus = plugins.bus;
    const emit = bus.emit.bind(bus);
    bus.emit = (event: EventObject) => this.#track(emit(event));
    runtime.watch((t: TransitionEvent) => this.committed(t.instance, t.kind, { type: t.event }));
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflight.add(work);
    const done = () => this.#inflight.delete(work);
    work.then(done, done);
    return work;
  }

  /** Waits until the store is idle and no tracked work is in flight, without moving time. */
  async quiesce(): Promise<void> {
    const store = this.#store;
    const durable = store instanceof DurableStore ? store : undefined;
    for (let i = 0; i < MAX_QUIESCE_ROUNDS; i++) {
      await nextTurn();
      if (this.#inflight.size === 0 && (durable?.pending ?? 0) === 0) return;
      await Promise.allSettled([...this.#inflight]);
      await durable?.idle();
    }
    throw new SettleError(
      `work kept being queued without the clock moving (${MAX_QUIESCE_ROUNDS} rounds): ` +
        `${this.#inflight.size} plugin call(s) or bus deliveries in flight, ` +
        `${durable?.pending ?? 0} instance(s) busy`,
      MAX_QUIESCE_ROUNDS,
      [],
    );
  }

  async advance(by: number | string): Promise<void> {
    const ms = parseDuration(by);
    if (ms === undefined) {
      throw new RangeError(
        `advance: expected milliseconds (0 or more) or a duration such as "90s" or "1h", got ` +
          JSON.stringify(by),
      );
    }
    this.#checkOpen("advance");
    const clock = this.#clock;
    const end = clock.now() + ms;
    await this.quiesce();
    const tried = new Set<string>();
    let sameInstant = 0;
    let last = clock.now();
    for (;;) {
      await this.#loadStoredDue(end, tried);
      const next = clock.nextDue();
      if (next === undefined || next > end) break;
      if (next === last) {
        if (++sameInstant > this.#maxRounds) {
          throw await this.#stuck(
            `advance(${JSON.stringify(by)}): timers kept falling due at ${iso(next)} without ` +
              `time moving (${this.#maxRounds} rounds)`,
            this.#maxRounds,
          );
        }
      } else {
        sameInstant = 0;
        last = next;
      }
      clock.advance(next - clock.now());
      await this.quiesce();
    }
    clock.advance(end - clock.now());
    await this.quiesce();
  }

  async settle(options: SettleOptions = {}): Promise<void> {
    this.#checkOpen("settle");
    const maxRounds = options.maxRounds ?? this.#maxRounds;
    const clock = this.#clock;
    const begin = clock.now();
    this.#fired = new Map();
    try {
      await this.quiesce();
      const tried = new Set<string>();
      for (let round = 0;; round++) {
        await this.#loadStoredDue(clock.nextDue() ?? Infinity, tried);
        const next = clock.nextDue();
        if (next === undefined) return;
        if (round >= maxRounds) {
          throw await this.#stuck(
            `settle(): timers were still due after ${maxRounds} rounds ` +
              `(${clock.now() - begin} ms of virtual time passed)`,
            maxRounds,
          );
        }
        clock.advance(Math.max(0, next - clock.now()));
        await this.quiesce();
      }
    } finally {
      this.#fired = null;
    }
  }

  /**
   * Loads instances not in memory whose stored timers fall due by `horizon` (what the store's
   * poller does on real time), so that their timers are armed on the clock. `tried` keeps
   * entries already looked at (one whose instance arms nothing, archived say, is not retried).
   */
  async #loadStoredDue(horizon: number, tried: Set<string>): Promise<void> {
    const prefix = K.timerPrefix();
    const selector = Number.isFinite(horizon)
      ? { prefix, end: [...prefix, Math.floor(horizon) + 1] }
      : { prefix };
    const ids = new Set<string>();
    for await (const e of this.#store.backend.list(selector, { limit: 500 })) {
      const key = `${String(e.key[2])}|${String(e.key[3])}|${String(e.key[4])}`;
      if (tried.has(key)) continue;
      tried.add(key);
      ids.add(e.key[3] as string);
    }
    if (ids.size === 0) return;
    // `get` loads an instance that is not in memory (arming its timers) and is cheap otherwise.
    await Promise.all([...ids].map((id) => this.#store.get(id).catch(() => null)));
    await this.quiesce();
  }

  /** The error for timers that keep falling due: what kept firing, what is due now. */
  async #stuck(message: string, rounds: number): Promise<SettleError> {
    const due: string[] = [];
    const fired = [...(this.#fired ?? new Map<string, number>()).entries()]
      .sort((a, b) => b[1] - a[1]).slice(0, 5);
    for (const [what, n] of fired) due.push(`${what} fired ${n} times`);
    for await (const e of this.#store.backend.list({ prefix: K.timerPrefix() }, { limit: 5 })) {
      const [, , at, id, ref] = e.key;
      due.push(`instance "${String(id)}": timer ${String(ref)} due at ${iso(Number(at))}`);
    }
    const stored = due.length - fired.length;
    const pending = this.#clock.pending;
    if (stored === 0) {
      due.push(
        `${pending} timer(s) on the clock with no stored timer behind them (a plugin's ` +
          "schedule.every, or a timer set on the clock directly)",
      );
    }
    return new SettleError(
      `${message}; what kept being due:\n${due.map((d) => `  ${d}`).join("\n")}`,
      rounds,
      due,
    );
  }

  #checkOpen(what: string): void {
    if (this.#closed !== null) throw new Error(`${what}: the test harness is closed`);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await this.#closeAll();
    })();
    return this.#closed;
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
