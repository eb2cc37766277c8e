/**
 * Schedule records and their storage. A schedule's record (`["sc","sched", name]`) holds its
 * definition, the next tick not yet handled, the ticks chosen to run (`waiting`) and those
 * fired but not yet acknowledged (`pending`). Every change is a checked write of the record,
 * retried when another writer got there first. In an encrypted store each record is sealed with
 * the store's key (its `Records` codec), like journal entries.
 *
 * The operations here (add, get, list, pause, resume, remove) are re-exported by
 * `schedules.ts`; the storage helpers (`homeOf`, `readOne`, `readAll`, `update`, `removeIf`)
 * serve the other schedule modules (`schedule_sync.ts`, `scheduler.ts`, `schedules.ts`) and are
 * not re-exported.
 *
 * @module
 */
import type { KvBackend, KvKey } from "./backend.ts";
import { StoreDataError } from "./codec.ts";
import { K } from "./keys.ts";
import { nextTick, parseSchedule, type ScheduleSpec } from "./schedule_spec.ts";
import { DurableStore } from "./store.ts";
import { type Store, StoreError } from "./types.ts";

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

/** A record as listings show it: with its name. */
export function info(rec: ScheduleRecord): ScheduleInfo {
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

/** A `ScheduleHome` resolved: the sealer is `null` when records are stored in clear. */
export type Home = { backend: KvBackend; sealer: ScheduleSealer | null };

/** Where the schedules of `at` are, and whether their records are sealed. */
export function homeOf(at: ScheduleHome | Store): Home {
  if (at instanceof DurableStore) {
    return { backend: at.backend, sealer: at.records.encrypted ? at.records : null };
  }
  const sealer = (at as ScheduleHome).sealer ?? null;
  return { backend: at.backend, sealer: sealer?.encrypted ? sealer : null };
}

/** A record read, with what a checked write of it needs. */
export interface ScheduleRead {
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

/** One schedule's record as stored, or `null`. */
export async function readOne(home: Home, name: string): Promise<ScheduleRead | null> {
  const e = await home.backend.get(K.schedule(name));
  if (e.value === null || e.version === null) return null;
  const rec = await openRecord(home, e.value, name);
  return { rec, key: e.key, version: e.version, sealed: isSealed(e.value) };
}

/** Every schedule's record as stored, by name. */
export async function readAll(home: Home): Promise<ScheduleRead[]> {
  const out: ScheduleRead[] = [];
  for await (const e of home.backend.list({ prefix: K.schedulePrefix() })) {
    if (e.value === null || e.version === null) continue;
    const name = String(e.key[e.key.length - 1]);
    const rec = await openRecord(home, e.value, name);
    out.push({ rec, key: e.key, version: e.version, sealed: isSealed(e.value) });
  }
  return out;
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
export async function removeIf(
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

/**
 * A checked read-modify-write of a schedule's record, retried when another writer got there
 * first. `fn` returns the new record, or `undefined` for no change.
 */
export async function update(
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
