/**
 * Schedules: cron ticks that create an instance or send an event, durable in the store. A
 * schedule's record (`["sc","sched", name]`) holds its definition, the next tick not yet
 * handled, the ticks chosen to run (`waiting`) and those fired but not yet acknowledged
 * (`pending`). The `Scheduler` (one per live runtime) fires them on the store's clock:
 *
 * - **Once.** A tick's action carries an id made of the schedule's name and the tick's time
 *   (`sch:<name>:<tick>`): the event id of a send, the idempotency key of a create. A tick is
 *   moved to `pending` before its action runs and out of it once acknowledged, each move a
 *   checked write of the record; a tick still pending after a crash or a takeover is fired
 *   again under the same id, which the store answers as a duplicate.
 * - **One node.** In cluster mode only the owner of the partition `schedule:<name>` hashes to
 *   fires the schedule; on takeover the new owner runs what is due at once.
 * - **Sealed.** In an encrypted store each record is sealed with the store's key (its
 *   `Records` codec), like journal entries.
 * - **Reconciled.** `syncSchedules` brings `config` schedules in line with `statecraft.yaml`;
 *   schedules added at run time (`api`, `cli`, `repl`) are left alone.
 *
 * This module is the entry point: the `Schedules` operations (for the API, the CLI and the
 * REPL), and everything else re-exported from where it lives: the records and their storage
 * (`schedule_records.ts`), the reconciliation with `statecraft.yaml` (`schedule_sync.ts`), the
 * firing loop (`scheduler.ts`) and the definitions (`schedule_spec.ts`).
 *
 * See docs/operations.md, "Schedules".
 *
 * @module
 */
import {
  addSchedule,
  getSchedule,
  type Home,
  homeOf,
  listSchedules,
  pauseSchedule,
  removeSchedule,
  resumeSchedule,
  type ScheduleHome,
  type ScheduleInfo,
  type ScheduleSource,
} from "./schedule_records.ts";
import { parseSchedule, type ScheduleSpec } from "./schedule_spec.ts";
import type { Store } from "./types.ts";

export {
  type CatchUpPolicy,
  type OverlapPolicy,
  parseSchedule,
  ScheduleError,
  type ScheduleSpec,
} from "./schedule_spec.ts";
export {
  addSchedule,
  getSchedule,
  listSchedules,
  pauseSchedule,
  removeSchedule,
  resumeSchedule,
  type ScheduleHome,
  type ScheduleInfo,
  type ScheduleRecord,
  type ScheduleSealer,
  type ScheduleSource,
  type TickOutcome,
} from "./schedule_records.ts";
export { type SyncOptions, syncSchedules } from "./schedule_sync.ts";
export { Scheduler, type SchedulerOptions, tickId, tickInstanceId } from "./scheduler.ts";

/** Options of {@linkcode Schedules}. */
export interface SchedulesOptions {
  /** The store's clock (default `Date.now`). */
  now?: () => number;
  /** Called after each change (the local scheduler's `wake`). */
  changed?: () => void;
  /** Further checks of a definition (a known machine), throwing a `ScheduleError`. */
  check?: (spec: ScheduleSpec) => void;
  /** What schedules added here are recorded as coming from (default `api`). */
  source?: Exclude<ScheduleSource, "config">;
}

/**
 * The schedule operations the API, the CLI and the REPL offer, on one store: each change is a
 * checked write of the schedule's record, then `changed()` (the local scheduler's `wake`).
 */
export class Schedules {
  readonly #home: Home;
  readonly #now: () => number;
  readonly #changed: () => void;
  readonly #check: (spec: ScheduleSpec) => void;
  readonly #source: ScheduleSource;

  /** The operations on the schedules of `at` (a store, or a backend and its sealer). */
  constructor(at: ScheduleHome | Store, options: SchedulesOptions = {}) {
    this.#home = homeOf(at);
    this.#now = options.now ?? Date.now;
    this.#changed = options.changed ?? (() => {});
    this.#check = options.check ?? (() => {});
    this.#source = options.source ?? "api";
  }

  /** Every schedule, by name. */
  list(): Promise<ScheduleInfo[]> {
    return listSchedules(this.#home);
  }

  /** One schedule, or `null`. */
  get(name: string): Promise<ScheduleInfo | null> {
    return getSchedule(this.#home, name);
  }

  /** Adds a schedule (`ScheduleError` for a bad definition, `StoreError` `exists`). */
  async add(input: unknown, options: { paused?: boolean } = {}): Promise<ScheduleInfo> {
    const spec = parseSchedule(input);
    this.#check(spec);
    const made = await addSchedule(this.#home, spec, {
      now: this.#now(),
      source: this.#source,
      ...options,
    });
    this.#changed();
    return made;
  }

  /** Pauses a schedule (`StoreError` `not_found` when there is none). */
  async pause(name: string): Promise<ScheduleInfo> {
    const r = await pauseSchedule(this.#home, name, this.#now());
    this.#changed();
    return r;
  }

  /** Resumes a schedule from the next tick after now. */
  async resume(name: string): Promise<ScheduleInfo> {
    const r = await resumeSchedule(this.#home, name, this.#now());
    this.#changed();
    return r;
  }

  /** Removes a schedule; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const r = await removeSchedule(this.#home, name);
    this.#changed();
    return r;
  }
}
