/**
 * Durable machine instances on Deno KV. Every instance the store runs lives here: one atomic
 * commit per macrostep (snapshot + journal entry + index changes, checked against the
 * instance's versionstamp), acknowledged only once durable, never applied twice.
 *
 * @module
 */
import type { Machine } from "../core/machine.ts";
import type {
  AsyncDelivery,
  Clock,
  EventObject,
  MachineInstance,
  Snapshot,
} from "../core/types.ts";
import { SystemClock } from "../core/clock.ts";
import { EventError, SnapshotError } from "../core/errors.ts";
import { K } from "./keys.ts";
import {
  chunk,
  decodeValue,
  decrypt,
  encodeValue,
  encrypt,
  importKey,
  INLINE_BYTES,
  join,
  StoreDataError,
} from "./codec.ts";
import { type CommitResult, GroupCommitter, type Mutation, withLockRetry } from "./group_commit.ts";

// deno-lint-ignore no-explicit-any
type AnyMachine = Machine<any, any>;
// deno-lint-ignore no-explicit-any
type AnyInstance = MachineInstance<any, any>;

/** Options for `openStore`. */
export interface OpenStoreOptions {
  /**
   * A file path (default `.statecraft/state.kv`), `":memory:"`, or a KV Connect URL (a remote
   * Deno KV: self-hosted denokv or Deno Deploy; the token comes from `DENO_KV_ACCESS_TOKEN`).
   */
  path?: string;
  /** The machines instances may use. */
  machines: AnyMachine[];
  /** Encrypts snapshots and journal values at rest (AES-256-GCM). */
  encryptionKey?: string;
  /** Time source for timers and timestamps (default: the system clock). */
  clock?: Clock;
  /**
   * `"live"` (default): instances run their timers and invocations. `"inspect"`: for tools
   * (the `kv` CLI): nothing fires; reads, checkpoints and rollbacks still work.
   */
  mode?: "live" | "inspect";
  /** A checkpoint is written automatically every this many journal entries (default 500). */
  checkpointEvery?: number;
  /** How often durable timers of instances not in memory are looked for (default 250 ms). */
  timerPollMs?: number;
  /** Retries after a versionstamp conflict before giving up (default 50). */
  maxRetries?: number;
  /** Instances kept in memory (default 10,000; least recently used go first). */
  cacheSize?: number;
  /** Where errors of background work (timers, invocations) go; default `console.error`. */
  onError?: (error: Error, instanceId: string) => void;
  /** Sends from machines to targets the engine does not know (plugins, later). */
  onSend?: (target: string, event: EventObject, from: AnyInstance) => void;
  /**
   * Called after each commit of applied events (never before they are durable): the instance,
   * its configuration before, and the journal entries committed (each with the configuration
   * it produced). For the bus, hooks, and watchers.
   */
  onCommit?: (commit: CommitInfo) => void;
}

/** What `onCommit` receives. */
export interface CommitInfo {
  id: string;
  machine: string;
  /** The configuration before the first entry. */
  from: string[];
  entries: JournalEntry[];
}

/** What the store knows of an instance. */
export interface InstanceInfo {
  id: string;
  machine: string;
  status: "active" | "done" | "stopped";
  archived: boolean;
  /** Journal entries so far (0 after create). */
  seq: number;
  configuration: string[];
  context: unknown;
  createdAt: number;
  updatedAt: number;
  version?: string | number;
  /** When the stored snapshot failed its integrity check and was rebuilt. */
  recoveredAt?: number;
}

/** The acknowledgement of an event. */
export interface SendResult {
  id: string;
  seq: number;
  configuration: string[];
  status: "active" | "done" | "stopped";
  /** True when the event id had been applied before: nothing was applied now. */
  duplicate: boolean;
}

/** A journal entry. */
export interface JournalEntry {
  seq: number;
  time: number;
  kind:
    | "create"
    | "event"
    | "timer"
    | "invoke"
    | "rollback"
    | "migration"
    | "recovery"
    | "archive"
    | "unarchive";
  /** Who or what sent it: `"api"` unless the caller said, `"timer"`, `"invoke"`... */
  by: string;
  event?: EventObject;
  eventId?: string;
  /** Invoke path of the receiving child machine, for timers and invocation results. */
  path?: string[];
  sendId?: string;
  /** Timers: the due time of the timer that fired. */
  due?: number;
  /** create: the context overrides. */
  context?: unknown;
  /** rollback: the seq rolled back to; migration: versions. */
  to?: number;
  from?: string | number;
  toVersion?: string | number;
  configuration: string[];
  status: string;
}

/** Filters for `list`. */
export interface ListOptions {
  machine?: string;
  /** An active state id (any level of the configuration). */
  state?: string;
  status?: "active" | "done" | "stopped" | "archived";
  updatedAfter?: number;
  limit?: number;
  cursor?: string;
}

/** A page of `list`. */
export interface ListPage {
  items: InstanceInfo[];
  /** Pass back for the next page; absent on the last page. */
  cursor?: string;
}

/** A checkpoint. */
export interface CheckpointInfo {
  seq: number;
  label?: string;
  time: number;
}

/** One line of an export (`kv export`): an instance, one of its journal entries, a checkpoint. */
export type ExportRecord =
  | {
    type: "instance";
    format: "statecraft.export/1";
    id: string;
    machine: string;
    status: "active" | "done" | "stopped";
    archived: boolean;
    seq: number;
    createdAt: number;
    updatedAt: number;
    version?: string | number;
    snapshot: Snapshot;
  }
  | { type: "journal"; id: string; entry: JournalEntry }
  | {
    type: "checkpoint";
    id: string;
    seq: number;
    label?: string;
    time: number;
    snapshot: Snapshot;
  };

/** Errors a caller can act on: unknown instance, archived, conflicts, bad input. */
export class StoreError extends Error {
  /** `not_found`, `exists`, `archived`, `conflict`, `invalid`, `incompatible`, `too_large`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
  }
}

interface TimerRef {
  due: number;
  ref: string;
}

interface InstanceRecord {
  id: string;
  machine: string;
  status: "active" | "done" | "stopped";
  archived: boolean;
  seq: number;
  createdAt: number;
  updatedAt: number;
  hash: string;
  version?: string | number;
  configuration: string[];
  sha256: string;
  inline?: Uint8Array;
  chunks: number;
  timers: TimerRef[];
  lastCheckpoint: number;
  recoveredAt?: number;
}

interface CheckpointRecord {
  seq: number;
  label?: string;
  time: number;
  sha256: string;
  inline?: Uint8Array;
  chunks: number;
}

interface Loaded {
  rec: InstanceRecord;
  versionstamp: string;
  instance: AnyInstance;
  machine: AnyMachine;
}

/** An operation applied to an instance in its mailbox. */
interface Operation {
  kind: "event" | "timer" | "invoke";
  event: EventObject;
  eventId?: string;
  by: string;
  path?: string[];
  sendId?: string;
  run?: () => boolean;
  /** The event's JSON size, when known (sizes the commit without serialising twice). */
  bytes?: number;
  /** Timers: the due time of the timer that fired. */
  due?: number;
}

/** A send waiting in an instance's mailbox. */
interface QueuedSend {
  op: Operation;
  resolve(result: SendResult): void;
  reject(error: unknown): void;
  settled: boolean;
  /** How it was settled, for a later send of the same event id in the same batch. */
  outcome?: { result?: SendResult; error?: unknown };
}

/** A mailbox job: a send (batchable) or any other task, run alone. */
interface Job {
  send?: QueuedSend;
  run?: () => Promise<void>;
}

/** Sends committed together at most (each adds a journal entry and maybe an id record). */
const MAX_BATCH = 64;
/** Event bytes committed together at most (KV allows 800 KiB an operation). */
const MAX_BATCH_BYTES = 300_000;

/** Jittered exponential backoff: up to 2^attempt ms, capped at 100 ms. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** Math.min(attempt, 7));
  return new Promise((r) => setTimeout(r, ms));
}

function settle(item: QueuedSend, error: unknown, result?: SendResult): void {
  if (item.settled) return;
  item.settled = true;
  item.outcome = result !== undefined ? { result } : { error };
  if (result !== undefined) item.resolve(result);
  else item.reject(error ?? new Error("send was not applied"));
}

/** A second send of an event id in one batch gets the first one's outcome. */
function settleEcho(item: QueuedSend, of: QueuedSend): void {
  const outcome = of.outcome;
  if (outcome?.result !== undefined) settle(item, null, { ...outcome.result, duplicate: true });
  else {settle(
      item,
      outcome?.error ?? new StoreError("conflict", "the first send of this id failed"),
    );}
}

/**
 * The clock instances of a store run on: the configured clock, except that while a batch is
 * applied `now()` is frozen at the batch's journal time.
 */
class StoreClock implements Clock {
  readonly #base: Clock;
  #frozen: number | null = null;
  constructor(base: Clock) {
    this.#base = base;
  }
  now(): number {
    return this.#frozen ?? this.#base.now();
  }
  setTimer(fn: () => void, ms: number): unknown {
    return this.#base.setTimer(fn, ms);
  }
  clearTimer(handle: unknown): void {
    this.#base.clearTimer(handle);
  }
  freeze(time: number): void {
    this.#frozen = time;
  }
  thaw(): void {
    this.#frozen = null;
  }
}

/** A clock for journal replay: time is set per entry; timers never fire. */
class ReplayClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimer(): unknown {
    return null;
  }
  clearTimer(): void {}
}

const encoder = new TextEncoder();
const MAX_EVENT_BYTES = 60_000;

/**
 * Opens a store: a local KV file (created with its folder), `":memory:"`, or a KV Connect URL.
 * Opening reads one record, whatever the number of instances: instances load lazily.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "./store.ts";
 * const store = await openStore({ path: ":memory:", machines: [door] });
 * await store.create("door", "front");
 * await store.send("front", { type: "OPEN" }, { eventId: "evt-1" });
 * ```
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const path = options.path ?? ".statecraft/state.kv";
  const remote = /^https?:\/\//.test(path);
  if (!remote && path !== ":memory:") {
    const slash = path.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  }
  const kv = await withLockRetry(() => Deno.openKv(path === ":memory:" ? ":memory:" : path));
  try {
    const key = options.encryptionKey === undefined ? null : await importKey(options.encryptionKey);
    await checkFormat(kv, key, path);
    return new Store(kv, key, options, path);
  } catch (e) {
    kv.close();
    throw e;
  }
}

async function checkFormat(kv: Deno.Kv, key: CryptoKey | null, path: string): Promise<void> {
  const existing = await withLockRetry(() =>
    kv.get<{ version: number; check: Uint8Array | null }>(K.format())
  );
  if (existing.value === null) {
    const check = key === null ? null : await encrypt(key, encoder.encode("statecraft"));
    const r = await withLockRetry(() =>
      kv.atomic().check({ key: K.format(), versionstamp: null }).set(K.format(), {
        version: 1,
        check,
      })
        .commit()
    );
    if (r.ok) return;
    return await checkFormat(kv, key, path); // another process wrote it first
  }
  const { version, check } = existing.value;
  if (version !== 1) throw new StoreDataError(`store ${path}: unknown format version ${version}`);
  if (check === null && key !== null) {
    throw new StoreDataError(`store ${path} is not encrypted; open it without an encryption key`);
  }
  if (check !== null && key === null) {
    throw new StoreDataError(`store ${path} is encrypted; open it with its encryption key`);
  }
  if (check !== null && key !== null) {
    try {
      await decrypt(key, check, `store ${path}`);
    } catch {
      throw new StoreDataError(`store ${path}: wrong encryption key`);
    }
  }
}

/** A Statecraft store: durable instances in Deno KV. Created by `openStore`. */
export class Store {
  readonly path: string;
  readonly #kv: Deno.Kv;
  readonly #key: CryptoKey | null;
  readonly #options: OpenStoreOptions;
  readonly #clock: StoreClock;
  readonly #live: boolean;
  readonly #machines = new Map<string, AnyMachine>();
  readonly #cache = new Map<string, Loaded>();
  /** Per instance: the jobs waiting; present while the instance's mailbox is being drained. */
  readonly #mailboxes = new Map<string, Job[]>();
  readonly #running = new Set<Promise<void>>();
  readonly #committer: GroupCommitter;
  #poller: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @internal Use `openStore`. */
  constructor(kv: Deno.Kv, key: CryptoKey | null, options: OpenStoreOptions, path: string) {
    this.#kv = kv;
    this.#key = key;
    this.#options = options;
    this.path = path;
    this.#clock = new StoreClock(options.clock ?? new SystemClock());
    this.#live = (options.mode ?? "live") === "live";
    this.#committer = new GroupCommitter(kv);
    for (const m of options.machines) {
      if (this.#machines.has(m.id)) {
        throw new StoreError("invalid", `two machines registered with the id "${m.id}"`);
      }
      this.#machines.set(m.id, m);
    }
    if (this.#live) this.#schedulePoll(0);
  }

  /** Group-commit counters: KV operations sent and instance commits they carried. */
  get commitStats(): { operations: number; commits: number } {
    return { ...this.#committer.stats };
  }

  /** The underlying KV handle (for plugins' namespaces and tools). */
  get kv(): Deno.Kv {
    return this.#kv;
  }

  // ---------------------------------------------------------------------------------------
  // Instances

  /** Creates and starts an instance; resolves once it is durable. */
  create(
    machineId: string,
    instanceId: string,
    options: { context?: Record<string, unknown>; by?: string } = {},
  ): Promise<InstanceInfo> {
    const bad = idProblem(instanceId);
    if (bad !== null) return Promise.reject(bad);
    const machine = this.#machines.get(machineId);
    if (machine === undefined) {
      return Promise.reject(
        new StoreError(
          "invalid",
          `unknown machine "${machineId}" (registered: ${
            [...this.#machines.keys()].join(", ") || "none"
          })`,
        ),
      );
    }
    return this.#enqueue(instanceId, async () => {
      const time = this.#clock.now();
      this.#clock.freeze(time);
      let instance: AnyInstance;
      try {
        instance = machine.start({
          ...(this.#live ? this.#instanceOptions(instanceId) : this.#inertOptions(instanceId)),
          context: options.context,
        });
      } finally {
        this.#clock.thaw();
      }
      const snap = instance.snapshot();
      const rec: InstanceRecord = {
        id: instanceId,
        machine: machineId,
        status: snap.status,
        archived: false,
        seq: 0,
        createdAt: time,
        updatedAt: time,
        hash: machine.hash,
        configuration: snap.configuration,
        sha256: "",
        chunks: 0,
        timers: [],
        lastCheckpoint: 0,
      };
      if (machine.version !== undefined) rec.version = machine.version;
      const entry: JournalEntry = {
        seq: 0,
        time,
        kind: "create",
        by: options.by ?? "api",
        configuration: snap.configuration,
        status: snap.status,
      };
      if (options.context !== undefined) entry.context = options.context;
      const mutations: Mutation[] = [];
      await this.#writeSnapshot(rec, null, snap, mutations);
      await this.#writeCheckpoint(instanceId, 0, undefined, time, snap, mutations);
      mutations.push({
        type: "set",
        key: K.journal(instanceId, 0),
        value: await this.#sealJournal(entry),
      });
      this.#indexChanges(null, rec, mutations);
      const result = await this.#committer.commit({
        checks: [{ key: K.inst(instanceId), versionstamp: null }],
        mutations,
        size: estimate(mutations),
      });
      if (!result.ok) {
        instance.stop();
        throw new StoreError("exists", `instance "${instanceId}" already exists`);
      }
      this.#remember({ rec, versionstamp: result.versionstamp, instance, machine });
      this.#notify(instanceId, machineId, [], [entry]);
      return this.#info(rec, instance);
    });
  }

  /**
   * Sends an event; resolves with the resulting configuration once the macrostep's result is
   * committed. An `eventId` already applied to this instance is acknowledged with the original
   * result and not applied again.
   */
  send(
    instanceId: string,
    event: EventObject | string,
    options: { eventId?: string; by?: string } = {},
  ): Promise<SendResult> {
    const ev = typeof event === "string" ? { type: event } : event;
    if (typeof ev !== "object" || ev === null || typeof ev.type !== "string" || ev.type === "") {
      return Promise.reject(new EventError(`send: an event needs a non-empty string "type"`));
    }
    const bytes = encoder.encode(JSON.stringify(ev)).length;
    if (bytes > MAX_EVENT_BYTES) {
      return Promise.reject(
        new StoreError(
          "too_large",
          `event "${ev.type}" is ${bytes} bytes; at most ${MAX_EVENT_BYTES}`,
        ),
      );
    }
    return this.#enqueueSend(instanceId, {
      kind: "event",
      event: ev,
      eventId: options.eventId,
      by: options.by ?? "api",
      bytes,
    });
  }

  /** The instance's state, or `null` if there is no such instance. */
  async get(instanceId: string): Promise<InstanceInfo | null> {
    try {
      return await this.#enqueue(instanceId, async () => {
        const cached = this.#cache.get(instanceId);
        if (cached !== undefined) {
          // Another process may have moved it: one read tells.
          const current = await withLockRetry(() => this.#kv.get(K.inst(instanceId)));
          if (current.versionstamp !== cached.versionstamp) this.#evict(instanceId);
        }
        const loaded = await this.#load(instanceId);
        return this.#info(loaded.rec, loaded.instance);
      });
    } catch (e) {
      if (e instanceof StoreError && e.code === "not_found") return null;
      throw e;
    }
  }

  /** Lists instances through secondary indexes (never a scan of all instances when filtered). */
  async list(options: ListOptions = {}): Promise<ListPage> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
    let selector: Deno.KvListSelector;
    let idAt: number;
    if (options.state !== undefined) {
      selector = options.machine !== undefined
        ? { prefix: ["sc", "ixs", options.state, options.machine] }
        : { prefix: ["sc", "ixs", options.state] };
      idAt = 4;
    } else if (options.machine !== undefined) {
      selector = { prefix: ["sc", "ixm", options.machine] };
      idAt = 3;
    } else if (options.status !== undefined) {
      selector = { prefix: ["sc", "ixt", options.status] };
      idAt = 3;
    } else if (options.updatedAfter !== undefined) {
      selector = {
        prefix: ["sc", "ixu"],
        start: ["sc", "ixu", Math.floor(options.updatedAfter / 1000)],
      };
      idAt = 3;
    } else {
      selector = { prefix: K.instPrefix() };
      idAt = 2;
    }
    const items: InstanceInfo[] = [];
    const iter = this.#kv.list<unknown>(selector, {
      cursor: options.cursor,
      batchSize: Math.min(limit * 2, 500),
    });
    let cursor: string | undefined;
    for await (const entry of iter) {
      const id = entry.key[idAt] as string;
      const recEntry = await withLockRetry(() => this.#kv.get<InstanceRecord>(K.inst(id)));
      const rec = recEntry.value;
      cursor = iter.cursor;
      if (rec === null) continue;
      if (options.machine !== undefined && rec.machine !== options.machine) continue;
      if (options.status === "archived" ? !rec.archived : rec.archived) continue;
      if (
        options.status !== undefined && options.status !== "archived" &&
        rec.status !== options.status
      ) continue;
      if (options.updatedAfter !== undefined && rec.updatedAt <= options.updatedAfter) continue;
      const cached = this.#cache.get(id);
      items.push(
        this.#info(
          rec,
          cached?.instance,
          cached === undefined ? await this.#readContext(rec) : undefined,
        ),
      );
      if (items.length >= limit) {
        return { items, cursor };
      }
    }
    return { items };
  }

  /** The journal of an instance, from `from` (a seq, default 0), at most `limit` entries. */
  async history(
    instanceId: string,
    options: { from?: number; limit?: number } = {},
  ): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 100_000));
    const iter = this.#kv.list<unknown>({
      prefix: K.journalPrefix(instanceId),
      start: K.journal(instanceId, options.from ?? 0),
    }, { limit });
    for await (const entry of iter) out.push(await this.#openJournal(entry.value, instanceId));
    if (
      out.length === 0 &&
      (await withLockRetry(() => this.#kv.get(K.inst(instanceId)))).value === null
    ) {
      throw new StoreError("not_found", `no instance "${instanceId}"`);
    }
    return out;
  }

  /** Records a checkpoint of the current state, optionally labelled. */
  checkpoint(instanceId: string, label?: string): Promise<CheckpointInfo> {
    if (label !== undefined && (label === "" || /^\d+$/.test(label))) {
      return Promise.reject(
        new StoreError(
          "invalid",
          `a checkpoint label must be non-empty and not a number: "${label}"`,
        ),
      );
    }
    return this.#enqueue(instanceId, async () => {
      for (let attempt = 0;; attempt++) {
        const loaded = await this.#load(instanceId);
        const time = this.#clock.now();
        const snap = loaded.instance.snapshot();
        const mutations: Mutation[] = [];
        const checks: Deno.AtomicCheck[] = [{
          key: K.inst(instanceId),
          versionstamp: loaded.versionstamp,
        }];
        if (label !== undefined) {
          checks.push({ key: K.ckptLabel(instanceId, label), versionstamp: null });
        }
        await this.#writeCheckpoint(instanceId, loaded.rec.seq, label, time, snap, mutations);
        const rec = { ...loaded.rec, lastCheckpoint: loaded.rec.seq };
        mutations.push({ type: "set", key: K.inst(instanceId), value: rec });
        const result = await this.#committer.commit({
          checks,
          mutations,
          size: estimate(mutations),
        });
        if (result.ok) {
          loaded.rec = rec;
          loaded.versionstamp = result.versionstamp;
          return label === undefined ? { seq: rec.seq, time } : { seq: rec.seq, label, time };
        }
        if (label !== undefined) {
          const taken = await withLockRetry(() => this.#kv.get(K.ckptLabel(instanceId, label)));
          if (taken.value !== null) {
            throw new StoreError(
              "exists",
              `instance "${instanceId}" already has a checkpoint "${label}"`,
            );
          }
        }
        this.#evict(instanceId);
        if (attempt >= this.#maxRetries) throw this.#conflict(instanceId);
      }
    });
  }

  /** The checkpoints of an instance, oldest first. */
  async checkpoints(instanceId: string): Promise<CheckpointInfo[]> {
    const out: CheckpointInfo[] = [];
    for await (const e of this.#kv.list<CheckpointRecord>({ prefix: K.ckptPrefix(instanceId) })) {
      const c: CheckpointInfo = { seq: e.value.seq, time: e.value.time };
      if (e.value.label !== undefined) c.label = e.value.label;
      out.push(c);
    }
    return out;
  }

  /**
   * Moves an instance back to its state after journal entry `seq`, or at a checkpoint. The
   * rollback itself is a journal entry: nothing is erased.
   */
  rollback(
    instanceId: string,
    target: { seq: number } | { checkpoint: string },
    options: { by?: string } = {},
  ): Promise<InstanceInfo> {
    return this.#enqueue(instanceId, async () => {
      let seq: number;
      if ("checkpoint" in target) {
        const labelled = await withLockRetry(() =>
          this.#kv.get<number>(K.ckptLabel(instanceId, target.checkpoint))
        );
        if (labelled.value === null) {
          throw new StoreError(
            "not_found",
            `instance "${instanceId}" has no checkpoint "${target.checkpoint}"`,
          );
        }
        seq = labelled.value;
      } else seq = target.seq;
      for (let attempt = 0;; attempt++) {
        const loaded = await this.#load(instanceId);
        if (!Number.isInteger(seq) || seq < 0 || seq > loaded.rec.seq) {
          throw new StoreError(
            "invalid",
            `instance "${instanceId}" has journal entries 0..${loaded.rec.seq}; cannot roll back to ${seq}`,
          );
        }
        const snap = await this.#stateAt(instanceId, loaded.machine, seq);
        const ok = await this.#commitReplacement(loaded, snap, {
          kind: "rollback",
          by: options.by ?? "api",
          to: seq,
        });
        if (ok !== null) return ok;
        if (attempt >= this.#maxRetries) throw this.#conflict(instanceId);
      }
    });
  }

  /** Archives an instance: it keeps its data, stops running and leaves default listings. */
  archive(instanceId: string, options: { by?: string } = {}): Promise<InstanceInfo> {
    return this.#setArchived(instanceId, true, options.by ?? "api");
  }

  /** Brings an archived instance back. */
  unarchive(instanceId: string, options: { by?: string } = {}): Promise<InstanceInfo> {
    return this.#setArchived(instanceId, false, options.by ?? "api");
  }

  /** Deletes an instance and everything stored for it. */
  delete(instanceId: string): Promise<boolean> {
    return this.#enqueue(instanceId, async () => {
      const existing = await withLockRetry(() => this.#kv.get<InstanceRecord>(K.inst(instanceId)));
      if (existing.value === null) return false;
      this.#evict(instanceId);
      const rec = existing.value;
      const keys: Deno.KvKey[] = [K.inst(instanceId)];
      const mutations: Mutation[] = [];
      this.#indexChanges(rec, null, mutations);
      for (const m of mutations) keys.push(m.key);
      for (
        const prefix of [
          K.snapPrefix(instanceId),
          K.journalPrefix(instanceId),
          K.eidPrefix(instanceId),
          K.ckptPrefix(instanceId),
          K.ckptChunkPrefix(instanceId),
          K.ckptLabelPrefix(instanceId),
        ]
      ) {
        for await (const e of this.#kv.list({ prefix })) keys.push(e.key);
      }
      for (let i = 0; i < keys.length; i += 1000) {
        const op = this.#kv.atomic();
        for (const k of keys.slice(i, i + 1000)) op.delete(k);
        await withLockRetry(() => op.commit());
      }
      return true;
    });
  }

  /** The current snapshot of an instance (what `machine.restore` takes). */
  snapshot(instanceId: string): Promise<Snapshot> {
    return this.#enqueue(
      instanceId,
      async () => (await this.#load(instanceId)).instance.snapshot(),
    );
  }

  /**
   * Every stored instance as export records, in order: its `instance` record (with the
   * current snapshot), then its `journal` entries, then its `checkpoint`s. Values come out
   * decrypted: an export of an encrypted store is plaintext.
   */
  async *export(options: { machine?: string } = {}): AsyncGenerator<ExportRecord> {
    const selector = options.machine === undefined
      ? { prefix: K.instPrefix() }
      : { prefix: ["sc", "ixm", options.machine] };
    const idAt = options.machine === undefined ? 2 : 3;
    for await (const e of this.#kv.list<unknown>(selector)) {
      const id = e.key[idAt] as string;
      const recEntry = await withLockRetry(() => this.#kv.get<InstanceRecord>(K.inst(id)));
      const rec = recEntry.value;
      if (rec === null) continue;
      const machine = this.#machines.get(rec.machine);
      let snapshot: Snapshot;
      try {
        snapshot = await this.#readSnapshot(rec);
      } catch (err) {
        if (!(err instanceof StoreDataError) || machine === undefined) throw err;
        snapshot = await this.#stateAt(id, machine, rec.seq);
      }
      const head: ExportRecord = {
        type: "instance",
        format: "statecraft.export/1",
        id,
        machine: rec.machine,
        status: rec.status,
        archived: rec.archived,
        seq: rec.seq,
        createdAt: rec.createdAt,
        updatedAt: rec.updatedAt,
        snapshot,
      };
      if (rec.version !== undefined) head.version = rec.version;
      yield head;
      for await (const j of this.#kv.list<unknown>({ prefix: K.journalPrefix(id) })) {
        yield { type: "journal", id, entry: await this.#openJournal(j.value, id) };
      }
      for await (const c of this.#kv.list<CheckpointRecord>({ prefix: K.ckptPrefix(id) })) {
        const rec2: ExportRecord = {
          type: "checkpoint",
          id,
          seq: c.value.seq,
          time: c.value.time,
          snapshot: await this.#readCheckpoint(id, c.value),
        };
        if (c.value.label !== undefined) rec2.label = c.value.label;
        yield rec2;
      }
    }
  }

  /**
   * Writes export records back (into this store, which may be encrypted differently). An
   * instance that already exists is an error naming it; nothing of it is written.
   */
  async import(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    onProgress?: (done: { instances: number; records: number }) => void,
  ): Promise<{ instances: number; journal: number; checkpoints: number }> {
    const counts = { instances: 0, journal: 0, checkpoints: 0 };
    let pending: Mutation[] = [];
    // The instance being imported: its record is written last, after its journal and
    // checkpoints, so an import that stops halfway leaves no half-imported instance (only
    // keys that a retry overwrites).
    let current: { rec: InstanceRecord; mutations: Mutation[]; at: number } | null = null;
    let records_ = 0;
    const flush = async () => {
      for (let i = 0; i < pending.length; i += 500) {
        const op = this.#kv.atomic();
        for (const m of pending.slice(i, i + 500)) {
          if (m.type === "set") op.set(m.key, m.value);
          else op.delete(m.key);
        }
        await withLockRetry(() => op.commit());
      }
      pending = [];
    };
    const finish = async () => {
      if (current === null) return;
      await flush();
      const { rec, mutations, at } = current;
      const result = await withLockRetry(() => {
        const op = this.#kv.atomic().check({ key: K.inst(rec.id), versionstamp: null });
        for (const m of mutations) {
          if (m.type === "set") op.set(m.key, m.value);
          else op.delete(m.key);
        }
        return op.commit();
      });
      if (!result.ok) {
        throw new StoreError(
          "exists",
          `record ${at}: instance "${rec.id}" already exists in this store`,
        );
      }
      counts.instances++;
      current = null;
    };
    for await (const r of records) {
      records_++;
      if (r.type === "instance") {
        await finish();
        if (r.format !== "statecraft.export/1") {
          throw new StoreError(
            "invalid",
            `record ${records_}: unknown export format ${JSON.stringify(r.format)}`,
          );
        }
        const machine = this.#machines.get(r.machine);
        if (machine === undefined) {
          throw new StoreError(
            "invalid",
            `record ${records_}: instance "${r.id}" runs unknown machine "${r.machine}"`,
          );
        }
        const existing = await withLockRetry(() => this.#kv.get(K.inst(r.id)));
        if (existing.value !== null) {
          throw new StoreError(
            "exists",
            `record ${records_}: instance "${r.id}" already exists in this store`,
          );
        }
        const rec: InstanceRecord = {
          id: r.id,
          machine: r.machine,
          status: r.status,
          archived: r.archived,
          seq: r.seq,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
          hash: r.snapshot.hash,
          configuration: r.snapshot.configuration,
          sha256: "",
          chunks: 0,
          timers: [],
          lastCheckpoint: 0,
        };
        if (r.version !== undefined) rec.version = r.version;
        const mutations: Mutation[] = [];
        await this.#writeSnapshot(rec, null, r.snapshot, mutations);
        // Chunks of a large snapshot go with the journal; the record (which names them) last.
        for (const m of mutations) if (m.key[1] === "snap") pending.push(m);
        const head = mutations.filter((m) => m.key[1] !== "snap");
        this.#indexChanges(null, rec, head);
        current = { rec, mutations: head, at: records_ };
      } else if (current === null || r.id !== current.rec.id) {
        throw new StoreError(
          "invalid",
          `record ${records_}: a ${r.type} record for "${r.id}" must follow its instance record`,
        );
      } else if (r.type === "journal") {
        pending.push({
          type: "set",
          key: K.journal(r.id, r.entry.seq),
          value: await this.#sealJournal(r.entry),
        });
        counts.journal++;
      } else if (r.type === "checkpoint") {
        await this.#writeCheckpoint(r.id, r.seq, r.label, r.time, r.snapshot, pending);
        // The record is written last and is this very object: it will carry this.
        if (r.seq > current.rec.lastCheckpoint && r.seq <= current.rec.seq) {
          current.rec.lastCheckpoint = r.seq;
        }
        counts.checkpoints++;
      } else {
        throw new StoreError(
          "invalid",
          `record ${records_}: unknown record type ${
            JSON.stringify((r as { type: unknown }).type)
          }`,
        );
      }
      if (pending.length >= 500) await flush();
      onProgress?.({ instances: counts.instances, records: records_ });
    }
    await finish();
    return counts;
  }

  /** Waits for queued work, stops the instances in memory and closes KV. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poller !== undefined) clearTimeout(this.#poller);
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    for (const loaded of this.#cache.values()) loaded.instance.stop();
    this.#cache.clear();
    this.#kv.close();
  }

  // ---------------------------------------------------------------------------------------
  // The mailbox: per instance, one operation at a time, in arrival order.

  #enqueue<T>(instanceId: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError("invalid", "the store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.#push(instanceId, { run: () => task().then(resolve, reject) });
    });
  }

  /** Queues a send; sends queued together for one instance are committed together. */
  #enqueueSend(instanceId: string, op: Operation): Promise<SendResult> {
    if (this.#closed) return Promise.reject(new StoreError("invalid", "the store is closed"));
    return new Promise<SendResult>((resolve, reject) => {
      this.#push(instanceId, { send: { op, resolve, reject, settled: false } });
    });
  }

  #push(instanceId: string, job: Job): void {
    const queue = this.#mailboxes.get(instanceId);
    if (queue !== undefined) {
      queue.push(job);
      return;
    }
    const fresh = [job];
    this.#mailboxes.set(instanceId, fresh);
    const running = this.#drainMailbox(instanceId, fresh);
    this.#running.add(running);
    running.finally(() => this.#running.delete(running));
  }

  async #drainMailbox(instanceId: string, queue: Job[]): Promise<void> {
    while (queue.length > 0) {
      const job = queue.shift()!;
      if (job.send === undefined) {
        await job.run!();
        continue;
      }
      // Every send waiting behind this one goes into the same commit (bounded).
      const batch = [job.send];
      let bytes = job.send.op.bytes ?? 1024;
      while (
        queue.length > 0 && queue[0].send !== undefined && batch.length < MAX_BATCH &&
        bytes < MAX_BATCH_BYTES
      ) {
        const next = queue.shift()!.send!;
        bytes += next.op.bytes ?? 1024;
        batch.push(next);
      }
      try {
        await this.#applyBatch(instanceId, batch);
      } catch (e) {
        for (const item of batch) settle(item, e);
      }
    }
    this.#mailboxes.delete(instanceId);
  }

  get #maxRetries(): number {
    return this.#options.maxRetries ?? 50;
  }

  #conflict(instanceId: string): StoreError {
    return new StoreError(
      "conflict",
      `instance "${instanceId}" kept changing under this process (${this.#maxRetries} retries)`,
    );
  }

  /**
   * Applies queued sends (events, timers, invocation results) in order and commits them in
   * one atomic operation: one snapshot, one journal entry each, one versionstamp check. Each
   * send is acknowledged with the configuration it produced, once the commit is durable.
   */
  async #applyBatch(instanceId: string, items: QueuedSend[]): Promise<void> {
    let pending = items;
    for (let attempt = 0, cuts = 0;;) {
      const loaded = await this.#load(instanceId);
      const { rec, instance } = loaded;
      if (rec.archived) {
        const e = new StoreError(
          "archived",
          `instance "${instanceId}" is archived: unarchive it to send events`,
        );
        for (const item of pending) settle(item, e);
        return;
      }
      // Idempotency: ids applied before are acknowledged with their original result.
      const seenHere = new Map<string, QueuedSend>();
      const live: QueuedSend[] = [];
      let sawDuplicate = false;
      for (const item of pending) {
        const eventId = item.op.eventId;
        if (eventId === undefined) {
          live.push(item);
          continue;
        }
        if (seenHere.has(eventId)) {
          live.push(item); // a second send of an id in this very batch: answered below
          continue;
        }
        const prior = await withLockRetry(() =>
          this.#kv.get<SendResult>(K.eid(instanceId, eventId))
        );
        if (prior.value !== null) {
          settle(item, null, { ...prior.value, duplicate: true });
          sawDuplicate = true;
        } else {
          seenHere.set(eventId, item);
          live.push(item);
        }
      }
      if (sawDuplicate && live.length > 0) {
        // Someone applied an id we are now asked for: is our copy behind? (another process)
        const current = await withLockRetry(() => this.#kv.get(K.inst(instanceId)));
        if (current.versionstamp !== loaded.versionstamp) {
          this.#evict(instanceId);
          pending = live;
          continue;
        }
      } else if (sawDuplicate) {
        // Only duplicates: make sure the next reader does not see a stale copy.
        const current = await withLockRetry(() => this.#kv.get(K.inst(instanceId)));
        if (current.versionstamp !== loaded.versionstamp) this.#evict(instanceId);
        return;
      }
      const time = this.#clock.now();
      // Everything the engine reads from the clock while applying this batch is `time`, so
      // due times are exactly journal time + delay and a replay reproduces them.
      this.#clock.freeze(time);
      const applied: { item: QueuedSend; entry: JournalEntry; result: SendResult }[] = [];
      const echoes: { item: QueuedSend; of: QueuedSend }[] = [];
      let seq = rec.seq;
      let broken: QueuedSend | null = null;
      for (const item of live) {
        const op = item.op;
        if (op.eventId !== undefined && seenHere.get(op.eventId) !== item) {
          echoes.push({ item, of: seenHere.get(op.eventId)! });
          continue;
        }
        let ok = true;
        try {
          if (op.kind === "event") instance.send(op.event);
          else if (attempt === 0 && op.run !== undefined) ok = op.run();
          else if (op.kind === "timer") {
            // After a reload: fire the timer only if the stored state still has it pending.
            ok = (instance as unknown as Replayable).replayDelivery(
              op.path ?? [],
              "timer",
              op.event,
              op.sendId,
              op.due,
            );
          } else {
            // An invocation result for an instance reloaded meanwhile: the reload restarted
            // the invocation, whose own result will come; this one is stale.
            ok = false;
          }
        } catch (e) {
          if (e instanceof EventError) {
            settle(item, e); // rejected before anything changed
            continue;
          }
          // A livelock (or a bug) may have left the instance half-changed: reject this send,
          // reload, and apply the others again without it.
          settle(item, e);
          broken = item;
          break;
        }
        if (!ok) {
          settle(item, null, {
            id: instanceId,
            seq,
            configuration: instance.configuration,
            status: instance.status,
            duplicate: false,
          });
          continue;
        }
        seq++;
        const configuration = instance.configuration;
        const entry: JournalEntry = {
          seq,
          time,
          kind: op.kind,
          by: op.by,
          event: op.event,
          configuration,
          status: instance.status,
        };
        if (op.eventId !== undefined) entry.eventId = op.eventId;
        if (op.path !== undefined && op.path.length > 0) entry.path = op.path;
        if (op.sendId !== undefined) entry.sendId = op.sendId;
        if (op.due !== undefined) entry.due = op.due;
        applied.push({
          item,
          entry,
          result: { id: instanceId, seq, configuration, status: instance.status, duplicate: false },
        });
      }
      this.#clock.thaw();
      if (broken !== null) {
        this.#evict(instanceId);
        pending = pending.filter((x) => !x.settled);
        if (++cuts > items.length) return;
        continue;
      }
      if (applied.length === 0) {
        for (const { item, of } of echoes) settleEcho(item, of);
        return;
      }
      let commit: CommitResult;
      let newRec: InstanceRecord;
      let bigSnapshot: Snapshot | null = null;
      try {
        // Serialised at once below: no need for the engine's deep copy.
        const snap = (instance as unknown as Replayable).internalSnapshot(false);
        newRec = {
          ...rec,
          seq,
          status: snap.status,
          updatedAt: time,
          configuration: snap.configuration,
        };
        const mutations: Mutation[] = [];
        const checks: Deno.AtomicCheck[] = [{
          key: K.inst(instanceId),
          versionstamp: loaded.versionstamp,
        }];
        await this.#writeSnapshot(newRec, rec, snap, mutations);
        for (const { item, entry, result } of applied) {
          mutations.push({
            type: "set",
            key: K.journal(instanceId, entry.seq),
            value: await this.#sealJournal(entry),
            size: (item.op.bytes ?? 1024) + 512,
          });
          if (entry.eventId !== undefined) {
            checks.push({ key: K.eid(instanceId, entry.eventId), versionstamp: null });
            mutations.push({
              type: "set",
              key: K.eid(instanceId, entry.eventId),
              value: result,
              // Timer ids only guard against two processes firing one timer: a day will do.
              expireIn: entry.kind === "timer" ? 86_400_000 : undefined,
            });
          }
        }
        if (seq - rec.lastCheckpoint >= (this.#options.checkpointEvery ?? 500)) {
          // A large snapshot twice in one operation could pass KV's 800 KiB: its checkpoint
          // goes in an operation of its own once this one has landed.
          if (newRec.chunks > 0) bigSnapshot = structuredClone(snap);
          else await this.#writeCheckpoint(instanceId, seq, undefined, time, snap, mutations);
          newRec.lastCheckpoint = seq;
        }
        this.#indexChanges(rec, newRec, mutations);
        commit = await this.#committer.commit({ checks, mutations, size: estimate(mutations) });
      } catch (e) {
        // Not committed (too large, KV failure): the applied events must not stay in memory.
        this.#evict(instanceId);
        for (const { item } of applied) settle(item, e);
        for (const { item, of } of echoes) settleEcho(item, of);
        return;
      }
      if (commit.ok) {
        loaded.rec = newRec;
        loaded.versionstamp = commit.versionstamp;
        for (const { item, result } of applied) settle(item, null, result);
        for (const { item, of } of echoes) settleEcho(item, of);
        this.#notify(rec.id, rec.machine, rec.configuration, applied.map((a) => a.entry));
        if (bigSnapshot !== null) await this.#checkpointAlone(instanceId, seq, time, bigSnapshot);
        return;
      }
      // Another process moved the instance (or applied one of these ids): reload and retry,
      // after a jittered backoff so that writers to one busy instance do not starve each other.
      this.#evict(instanceId);
      pending = pending.filter((x) => !x.settled);
      await backoff(attempt);
      if (++attempt > this.#maxRetries) {
        const e = this.#conflict(instanceId);
        for (const item of pending) settle(item, e);
        return;
      }
    }
  }

  #notify(id: string, machine: string, from: string[], entries: JournalEntry[]): void {
    if (this.#options.onCommit === undefined || entries.length === 0) return;
    try {
      this.#options.onCommit({ id, machine, from, entries });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.#options.onError !== undefined) this.#options.onError(err, id);
      else console.error(`statecraft store: onCommit for "${id}": ${err.message}`);
    }
  }

  /**
   * Runs `fn` with the live engine instance, in the instance's mailbox (so nothing else runs
   * meanwhile). For reads the store does not offer (accepted events, `can`); `fn` must not
   * send events to it (use `send`), or the changes would not be durable.
   */
  inspect<T>(instanceId: string, fn: (instance: AnyInstance) => T): Promise<T> {
    return this.#enqueue(instanceId, async () => fn((await this.#load(instanceId)).instance));
  }

  /** The machines this store was opened with (or given since). */
  get machines(): AnyMachine[] {
    return [...this.#machines.values()];
  }

  /**
   * Registers a machine, or a new definition of one (hot reload): instances of it in memory
   * are dropped, each in its mailbox, and load again under the new definition (through its
   * migrations when the shape changed). Resolves once they have been dropped.
   */
  async replaceMachine(machine: AnyMachine): Promise<void> {
    this.#machines.set(machine.id, machine);
    const ids = [...this.#cache.entries()].filter(([, l]) => l.machine.id === machine.id)
      .map(([id]) => id);
    await Promise.all(ids.map((id) => this.#enqueue(id, () => Promise.resolve(this.#evict(id)))));
  }

  /** Writes a periodic checkpoint of a large snapshot in an operation of its own. */
  async #checkpointAlone(
    instanceId: string,
    seq: number,
    time: number,
    snap: Snapshot,
  ): Promise<void> {
    try {
      const mutations: Mutation[] = [];
      await this.#writeCheckpoint(instanceId, seq, undefined, time, snap, mutations);
      for (let i = 0; i < mutations.length; i += 10) {
        const op = this.#kv.atomic();
        for (const m of mutations.slice(i, i + 10)) if (m.type === "set") op.set(m.key, m.value);
        await withLockRetry(() => op.commit());
      }
    } catch (e) {
      // A missing checkpoint only lengthens a later replay; report it and go on.
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.#options.onError !== undefined) this.#options.onError(err, instanceId);
      else console.error(`statecraft store: checkpoint of "${instanceId}": ${err.message}`);
    }
  }

  /** Commits a whole new snapshot (rollback, migration, recovery) with its journal entry. */
  async #commitReplacement(
    loaded: Loaded,
    snap: Snapshot,
    what: {
      kind: "rollback" | "migration" | "recovery";
      by: string;
      to?: number;
      from?: string | number;
    },
  ): Promise<InstanceInfo | null> {
    const id = loaded.rec.id;
    const time = this.#clock.now();
    const seq = loaded.rec.seq + 1;
    const entry: JournalEntry = {
      seq,
      time,
      kind: what.kind,
      by: what.by,
      configuration: snap.configuration,
      status: snap.status,
    };
    if (what.to !== undefined) entry.to = what.to;
    if (what.from !== undefined) entry.from = what.from;
    if (what.kind === "migration" && loaded.machine.version !== undefined) {
      entry.toVersion = loaded.machine.version;
    }
    const newRec: InstanceRecord = {
      ...loaded.rec,
      seq,
      status: snap.status,
      updatedAt: time,
      configuration: snap.configuration,
      hash: loaded.machine.hash,
      lastCheckpoint: seq,
    };
    if (loaded.machine.version !== undefined) newRec.version = loaded.machine.version;
    if (what.kind === "recovery") newRec.recoveredAt = time;
    const mutations: Mutation[] = [];
    await this.#writeSnapshot(newRec, loaded.rec, snap, mutations);
    await this.#writeCheckpoint(id, seq, undefined, time, snap, mutations);
    mutations.push({ type: "set", key: K.journal(id, seq), value: await this.#sealJournal(entry) });
    this.#indexChanges(loaded.rec, newRec, mutations);
    const commit = await this.#committer.commit({
      checks: [{ key: K.inst(id), versionstamp: loaded.versionstamp }],
      mutations,
      size: estimate(mutations),
    });
    this.#evict(id);
    if (!commit.ok) return null;
    this.#notify(id, loaded.rec.machine, loaded.rec.configuration, [entry]);
    const reloaded = await this.#load(id);
    return this.#info(reloaded.rec, reloaded.instance);
  }

  #setArchived(instanceId: string, archived: boolean, by: string): Promise<InstanceInfo> {
    return this.#enqueue(instanceId, async () => {
      for (let attempt = 0;; attempt++) {
        const entry = await withLockRetry(() => this.#kv.get<InstanceRecord>(K.inst(instanceId)));
        if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
        const rec = entry.value;
        if (rec.archived === archived) {
          const loaded = await this.#load(instanceId);
          return this.#info(loaded.rec, loaded.instance);
        }
        const time = this.#clock.now();
        const seq = rec.seq + 1;
        const newRec: InstanceRecord = { ...rec, archived, seq, updatedAt: time };
        const journal: JournalEntry = {
          seq,
          time,
          kind: archived ? "archive" : "unarchive",
          by,
          configuration: rec.configuration,
          status: rec.status,
        };
        const mutations: Mutation[] = [
          { type: "set", key: K.inst(instanceId), value: newRec },
          { type: "set", key: K.journal(instanceId, seq), value: await this.#sealJournal(journal) },
        ];
        this.#indexChanges(rec, newRec, mutations);
        const commit = await this.#committer.commit({
          checks: [{ key: K.inst(instanceId), versionstamp: entry.versionstamp }],
          mutations,
          size: estimate(mutations),
        });
        this.#evict(instanceId);
        if (commit.ok) {
          const loaded = await this.#load(instanceId);
          return this.#info(loaded.rec, loaded.instance);
        }
        if (attempt >= this.#maxRetries) throw this.#conflict(instanceId);
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Loading, recovery, migration

  async #load(instanceId: string): Promise<Loaded> {
    const cached = this.#cache.get(instanceId);
    if (cached !== undefined) {
      this.#cache.delete(instanceId);
      this.#cache.set(instanceId, cached); // most recently used last
      return cached;
    }
    const entry = await withLockRetry(() => this.#kv.get<InstanceRecord>(K.inst(instanceId)));
    if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
    const rec = entry.value;
    const machine = this.#machines.get(rec.machine);
    if (machine === undefined) {
      throw new StoreError(
        "incompatible",
        `instance "${instanceId}" runs machine "${rec.machine}", which this store was not opened with`,
      );
    }
    let snap: Snapshot;
    let recovered = false;
    try {
      snap = await this.#readSnapshot(rec);
    } catch (e) {
      if (!(e instanceof StoreDataError)) throw e;
      snap = await this.#stateAt(instanceId, machine, rec.seq);
      recovered = true;
    }
    let migratedFrom: string | number | undefined;
    if (snap.hash !== machine.hash) {
      migratedFrom = snap.version ?? "unversioned";
      snap = migrate(snap, machine, instanceId);
    }
    const live = this.#live && !rec.archived;
    const instance = machine.restore(
      snap,
      live ? this.#instanceOptions(instanceId) : this.#inertOptions(instanceId),
    );
    const loaded: Loaded = { rec, versionstamp: entry.versionstamp, instance, machine };
    this.#remember(loaded);
    // In inspect mode nothing is written: the recovered or migrated state stays in memory.
    if (this.#live && (recovered || migratedFrom !== undefined)) {
      const result = await this.#commitReplacement(loaded, instance.snapshot(), {
        kind: recovered ? "recovery" : "migration",
        by: "store",
        from: migratedFrom,
      });
      if (result === null) {
        this.#evict(instanceId);
        return await this.#load(instanceId);
      }
      return this.#cache.get(instanceId)!;
    }
    return loaded;
  }

  /**
   * The state after journal entry `seq`: the latest good checkpoint at or before it, plus the
   * journal replayed from there. Checkpoints are written at every rollback, migration and
   * recovery, so a replay never crosses one.
   */
  async #stateAt(instanceId: string, machine: AnyMachine, seq: number): Promise<Snapshot> {
    let base: Snapshot | null = null;
    let baseSeq = -1;
    const iter = this.#kv.list<CheckpointRecord>({
      prefix: K.ckptPrefix(instanceId),
      end: K.ckpt(instanceId, seq + 1),
    }, { reverse: true });
    for await (const e of iter) {
      try {
        base = await this.#readCheckpoint(instanceId, e.value);
        baseSeq = e.value.seq;
        break;
      } catch (err) {
        if (!(err instanceof StoreDataError)) throw err;
      }
    }
    if (base === null) {
      throw new StoreDataError(
        `instance "${instanceId}": no readable checkpoint at or before ${seq}`,
      );
    }
    if (base.hash !== machine.hash) base = migrate(base, machine, instanceId);
    const clock = new ReplayClock();
    clock.t = base.time;
    const instance = machine.restore(base, { clock, replay: true, id: instanceId });
    for await (
      const e of this.#kv.list<unknown>({
        start: K.journal(instanceId, baseSeq + 1),
        end: K.journal(instanceId, seq + 1),
      })
    ) {
      const entry = await this.#openJournal(e.value, instanceId);
      clock.t = Math.max(clock.t, entry.time);
      if (entry.kind === "event") {
        instance.send(entry.event!);
      } else if (entry.kind === "timer" || entry.kind === "invoke") {
        const replayable = instance as unknown as Replayable;
        const path = entry.path ?? [];
        if (!replayable.replayDelivery(path, entry.kind, entry.event!, entry.sendId, entry.due)) {
          // Entries written before due times were recorded: match the timer by its id.
          if (entry.due === undefined) {
            replayable.replayDelivery(path, entry.kind, entry.event!, entry.sendId);
          }
        }
      } else if (entry.kind === "rollback" || entry.kind === "migration") {
        // These are always checkpointed, so a replay reaches one only when that checkpoint
        // could not be read.
        throw new StoreDataError(
          `instance "${instanceId}": cannot replay across the ${entry.kind} at ${entry.seq}: ` +
            "its checkpoint is unreadable",
        );
      }
    }
    const snap = instance.snapshot();
    instance.stop();
    return snap;
  }

  #instanceOptions(instanceId: string) {
    return {
      id: instanceId,
      clock: this.#clock,
      onSend: this.#options.onSend,
      schedule: (delivery: AsyncDelivery) => this.#onAsync(instanceId, delivery),
    };
  }

  #inertOptions(instanceId: string) {
    const clock = new ReplayClock();
    clock.t = this.#clock.now();
    return { id: instanceId, clock, replay: true };
  }

  /** A timer fired or an invocation finished: apply it in the mailbox, journaled. */
  #onAsync(instanceId: string, delivery: AsyncDelivery): void {
    if (this.#closed) return;
    const op: Operation = {
      kind: delivery.kind,
      event: delivery.event,
      by: delivery.kind,
      path: delivery.path,
      run: delivery.run,
    };
    if (delivery.sendId !== undefined) op.sendId = delivery.sendId;
    if (delivery.due !== undefined) op.due = delivery.due;
    if (delivery.kind === "timer") {
      op.eventId = `tm:${delivery.path.join("/")}:${delivery.sendId}:${delivery.due}`;
    }
    this.#enqueueSend(instanceId, op).catch((e) => {
      if (this.#closed) return;
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.#options.onError !== undefined) this.#options.onError(err, instanceId);
      else console.error(`statecraft store: instance "${instanceId}": ${err.message}`);
    });
  }

  #remember(loaded: Loaded): void {
    this.#cache.set(loaded.rec.id, loaded);
    const max = this.#options.cacheSize ?? 10_000;
    if (this.#cache.size <= max) return;
    for (const [id, l] of this.#cache) {
      if (this.#cache.size <= max) break;
      if (id === loaded.rec.id || this.#mailboxes.has(id)) continue;
      l.instance.stop();
      this.#cache.delete(id);
    }
  }

  #evict(instanceId: string): void {
    const loaded = this.#cache.get(instanceId);
    if (loaded === undefined) return;
    loaded.instance.stop();
    this.#cache.delete(instanceId);
  }

  // ---------------------------------------------------------------------------------------
  // Durable timers: instances not in memory are loaded shortly before their timers are due;
  // loading arms them, and firing goes through the mailbox with a timer event id, so two
  // processes never apply the same timer twice.

  #schedulePoll(ms: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => this.#poll(), ms);
    this.#poller = timer;
    Deno.unrefTimer(timer as unknown as number);
  }

  async #poll(): Promise<void> {
    const every = this.#options.timerPollMs ?? 250;
    try {
      const horizon = this.#clock.now() + every * 2;
      const due = new Set<string>();
      for await (
        const e of this.#kv.list({ prefix: K.timerPrefix(), end: ["sc", "tm", horizon] }, {
          limit: 500,
        })
      ) {
        due.add(e.key[3] as string);
      }
      for (const id of due) {
        if (this.#cache.has(id) || this.#closed) continue;
        this.#enqueue(id, () => this.#load(id)).catch((e) => {
          if (!this.#closed && !(e instanceof StoreError && e.code === "not_found")) {
            const err = e instanceof Error ? e : new Error(String(e));
            if (this.#options.onError !== undefined) this.#options.onError(err, id);
            else console.error(`statecraft store: instance "${id}": ${err.message}`);
          }
        });
      }
    } catch (e) {
      if (this.#closed) return;
      if (this.#options.onError !== undefined) this.#options.onError(e as Error, "(timers)");
    }
    this.#schedulePoll(every);
  }

  // ---------------------------------------------------------------------------------------
  // Encoding

  async #writeSnapshot(
    rec: InstanceRecord,
    old: InstanceRecord | null,
    snap: Snapshot,
    mutations: Mutation[],
  ): Promise<void> {
    const encoded = await encodeValue(snap, this.#key);
    rec.sha256 = encoded.sha256;
    rec.timers = collectTimers(snap, []);
    const oldChunks = old?.chunks ?? 0;
    if (encoded.bytes.length <= INLINE_BYTES) {
      rec.inline = encoded.bytes;
      rec.chunks = 0;
    } else {
      const chunks = chunk(encoded.bytes);
      if (encoded.bytes.length > 700 * 1024) {
        throw new StoreError(
          "too_large",
          `the snapshot of "${rec.id}" is ${encoded.bytes.length} bytes; one commit holds at most 700 KiB of it`,
        );
      }
      delete rec.inline;
      rec.chunks = chunks.length;
      chunks.forEach((c, n) => mutations.push({ type: "set", key: K.snap(rec.id, n), value: c }));
    }
    for (let n = rec.chunks; n < oldChunks; n++) {
      mutations.push({ type: "delete", key: K.snap(rec.id, n) });
    }
    mutations.push({ type: "set", key: K.inst(rec.id), value: rec });
  }

  async #readSnapshot(rec: InstanceRecord): Promise<Snapshot> {
    let bytes: Uint8Array;
    if (rec.inline !== undefined) bytes = rec.inline;
    else {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < rec.chunks; n++) {
        const part = await withLockRetry(() => this.#kv.get<Uint8Array>(K.snap(rec.id, n)));
        if (!(part.value instanceof Uint8Array)) {
          throw new StoreDataError(
            `snapshot of "${rec.id}": chunk ${n} of ${rec.chunks} is missing`,
          );
        }
        parts.push(part.value);
      }
      bytes = join(parts);
    }
    return await decodeValue<Snapshot>(bytes, this.#key, rec.sha256, `snapshot of "${rec.id}"`);
  }

  async #readContext(rec: InstanceRecord): Promise<unknown> {
    try {
      return (await this.#readSnapshot(rec)).context;
    } catch {
      return undefined;
    }
  }

  async #writeCheckpoint(
    instanceId: string,
    seq: number,
    label: string | undefined,
    time: number,
    snap: Snapshot,
    mutations: Mutation[],
  ): Promise<void> {
    const encoded = await encodeValue(snap, this.#key);
    const rec: CheckpointRecord = { seq, time, sha256: encoded.sha256, chunks: 0 };
    if (label !== undefined) rec.label = label;
    if (encoded.bytes.length <= INLINE_BYTES) rec.inline = encoded.bytes;
    else {
      const chunks = chunk(encoded.bytes);
      rec.chunks = chunks.length;
      chunks.forEach((c, n) =>
        mutations.push({ type: "set", key: K.ckptChunk(instanceId, seq, n), value: c })
      );
    }
    mutations.push({ type: "set", key: K.ckpt(instanceId, seq), value: rec });
    if (label !== undefined) {
      mutations.push({ type: "set", key: K.ckptLabel(instanceId, label), value: seq });
    }
  }

  async #readCheckpoint(instanceId: string, rec: CheckpointRecord): Promise<Snapshot> {
    let bytes: Uint8Array;
    if (rec.inline !== undefined) bytes = rec.inline;
    else {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < rec.chunks; n++) {
        const part = await withLockRetry(() =>
          this.#kv.get<Uint8Array>(K.ckptChunk(instanceId, rec.seq, n))
        );
        if (!(part.value instanceof Uint8Array)) {
          throw new StoreDataError(
            `checkpoint ${rec.seq} of "${instanceId}": chunk ${n} is missing`,
          );
        }
        parts.push(part.value);
      }
      bytes = join(parts);
    }
    return await decodeValue<Snapshot>(
      bytes,
      this.#key,
      rec.sha256,
      `checkpoint ${rec.seq} of "${instanceId}"`,
    );
  }

  async #sealJournal(entry: JournalEntry): Promise<unknown> {
    if (this.#key === null) return entry;
    return { sealed: (await encodeValue(entry, this.#key)).bytes };
  }

  async #openJournal(value: unknown, instanceId: string): Promise<JournalEntry> {
    if (typeof value === "object" && value !== null && "sealed" in value) {
      if (this.#key === null) throw new StoreDataError(`journal of "${instanceId}" is encrypted`);
      return await decodeValue<JournalEntry>(
        (value as { sealed: Uint8Array }).sealed,
        this.#key,
        null,
        `journal of "${instanceId}"`,
      );
    }
    return value as JournalEntry;
  }

  /** Index mutations moving an instance from `old` to `next` (either may be null). */
  #indexChanges(
    old: InstanceRecord | null,
    next: InstanceRecord | null,
    mutations: Mutation[],
  ): void {
    const id = (old ?? next)!.id;
    if (old !== null && next !== null && sameIndexes(old, next)) return;
    const before = indexKeys(old, id);
    const after = indexKeys(next, id);
    for (const [name, key] of before) {
      if (!after.has(name)) mutations.push({ type: "delete", key });
    }
    for (const [name, key] of after) {
      if (!before.has(name)) mutations.push({ type: "set", key, value: true });
    }
  }

  #info(rec: InstanceRecord, instance?: AnyInstance, context?: unknown): InstanceInfo {
    const info: InstanceInfo = {
      id: rec.id,
      machine: rec.machine,
      status: rec.status,
      archived: rec.archived,
      seq: rec.seq,
      configuration: rec.configuration,
      context: instance !== undefined ? structuredClone(instance.context) : context,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
    };
    if (rec.version !== undefined) info.version = rec.version;
    if (rec.recoveredAt !== undefined) info.recoveredAt = rec.recoveredAt;
    return info;
  }
}

function idProblem(id: unknown): StoreError | null {
  if (typeof id !== "string" || id === "" || id.length > 256) {
    return new StoreError(
      "invalid",
      `an instance id must be a non-empty string of at most 256 characters`,
    );
  }
  return null;
}

function estimate(mutations: Mutation[]): number {
  let n = 0;
  for (const m of mutations) {
    n += 64;
    if (m.type === "set") {
      const v = m.value;
      if (m.size !== undefined) n += m.size;
      else if (v instanceof Uint8Array) n += v.length;
      else if (typeof v === "object" && v !== null) {
        const inline = (v as { inline?: Uint8Array }).inline;
        n += (inline?.length ?? 0) + 512;
        const sealed = (v as { sealed?: Uint8Array }).sealed;
        if (sealed !== undefined) n += sealed.length;
        else if (inline === undefined) n += JSON.stringify(v).length;
      } else n += 16;
    }
  }
  return n;
}

function collectTimers(snap: Snapshot, path: string[]): TimerRef[] {
  const out: TimerRef[] = [];
  for (const t of snap.timers) out.push({ due: t.due, ref: `${path.join("/")}:${t.sendId}` });
  for (const [invokeId, child] of Object.entries(snap.children)) {
    out.push(...collectTimers(child, [...path, invokeId]));
  }
  return out;
}

/** Whether two records of one instance have the same index entries (most events). */
function sameIndexes(a: InstanceRecord, b: InstanceRecord): boolean {
  if (
    a.status !== b.status || a.archived !== b.archived ||
    Math.floor(a.updatedAt / 1000) !== Math.floor(b.updatedAt / 1000) ||
    a.configuration.length !== b.configuration.length || a.timers.length !== b.timers.length
  ) return false;
  for (let i = 0; i < a.configuration.length; i++) {
    if (a.configuration[i] !== b.configuration[i]) return false;
  }
  for (let i = 0; i < a.timers.length; i++) {
    if (a.timers[i].due !== b.timers[i].due || a.timers[i].ref !== b.timers[i].ref) return false;
  }
  return true;
}

/** The index entries of an instance record, by a string name for cheap diffing. */
function indexKeys(r: InstanceRecord | null, id: string): Map<string, Deno.KvKey> {
  const keys = new Map<string, Deno.KvKey>();
  if (r === null) return keys;
  const status = r.archived ? "archived" : r.status;
  const second = Math.floor(r.updatedAt / 1000);
  keys.set(`m\0${r.machine}`, K.ixMachine(r.machine, id));
  keys.set(`t\0${status}`, K.ixStatus(status, id));
  keys.set(`u\0${second}`, K.ixUpdated(second, id));
  for (const s of r.configuration) keys.set(`s\0${s}`, K.ixState(s, r.machine, id));
  // Archived instances keep their timers in the snapshot, not in the due index.
  if (!r.archived) {
    for (const t of r.timers) keys.set(`d\0${t.due}\0${t.ref}`, K.timer(t.due, id, t.ref));
  }
  return keys;
}

/** The engine's journal-replay entry point (not part of the public instance type). */
interface Replayable {
  internalSnapshot(copy: boolean): Snapshot;
  replayDelivery(
    path: readonly string[],
    kind: string,
    event: EventObject,
    sendId?: string,
    due?: number,
  ): boolean;
}

/** Runs a machine's declared migrations from the snapshot's version to the machine's. */
function migrate(snap: Snapshot, machine: AnyMachine, instanceId: string): Snapshot {
  const migrations = machine.config.migrations as
    | Record<string, (s: Snapshot) => Snapshot>
    | undefined;
  const target = machine.version;
  let current = snap;
  for (let steps = 0; steps < 100; steps++) {
    if (current.version === target && steps > 0) {
      return { ...current, hash: machine.hash };
    }
    const fn = migrations?.[String(current.version)];
    if (fn === undefined || current.version === target) break;
    const next = fn(structuredClone(current));
    if (next.version === current.version) {
      throw new SnapshotError(
        `migration of "${instanceId}" from version ${current.version} did not change the version`,
      );
    }
    current = next;
  }
  throw new StoreError(
    "incompatible",
    `instance "${instanceId}" was stored under version ${snap.version ?? "unversioned"} ` +
      `(hash ${snap.hash}) of machine "${machine.id}", which is now version ` +
      `${
        target ?? "unversioned"
      } (hash ${machine.hash}), and no migration leads from one to the other`,
  );
}
