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
 * See docs/operations.md, "Schedules".
 *
 * @module
 */
import type { Clock, EventObject } from "../core/types.ts";
import { BackendUnavailableError, type KvBackend, type KvKey } from "./backend.ts";
import { StoreDataError } from "./codec.ts";
import { K } from "./keys.ts";
import {
  nextTick,
  parseSchedule,
  type ScheduleSpec,
  tickLabel,
  ticksBetween,
} from "./schedule_spec.ts";
import { DurableStore } from "./store.ts";
import { type InstanceInfo, type SendResult, type Store, StoreError } from "./types.ts";

export {
  type CatchUpPolicy,
  type OverlapPolicy,
  parseSchedule,
  ScheduleError,
  type ScheduleSpec,
} from "./schedule_spec.ts";

/** What the latest handled tick of a schedule did. */
export interface TickOutcome {
  /** The tick (ms since the epoch). */
  tick: number;
  /** When it was handled (the store's clock). */
  at: number;
  /** `fired`; `duplicate` (an earlier run of it had already been applied); `failed`. */
  outcome: "fired" | "duplicate" | "failed";
  /** The instance created or sent to. */
  instance?: string;
  /** Why it failed. */
  error?: string;
}

/**
 * Where a schedule was declared: `statecraft.yaml` (`config`: reconciled with the file at each
 * start), or at run time over HTTP (`api`), from the CLI (`cli`), in the REPL (`repl`).
 */
export type ScheduleSource = "config" | "api" | "cli" | "repl";

/** A schedule as the store keeps it. */
export interface ScheduleRecord {
  /** The definition. */
  spec: ScheduleSpec;
  /** Where it was declared; only `config` schedules follow `statecraft.yaml`. */
  source: ScheduleSource;
  /** A paused schedule fires nothing; resuming starts from the next tick after now. */
  paused: boolean;
  /** The next tick not yet handled (ms since the epoch), or `null` when there is none. */
  next: number | null;
  /** Ticks chosen to run, oldest first, waiting for their turn (or for an overlap to end). */
  waiting: number[];
  /** Ticks whose action was started and not yet acknowledged: fired again with the same id. */
  pending: number[];
  /** The instance the latest create made (for the overlap check). */
  lastInstance?: string;
  /** Ticks fired (acknowledged). */
  fired: number;
  /** Ticks skipped by the overlap or catch-up policy, or dropped by a pause. */
  skipped: number;
  /** Ticks whose action failed for good (an unknown instance, a refused event). */
  failed: number;
  /** The latest tick fired or failed. */
  last?: TickOutcome;
  /** When it was added (the store's clock). */
  createdAt: number;
  /** When it last changed (the store's clock). */
  updatedAt: number;
}

/** A schedule with its name, as listings show it. */
export interface ScheduleInfo extends ScheduleRecord {
  /** The schedule's name (`spec.name`). */
  name: string;
}

function info(rec: ScheduleRecord): ScheduleInfo {
  return { name: rec.spec.name, ...rec };
}

/**
 * Seals and opens stored records: the store's records codec (`Records`, AES-GCM with the
 * store's key), so that an encrypted store keeps schedules (a create's context, a send's
 * event) encrypted like snapshots and journals.
 */
export interface ScheduleSealer {
  /** Whether records are sealed. */
  readonly encrypted: boolean;
  /** A record as stored. */
  seal(value: unknown): Promise<unknown>;
  /** The record a stored value holds; `what` names it in errors. */
  open<T>(value: unknown, what: string): Promise<T>;
}

/**
 * Where schedule records are: a store (a `DurableStore` seals them with its key), or a
 * backend and the sealer of its store's key (`null` or absent: an unencrypted store).
 */
export interface ScheduleHome {
  /** The storage. */
  readonly backend: KvBackend;
  /** Seals records when the store is encrypted. */
  readonly sealer?: ScheduleSealer | null;
}

type Home = { backend: KvBackend; sealer: ScheduleSealer | null };

function homeOf(at: ScheduleHome | Store): Home {
  if (at instanceof DurableStore) {
    return { backend: at.backend, sealer: at.records.encrypted ? at.records : null };
  }
  const sealer = (at as ScheduleHome).sealer ?? null;
  return { backend: at.backend, sealer: sealer?.encrypted ? sealer : null };
}

/** A record read, with what a checked write of it needs. */
interface Read {
  rec: ScheduleRecord;
  key: KvKey;
  version: string;
  /** Stored sealed (false: in clear, in a store that may be encrypted: sealed when written). */
  sealed: boolean;
}

function isSealed(value: unknown): boolean {
  return typeof value === "object" && value !== null && "sealed" in value;
}

async function openRecord(home: Home, value: unknown, name: string): Promise<ScheduleRecord> {
  if (home.sealer !== null) return await home.sealer.open(value, `schedule "${name}"`);
  if (isSealed(value)) {
    throw new StoreDataError(
      `schedule "${name}" is encrypted: open the store with its encryption key`,
    );
  }
  return value as ScheduleRecord;
}

function sealRecord(home: Home, rec: ScheduleRecord): Promise<unknown> {
  return home.sealer === null ? Promise.resolve(rec) : home.sealer.seal(rec);
}

async function readOne(home: Home, name: string): Promise<Read | null> {
  const e = await home.backend.get(K.schedule(name));
  if (e.value === null || e.version === null) return null;
  const rec = await openRecord(home, e.value, name);
  return { rec, key: e.key, version: e.version, sealed: isSealed(e.value) };
}

async function readAll(home: Home): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of home.backend.list({ prefix: K.schedulePrefix() })) {
    if (e.value === null || e.version === null) continue;
    const name = String(e.key[e.key.length - 1]);
    const rec = await openRecord(home, e.value, name);
    out.push({ rec, key: e.key, version: e.version, sealed: isSealed(e.value) });
  }
  return out;
}

/** The stable id of a tick's action: a send's event id, a create's idempotency key. */
export function tickId(name: string, tick: number): string {
  return `sch:${name}:${tick}`;
}

/** The instance a create tick makes: the template's `{schedule}` and `{tick}` filled in. */
export function tickInstanceId(spec: ScheduleSpec, tick: number): string {
  const template = spec.create?.id ?? "{schedule}-{tick}";
  return template.replaceAll("{schedule}", spec.name).replaceAll("{tick}", tickLabel(tick));
}

/** Every schedule in the store, by name. */
export async function listSchedules(at: ScheduleHome | Store): Promise<ScheduleInfo[]> {
  return (await readAll(homeOf(at))).map((r) => info(r.rec));
}

/** One schedule, or `null`. */
export async function getSchedule(
  at: ScheduleHome | Store,
  name: string,
): Promise<ScheduleInfo | null> {
  const r = await readOne(homeOf(at), name);
  return r === null ? null : info(r.rec);
}

/**
 * Adds a schedule (validated: a `ScheduleError` names the field at fault); a schedule of that
 * name already stored is a `StoreError` `exists`. Its first tick is the first after `now`.
 */
export async function addSchedule(
  at: ScheduleHome | Store,
  input: unknown,
  options: { now: number; paused?: boolean; source?: ScheduleSource },
): Promise<ScheduleInfo> {
  const home = homeOf(at);
  const spec = parseSchedule(input);
  const rec: ScheduleRecord = {
    spec,
    source: options.source ?? "api",
    paused: options.paused ?? false,
    next: nextTick(spec, options.now),
    waiting: [],
    pending: [],
    fired: 0,
    skipped: 0,
    failed: 0,
    createdAt: options.now,
    updatedAt: options.now,
  };
  const r = await home.backend.atomic([{ key: K.schedule(spec.name), version: null }], [
    { type: "set", key: K.schedule(spec.name), value: await sealRecord(home, rec) },
  ]);
  if (!r.ok) throw new StoreError("exists", `schedule "${spec.name}" already exists`);
  return info(rec);
}

/** Pauses a schedule: nothing fires until it is resumed; ticks waiting are dropped. */
export async function pauseSchedule(
  at: ScheduleHome | Store,
  name: string,
  now: number,
): Promise<ScheduleInfo> {
  return info(
    await update(homeOf(at), name, (r) =>
      r.paused ? undefined : {
        ...r,
        paused: true,
        skipped: r.skipped + r.waiting.length,
        waiting: [],
        updatedAt: now,
      }),
  );
}

/** Resumes a paused schedule from the first tick after `now` (ticks while paused never fire). */
export async function resumeSchedule(
  at: ScheduleHome | Store,
  name: string,
  now: number,
): Promise<ScheduleInfo> {
  return info(
    await update(
      homeOf(at),
      name,
      (r) =>
        !r.paused
          ? undefined
          : { ...r, paused: false, next: nextTick(r.spec, now), updatedAt: now },
    ),
  );
}

/** Removes a schedule; false when there was none. Ticks already fired stay applied. */
export async function removeSchedule(at: ScheduleHome | Store, name: string): Promise<boolean> {
  return await removeIf(homeOf(at), name, () => true);
}

/** Removes a schedule when `remove` holds of it as read just before the checked delete. */
async function removeIf(
  home: Home,
  name: string,
  remove: (rec: ScheduleRecord) => boolean,
): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const e = await readOne(home, name);
    if (e === null || !remove(e.rec)) return false;
    const r = await home.backend.atomic([{ key: e.key, version: e.version }], [
      { type: "delete", key: e.key },
    ]);
    if (r.ok) return true;
  }
  throw new StoreError("conflict", `schedule "${name}" kept changing while being removed`);
}

/** Options of {@linkcode syncSchedules}. */
export interface SyncOptions {
  /**
   * Remove the schedules declared in the configuration before (`source: config`) that it no
   * longer declares. Only when a configuration file was read: a runtime started without one
   * says nothing about the schedules.
   */
  prune?: boolean;
}

/**
 * Reconciles the store's schedules with those declared in `statecraft.yaml`: adds new ones,
 * updates changed definitions (keeping their counters and pause; the tick state, `next` and
 * the ticks waiting, stays when the expression and time zone are unchanged), and with
 * `prune` removes config schedules the file no longer declares. Schedules added at run time
 * (`api`, `cli`, `repl`) are never removed or changed, unless the file declares one of the
 * same name: the file then takes it over. Every write is a checked write and an unchanged
 * schedule is not written, so nodes starting with the same file at once converge without
 * fighting. In an encrypted store, records stored in clear (before encryption covered
 * schedules) are sealed. Returns what it did, one line per schedule changed.
 */
export async function syncSchedules(
  at: ScheduleHome | Store,
  specs: readonly ScheduleSpec[],
  now: number,
  options: SyncOptions = {},
): Promise<string[]> {
  const home = homeOf(at);
  const done: string[] = [];
  const declared = new Set<string>();
  for (const s of specs) {
    const spec = parseSchedule(s);
    declared.add(spec.name);
    try {
      await addSchedule(home, spec, { now, source: "config" });
      done.push(`schedule "${spec.name}" added from the configuration`);
      continue;
    } catch (e) {
      if (!(e instanceof StoreError && e.code === "exists")) throw e;
    }
    let was: ScheduleSource | undefined;
    await update(home, spec.name, (r) => {
      was = undefined; // a retry after another writer got there first starts over
      if (canonical(r.spec) === canonical(spec) && r.source === "config") return;
      was = r.source;
      const retimed = r.spec.cron !== spec.cron || r.spec.timezone !== spec.timezone;
      return {
        ...r,
        spec,
        source: "config",
        next: retimed ? nextTick(spec, now) : r.next,
        // Ticks of the old expression that had not run yet are dropped (counted as skipped).
        waiting: retimed ? [] : r.waiting,
        skipped: retimed ? r.skipped + r.waiting.length : r.skipped,
        updatedAt: now,
      };
    }).catch((e) => {
      // Removed by another writer between the add and the update: the next start adds it.
      if (!(e instanceof StoreError && e.code === "not_found")) throw e;
    });
    if (was === "config") done.push(`schedule "${spec.name}" updated from the configuration`);
    else if (was !== undefined) {
      done.push(`schedule "${spec.name}" (added by ${was}) now follows the configuration`);
    }
  }
  for (const r of await readAll(home)) {
    const name = r.rec.spec.name;
    if (options.prune === true && r.rec.source === "config" && !declared.has(name)) {
      const gone = await removeIf(
        home,
        name,
        (x) => x.source === "config" && !declared.has(x.spec.name),
      );
      if (gone) done.push(`schedule "${name}" removed: no longer in the configuration`);
      continue;
    }
    if (home.sealer !== null && !r.sealed) {
      await update(home, name, (x) => ({ ...x })).catch(() => {});
    }
  }
  return done;
}

/** JSON with object keys sorted: two definitions equal in value compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        : v,
  );
}

/**
 * A checked read-modify-write of a schedule's record, retried when another writer got there
 * first. `fn` returns the new record, or `undefined` for no change.
 */
async function update(
  home: Home,
  name: string,
  fn: (rec: ScheduleRecord) => ScheduleRecord | undefined,
): Promise<ScheduleRecord> {
  for (let i = 0; i < 50; i++) {
    const e = await readOne(home, name);
    if (e === null) throw new StoreError("not_found", `no schedule "${name}"`);
    const next = fn(e.rec);
    if (next === undefined) return e.rec;
    const r = await home.backend.atomic([{ key: e.key, version: e.version }], [
      { type: "set", key: e.key, value: await sealRecord(home, next) },
    ]);
    if (r.ok) return next;
  }
  throw new StoreError("conflict", `schedule "${name}" kept changing while being updated`);
}

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

/** Options of a `Scheduler`. */
export interface SchedulerOptions {
  /** The store: its backend holds the schedules; ticks create and send through it. */
  store: Store;
  /** The store's clock: ticks fall due on it (a `VirtualClock` in tests). */
  clock: Clock;
  /**
   * How often (real ms) the schedules are read again, to see those added or changed on other
   * nodes or by other processes (default 1,000; 0: only when woken).
   */
  refreshMs?: number;
  /**
   * Delay (on the store's clock) before a tick whose action could not reach the store is tried
   * again, and before a queued tick looks again whether the overlap is over (default 5,000).
   */
  retryMs?: number;
  /** Sends a tick's event (default `store.send`; the runtime passes its own, with hooks). */
  send?: (
    instance: string,
    event: EventObject,
    options: { eventId: string; by: string },
  ) => Promise<SendResult>;
  /** A schedule's tick failed, or its record could not be read or written. */
  onError?: (error: unknown, schedule: string) => void;
}

type Fired = { tick: number; outcome: "fired" | "duplicate" | "failed"; instance?: string } & {
  error?: string;
};

/**
 * Fires the store's schedules on the store's clock: one pass when woken (a tick falls due, a
 * schedule changes here, a partition is gained, the periodic re-read), each pass in the store's
 * background mailbox so `store.idle()` (and the testing kit) waits for it.
 *
 * @example
 * ```ts
 * import { addSchedule, Scheduler } from "./schedules.ts";
 * import { openStore } from "./store.ts";
 * import { VirtualClock } from "../core/clock.ts";
 * import { defineMachine } from "../core/machine.ts";
 * const job = defineMachine({ id: "job", initial: "run", states: { run: {} } });
 * const clock = new VirtualClock(Date.UTC(2025, 0, 1));
 * const store = await openStore({ path: ":memory:", machines: [job], clock });
 * const scheduler = new Scheduler({ store, clock, refreshMs: 0 });
 * await addSchedule(store, {
 *   name: "hourly",
 *   cron: "0 * * * *",
 *   create: { machine: "job" },
 * }, { now: clock.now() });
 * scheduler.start();
 * clock.advance(3_600_000);
 * await scheduler.idle(); // instance "hourly-20250101T010000Z" exists
 * await scheduler.stop();
 * await store.close();
 * ```
 */
export class Scheduler {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #refreshMs: number;
  readonly #retryMs: number;
  readonly #send: NonNullable<SchedulerOptions["send"]>;
  readonly #onError: NonNullable<SchedulerOptions["onError"]>;
  #timer: unknown = null;
  #timerAt = Infinity;
  #interval: ReturnType<typeof setInterval> | undefined;
  #queued = false;
  #running: Promise<void> = Promise.resolve();
  #stopped = true;
  #unlisten: (() => void) | undefined;
  readonly #home: Home;
  readonly #listeners = new Set<(names: string[]) => void>();
  /** Each schedule's stored version as the latest look saw it. */
  #seen = new Map<string, string>();
  /** The pass wrote a record (its own changes are told at its end). */
  #wrote = false;

  /** Makes a scheduler; it does nothing until `start()`. */
  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#home = homeOf(options.store);
    this.#clock = options.clock;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#retryMs = options.retryMs ?? 5000;
    this.#send = options.send ??
      ((instance, event, o) => this.#store.send(instance, event, o));
    this.#onError = options.onError ?? (() => {});
  }

  /** Starts firing: a pass now, then on each due tick and every `refreshMs`. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#unlisten = this.#store.cluster?.onGained(() => this.wake());
    if (this.#refreshMs > 0) this.#interval = setInterval(() => this.wake(), this.#refreshMs);
    this.wake();
  }

  /** The store's clock, now. */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Calls `listener` with the names of the schedules added, changed or removed since the
   * previous pass, whoever changed them (this node's ticks and API, another node, the CLI):
   * seen at the next pass (at most `refreshMs` later). Returns the unsubscribe function.
   */
  onChange(listener: (names: string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every schedule, noting (and telling listeners) which changed since the last look. */
  async #look(): Promise<ScheduleInfo[]> {
    const all = await readAll(this.#home);
    const now = new Map(all.map((r) => [r.rec.spec.name, r.version]));
    const changed = [...now].filter(([name, v]) => this.#seen.get(name) !== v).map(([n]) => n);
    for (const name of this.#seen.keys()) if (!now.has(name)) changed.push(name);
    this.#seen = now;
    if (changed.length > 0 && this.#listeners.size > 0) {
      for (const listener of this.#listeners) {
        try {
          listener(changed.sort());
        } catch (e) {
          this.#onError(e, "(schedules)");
        }
      }
    }
    return all.map((r) => info(r.rec));
  }

  /** `update` of a record by this scheduler (noted: listeners hear of it after the pass). */
  async #update(
    name: string,
    fn: (rec: ScheduleRecord) => ScheduleRecord | undefined,
  ): Promise<ScheduleRecord> {
    return await update(this.#home, name, (r) => {
      const next = fn(r);
      if (next !== undefined) this.#wrote = true;
      return next;
    });
  }

  /** Runs a pass soon (after a schedule changed here). */
  wake(): void {
    if (this.#stopped || this.#queued) return;
    this.#queued = true;
    const store = this.#store;
    const pass = () => this.#pass();
    const run = store instanceof DurableStore ? store.background("schedules", pass) : pass();
    this.#running = run.catch((e) => {
      this.#queued = false;
      if (!this.#stopped) this.#onError(e, "(schedules)");
    });
  }

  /** Resolves once the pass running or queued (and the actions it started) are done. */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.#running) {
      seen = this.#running;
      await seen;
    }
  }

  /** Stops firing and waits for the pass in progress. Ticks in flight stay pending, durable. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#interval !== undefined) clearInterval(this.#interval);
    this.#interval = undefined;
    this.#unlisten?.();
    this.#disarm();
    await this.idle();
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #arm(at: number): void {
    if (this.#stopped || at === this.#timerAt) return;
    this.#disarm();
    if (!Number.isFinite(at)) return;
    this.#timerAt = at;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.wake();
    }, Math.max(0, at - this.#clock.now()));
  }

  /** Whether this node fires `name`: alone, always; in a cluster, when it owns its partition. */
  #firesHere(name: string): boolean {
    const cluster = this.#store.cluster;
    if (cluster === undefined) return true;
    return cluster.role === "member" && cluster.owns(cluster.partitionOf(`schedule:${name}`)) !==
        undefined;
  }

  async #pass(): Promise<void> {
    this.#queued = false;
    if (this.#stopped) return;
    const now = this.#clock.now();
    let wakeAt = Infinity;
    const all = await this.#look();
    await Promise.all(all.map(async (s) => {
      try {
        wakeAt = Math.min(wakeAt, await this.#runOne(s.name, now));
      } catch (e) {
        if (this.#stopped) return;
        this.#onError(e, s.name);
        wakeAt = Math.min(wakeAt, now + this.#retryMs);
      }
    }));
    if (this.#wrote && this.#listeners.size > 0 && !this.#stopped) await this.#look();
    this.#wrote = false;
    this.#arm(wakeAt);
  }

  /** Handles one schedule at `now`; returns when it next needs a pass. */
  async #runOne(name: string, now: number): Promise<number> {
    if (!this.#firesHere(name)) return Infinity;
    let rec = (await readOne(this.#home, name))?.rec ?? null;
    if (rec === null) return Infinity;
    // 1. Ticks newly due: chosen by the catch-up policy into `waiting`; `next` moves on.
    if (!rec.paused && rec.next !== null && rec.next <= now) {
      rec = await this.#update(name, (r) => plan(r, now));
    }
    // 2. Ticks fired before and not acknowledged (a crash, a takeover, the store unreachable).
    let blocked = false;
    for (const tick of rec.pending) {
      const r = await this.#fire(rec.spec, tick);
      if (r === null) {
        blocked = true;
        break;
      }
      rec = await this.#update(name, (x) => acknowledge(x, r, now));
    }
    // 3. Ticks waiting, in order, each past the overlap policy.
    while (!rec.paused && rec.waiting.length > 0 && !this.#stopped) {
      const tick = rec.waiting[0];
      const busy = blocked || await this.#overlaps(rec);
      if (busy && rec.spec.overlap === "skip") {
        rec = await this.#update(name, (x) =>
          x.waiting[0] !== tick ? undefined : {
            ...x,
            waiting: x.waiting.slice(1),
            skipped: x.skipped + 1,
            updatedAt: now,
          });
        continue;
      }
      if (busy && rec.spec.overlap === "queue") break;
      let moved = false;
      rec = await this.#update(name, (x) => {
        if (x.paused || x.waiting[0] !== tick) return;
        moved = true;
        return { ...x, waiting: x.waiting.slice(1), pending: [...x.pending, tick], updatedAt: now };
      });
      if (!moved) continue;
      const r = await this.#fire(rec.spec, tick);
      if (r === null) {
        blocked = true;
        continue;
      }
      rec = await this.#update(name, (x) => acknowledge(x, r, now));
    }
    const again = blocked || (rec.waiting.length > 0 && !rec.paused);
    return Math.min(
      rec.paused || rec.next === null ? Infinity : rec.next,
      again ? now + this.#retryMs : Infinity,
    );
  }

  /** Whether the previous tick's work is not over (see docs/operations.md). */
  async #overlaps(rec: ScheduleRecord): Promise<boolean> {
    if (rec.pending.length > 0) return true;
    if (rec.spec.create === undefined || rec.lastInstance === undefined) return false;
    const last = await this.#store.get(rec.lastInstance);
    return last !== null && last.status === "active" && !last.archived;
  }

  /** Runs a tick's action; `null` when it could not reach the store (try again later). */
  async #fire(spec: ScheduleSpec, tick: number): Promise<Fired | null> {
    const eventId = tickId(spec.name, tick);
    const by = `schedule:${spec.name}`;
    try {
      if (spec.create !== undefined) {
        const made: InstanceInfo = await this.#store.create(
          spec.create.machine,
          tickInstanceId(spec, tick),
          { context: spec.create.context, by, eventId },
        );
        return { tick, outcome: made.duplicate ? "duplicate" : "fired", instance: made.id };
      }
      const send = spec.send!;
      const event = { ...send.event, schedule: spec.name, tick: new Date(tick).toISOString() };
      const r = await this.#send(send.instance, event, { eventId, by });
      return { tick, outcome: r.duplicate ? "duplicate" : "fired", instance: send.instance };
    } catch (e) {
      if (transient(e) || this.#stopped) {
        if (!this.#stopped) this.#onError(e, spec.name);
        return null;
      }
      this.#onError(e, spec.name);
      const instance = spec.create !== undefined ? tickInstanceId(spec, tick) : spec.send!.instance;
      return {
        tick,
        outcome: "failed",
        instance,
        error: e instanceof Error ? e.message : String(e),
      };
    }
  }
}

/**
 * Errors after which a tick's action is tried again: the store could not be reached. Anything
 * else (an unknown machine or instance, an event the engine refuses, an ended instance) fails
 * the tick: it is recorded, not retried.
 */
function transient(e: unknown): boolean {
  if (e instanceof BackendUnavailableError) return true;
  if (e instanceof StoreError) {
    return e.code === "unavailable" || e.code === "conflict" || e.code === "not_owner";
  }
  return false;
}

/** The ticks due by `now` chosen by the catch-up policy, appended to `waiting`. */
function plan(r: ScheduleRecord, now: number): ScheduleRecord | undefined {
  if (r.paused || r.next === null || r.next > now) return;
  const s = r.spec;
  const { ticks, count } = ticksBetween(s, r.next, now, 1000);
  const onTime = ticks.filter((t) => now - t <= s.graceMs);
  const missed = ticks.filter((t) => now - t > s.graceMs);
  const caught = s.catchUp === "all"
    ? missed.slice(-s.maxCatchUp)
    : s.catchUp === "last"
    ? missed.slice(-1)
    : [];
  let waiting = [...r.waiting, ...caught, ...onTime];
  let skipped = r.skipped + (count - caught.length - onTime.length);
  const cap = s.overlap === "queue" ? s.maxQueued : 1000;
  if (waiting.length > cap) {
    skipped += waiting.length - cap;
    waiting = waiting.slice(-cap);
  }
  return { ...r, waiting, skipped, next: nextTick(s, now), updatedAt: now };
}

/** A tick's action answered: out of `pending`, counted, remembered. */
function acknowledge(r: ScheduleRecord, f: Fired, now: number): ScheduleRecord | undefined {
  if (!r.pending.includes(f.tick)) return;
  const failed = f.outcome === "failed";
  const last: TickOutcome = { tick: f.tick, at: now, outcome: f.outcome };
  if (f.instance !== undefined) last.instance = f.instance;
  if (f.error !== undefined) last.error = f.error;
  const out: ScheduleRecord = {
    ...r,
    pending: r.pending.filter((t) => t !== f.tick),
    fired: r.fired + (failed ? 0 : 1),
    failed: r.failed + (failed ? 1 : 0),
    last,
    updatedAt: now,
  };
  if (!failed && r.spec.create !== undefined && f.instance !== undefined) {
    out.lastInstance = f.instance;
  }
  return out;
}
