/**
 * The `Scheduler` (one per live runtime): fires the store's schedules on the store's clock.
 *
 * - **Once.** A tick's action carries an id made of the schedule's name and the tick's time
 *   (`sch:<name>:<tick>`): the event id of a send, the idempotency key of a create. A tick is
 *   moved to `pending` before its action runs and out of it once acknowledged, each move a
 *   checked write of the record; a tick still pending after a crash or a takeover is fired
 *   again under the same id, which the store answers as a duplicate.
 * - **One node.** In cluster mode only the owner of the partition `schedule:<name>` hashes to
 *   fires the schedule; on takeover the new owner runs what is due at once.
 * - **Policies.** Ticks due are chosen by the catch-up policy (`plan`) and run past the overlap
 *   policy; each answered action is counted (`acknowledge`).
 *
 * See docs/operations.md, "Schedules".
 *
 * @module
 */
import type { Clock, EventObject } from "../core/types.ts";
import { BackendUnavailableError } from "./backend.ts";
import {
  type Home,
  homeOf,
  info,
  readAll,
  readOne,
  type ScheduleInfo,
  type ScheduleRecord,
  type TickOutcome,
  update,
} from "./schedule_records.ts";
import { nextTick, type ScheduleSpec, tickLabel, ticksBetween } from "./schedule_spec.ts";
import { DurableStore } from "./store.ts";
import { type InstanceInfo, type SendResult, type Store, StoreError } from "./types.ts";

/** The stable id of a tick's action: a send's event id, a create's idempotency key. */
export function tickId(name: string, tick: number): string {
  return `sch:${name}:${tick}`;
}

/** The instance a create tick makes: the template's `{schedule}` and `{tick}` filled in. */
export function tickInstanceId(spec: ScheduleSpec, tick: number): string {
  const template = spec.create?.id ?? "{schedule}-{tick}";
  return template.replaceAll("{schedule}", spec.name).replaceAll("{tick}", tickLabel(tick));
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
