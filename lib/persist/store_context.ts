/**
 * What the rooms of the store share: the backend, the records codec, the commit builder, the
 * clock, the registered machines, the instances in memory and the mailboxes; and the small
 * acts every room needs (remember or evict an instance, report a commit or an error, describe
 * an instance, the options an engine instance runs with).
 *
 * @module
 */
import type { AsyncDelivery, EventObject } from "../core/types.ts";
import type { ClusterMembership } from "../cluster/types.ts";
import {
  BackendUnavailableError,
  type KvBackend,
  type KvCheck,
  type KvMutation,
} from "./backend.ts";
import { K } from "./keys.ts";
import { ReplayClock, type StoreClock } from "./clocks.ts";
import { CommitBuilder } from "./commit_builder.ts";
import { type EffectIds, InstanceCache, type Loaded, type OutboxItem } from "./instance_cache.ts";
import { type Mailboxes, type Operation } from "./mailbox.ts";
import { traceEffect } from "./tracing.ts";
import { traceparent, tracing } from "../telemetry/tracing.ts";
import type { InstanceRecord, Records } from "./records.ts";
import {
  type AnyInstance,
  type AnyMachine,
  type FailedEffect,
  type InstanceInfo,
  type JournalEntry,
  type OpenStoreOptions,
  StoreError,
} from "./types.ts";

/** An outbox record (`K.outbox(id, effectId)`) as stored. */
export interface StoredOutboxRecord {
  target: string;
  event: EventObject;
  /** OpenTelemetry on: the `traceparent` of the macrostep that made the send. */
  trace?: string;
  /** Runs that failed so far (absent: none failed). */
  attempts?: number;
  /** The last failure's message. */
  error?: string;
  /** When the last run failed (the store's clock). */
  at?: number;
}

/** A failure's message is kept in the outbox record up to this many characters. */
const MAX_EFFECT_ERROR = 1000;

/** The state shared by the store's rooms. */
export class StoreContext {
  readonly backend: KvBackend;
  readonly records: Records;
  readonly committer: CommitBuilder;
  readonly clock: StoreClock;
  readonly options: OpenStoreOptions;
  /** Instances run their timers and invocations (`"live"` mode). */
  readonly live: boolean;
  readonly machines = new Map<string, AnyMachine>();
  readonly cache: InstanceCache;
  /** Set once by the store (the mailboxes need the store's apply step). */
  mailboxes!: Mailboxes;
  /** Cluster mode: this node's membership (partitions, ownership, epochs). */
  cluster: ClusterMembership | undefined;
  closed = false;

  constructor(
    backend: KvBackend,
    records: Records,
    clock: StoreClock,
    options: OpenStoreOptions,
    cacheBytes: number,
  ) {
    this.backend = backend;
    this.records = records;
    this.clock = clock;
    this.options = options;
    this.live = (options.mode ?? "live") === "live";
    this.committer = new CommitBuilder(backend);
    this.cache = new InstanceCache(cacheBytes, options.cacheSize ?? Infinity);
  }

  /**
   * The check that fences a commit to an instance: in cluster mode, the epoch record of its
   * partition at the version this node became owner with (a node that lost the partition
   * cannot commit); otherwise the instance record's version. Throws `not_owner` in cluster
   * mode when this node does not own the partition.
   */
  fence(instanceId: string, version: string | null): KvCheck {
    if (this.cluster === undefined) return { key: K.inst(instanceId), version };
    const partition = this.cluster.partitionOf(instanceId);
    const owned = this.cluster.owns(partition);
    if (owned === undefined) throw notOwner(instanceId, partition);
    return { key: K.epoch(partition), version: owned.version };
  }

  /** Whether this node runs the instance (always, out of cluster mode). */
  runsHere(instanceId: string): boolean {
    return this.cluster === undefined ||
      this.cluster.owns(this.cluster.partitionOf(instanceId)) !== undefined;
  }

  /** A commit fenced by a changed epoch: this node lost the partition. */
  fenced(instanceId: string): StoreError {
    const partition = this.cluster!.partitionOf(instanceId);
    this.cluster!.fenced(partition); // counts the fenced commit too
    return notOwner(instanceId, partition);
  }

  get maxRetries(): number {
    return this.options.maxRetries ?? 50;
  }

  conflict(instanceId: string): StoreError {
    return new StoreError(
      "conflict",
      `instance "${instanceId}" kept changing under this process (${this.maxRetries} retries)`,
    );
  }

  /**
   * The error a caller gets: storage that cannot be reached becomes a `StoreError`
   * (`unavailable`) naming the store; other errors stay as they are.
   */
  storeError(e: unknown): unknown {
    if (!(e instanceof BackendUnavailableError)) return e;
    const hint = e.ambiguous
      ? "; the write may have landed: send again with the same event id to settle it"
      : "; nothing was written: try again";
    return new StoreError(
      "unavailable",
      `the store at ${this.backend.where} cannot be reached: ${e.message}${hint}`,
    );
  }

  /** Keeps an instance in memory (dropping the least recently used beyond the budget). */
  remember(loaded: Loaded): void {
    this.cache.put(loaded, (id) => this.mailboxes.busy(id));
  }

  evict(instanceId: string): void {
    this.cache.evict(instanceId);
    // Failed deliveries are in the outbox, and the record's flag: the next load runs them.
    const pending = this.#undelivered.get(instanceId);
    if (pending === undefined) return;
    for (const [effectId, state] of pending) if (state === "failed") pending.delete(effectId);
    if (pending.size === 0) this.#undelivered.delete(instanceId);
  }

  /** Reports an error of background work. */
  reportError(error: unknown, instanceId: string, what = `instance "${instanceId}"`): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.options.onError !== undefined) this.options.onError(err, instanceId);
    else console.error(`statecraft store: ${what}: ${err.message}`);
  }

  /** Tells `onCommit` about committed entries. */
  notify(id: string, machine: string, from: string[], entries: JournalEntry[]): void {
    if (this.options.onCommit === undefined || entries.length === 0) return;
    try {
      this.options.onCommit({ id, machine, from, entries });
    } catch (e) {
      this.reportError(e, id, `onCommit for "${id}"`);
    }
  }

  /** What the store tells of an instance. */
  info(rec: InstanceRecord, instance?: AnyInstance, context?: unknown): InstanceInfo {
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
    if (rec.cancelled !== undefined) info.cancelled = { ...rec.cancelled };
    return info;
  }

  /**
   * Options of a live engine instance: the store's clock, its timers through the mailbox, and
   * stable effect ids for its invoked functions (`effects`).
   */
  instanceOptions(instanceId: string, effects: EffectIds): {
    id: string;
    clock: StoreClock;
    onSend?: (target: string, event: EventObject, from: AnyInstance) => void;
    schedule: (delivery: AsyncDelivery) => void;
    effectId: (invokeId: string) => string;
  } {
    return {
      id: instanceId,
      clock: this.clock,
      // A send to a target outside the engine (a plugin) is named like an invocation: after the
      // entry that made it, and its place among that entry's sends. Applied again (a retry
      // after a conflict), it has the same id, so its receiver can tell.
      onSend: this.options.onSend === undefined ? undefined : (target, event, from) => {
        if (effects.sendSeq !== effects.seq || effects.sends === undefined) {
          effects.sendSeq = effects.seq;
          effects.sends = 0;
        }
        const effectId = `${instanceId}:send:${effects.seq}:${effects.sends++}`;
        // Refused targets throw here (the machine hears of it); the delivery waits for the
        // commit of the transition that made it.
        const run = this.options.onSend!(target, event, from, effectId);
        if (typeof run !== "function") return;
        const item: OutboxItem = { target, event, effectId, run };
        if (tracing) item.trace = traceparent();
        effects.outbox.push(item);
      },
      schedule: (delivery: AsyncDelivery) => this.#onAsync(instanceId, delivery),
      // Restarted by a restore (restart, takeover): the id it had. Started by an entry: the
      // entry's seq names it.
      effectId: (invokeId) => {
        const known = effects.restoring ? effects.ids[invokeId] : undefined;
        return known ?? (effects.ids[invokeId] = `${instanceId}:${invokeId}:${effects.seq}`);
      },
    };
  }

  /** The outbox mutations of the sends a transition made (committed with it). */
  outboxMutations(instanceId: string, items: readonly OutboxItem[]): KvMutation[] {
    return items.map((o) => ({
      type: "set" as const,
      key: K.outbox(instanceId, o.effectId),
      value: o.trace === undefined
        ? { target: o.target, event: o.event }
        : { target: o.target, event: o.event, trace: o.trace },
      size: 256,
    }));
  }

  /**
   * Effect ids of deliveries this process started and that have not run to the end (running,
   * or failed and kept in the outbox), by instance: a commit keeps the record's `outbox` flag
   * while an instance has any, so that its next load still looks in the outbox.
   */
  readonly #undelivered = new Map<string, Map<string, "running" | "failed">>();

  /** Whether deliveries of the instance started here have not all run (see `#undelivered`). */
  outboxPending(instanceId: string): boolean {
    return (this.#undelivered.get(instanceId)?.size ?? 0) > 0;
  }

  /**
   * Runs committed deliveries, then removes them from the outbox. One that fails stays there,
   * its record counting the failed runs with the last error and its time (`failedEffects`), and
   * runs again (with the same effect id) when the instance is next loaded or redriven.
   */
  deliver(instanceId: string, items: readonly OutboxItem[]): void {
    if (items.length === 0) return;
    void this.runDeliveries(instanceId, items).catch((e) => {
      if (!this.closed) this.reportError(e, instanceId, `outbox of "${instanceId}"`);
    });
  }

  /**
   * Runs deliveries and settles their outbox records: deleted once run, kept with one more
   * failed attempt (`attempts`, `error`, `at`) when the run failed. Resolves with what each did,
   * in the order given, once their records are written.
   */
  async runDeliveries(
    instanceId: string,
    items: readonly OutboxItem[],
  ): Promise<{ effectId: string; error?: string }[]> {
    let pending = this.#undelivered.get(instanceId);
    if (pending === undefined) this.#undelivered.set(instanceId, pending = new Map());
    for (const o of items) pending.set(o.effectId, "running");
    const results = await Promise.all(items.map(async (o) => {
      try {
        await (tracing ? traceEffect(instanceId, o) : o.run());
        return { effectId: o.effectId };
      } catch (e) {
        this.reportError(e, instanceId, `send ${o.event.type} to ${o.target} from "${instanceId}"`);
        return { effectId: o.effectId, error: e instanceof Error ? e.message : String(e) };
      }
    }));
    const deletes: KvMutation[] = [];
    for (const r of results) {
      if (r.error !== undefined) pending.set(r.effectId, "failed");
      else {
        deletes.push({ type: "delete", key: K.outbox(instanceId, r.effectId) });
        pending.delete(r.effectId);
      }
    }
    if (pending.size === 0 && this.#undelivered.get(instanceId) === pending) {
      this.#undelivered.delete(instanceId);
    }
    if (this.closed) return results;
    if (deletes.length > 0) await this.backend.atomic([], deletes);
    const at = this.clock.now();
    await Promise.all(
      results.filter((r) => r.error !== undefined).map((r) =>
        this.#recordFailure(instanceId, r.effectId, r.error!, at)
      ),
    );
    return results;
  }

  /**
   * Counts a failed run on an effect's outbox record (a read and a write checked against the
   * version read): a record gone meanwhile (another process ran it) is not written back.
   */
  async #recordFailure(
    instanceId: string,
    effectId: string,
    error: string,
    at: number,
  ): Promise<void> {
    const key = K.outbox(instanceId, effectId);
    for (let attempt = 0; attempt < 5 && !this.closed; attempt++) {
      const entry = await this.backend.get<StoredOutboxRecord>(key);
      if (entry.value === null) return;
      const value: StoredOutboxRecord = {
        ...entry.value,
        attempts: (entry.value.attempts ?? 0) + 1,
        error: error.length > MAX_EFFECT_ERROR ? `${error.slice(0, MAX_EFFECT_ERROR)}…` : error,
        at,
      };
      const r = await this.backend.atomic([{ key, version: entry.version }], [{
        type: "set",
        key,
        value,
        size: 256 + value.error!.length,
      }]);
      if (r.ok) return;
    }
  }

  /** The instance's outbox: its sends not yet delivered, in effect id order. */
  async outboxOf(instanceId: string): Promise<(StoredOutboxRecord & { effectId: string })[]> {
    const out: (StoredOutboxRecord & { effectId: string })[] = [];
    for await (
      const e of this.backend.list<StoredOutboxRecord>({ prefix: K.outboxPrefix(instanceId) })
    ) {
      out.push({ ...e.value!, effectId: e.key[3] as string });
    }
    return out;
  }

  /** The instance's failed effects: its outbox records with at least one failed run. */
  async failedEffects(instanceId: string): Promise<FailedEffect[]> {
    const out: FailedEffect[] = [];
    for (const o of await this.outboxOf(instanceId)) {
      if ((o.attempts ?? 0) < 1) continue;
      out.push({
        effectId: o.effectId,
        target: o.target,
        event: o.event.type,
        attempts: o.attempts!,
        error: o.error ?? "",
        at: o.at ?? 0,
      });
    }
    return out;
  }

  /** Whether a delivery of this effect is running in this process now. */
  delivering(instanceId: string, effectId: string): boolean {
    return this.#undelivered.get(instanceId)?.get(effectId) === "running";
  }

  /** The delivery of an outbox record, made again through `onSend` (null: refused, reported). */
  outboxItem(
    instanceId: string,
    instance: AnyInstance,
    o: StoredOutboxRecord & { effectId: string },
  ): OutboxItem | null {
    const { target, event, trace, effectId } = o;
    try {
      const run = this.options.onSend!(target, event, instance, effectId);
      if (typeof run !== "function") return null;
      const item: OutboxItem = { target, event, effectId, run };
      if (trace !== undefined) item.trace = trace;
      return item;
    } catch (err) {
      this.reportError(err, instanceId, `send ${event.type} to ${target} from "${instanceId}"`);
      return null;
    }
  }

  /** After a load: the outbox's deliveries of this instance that had not run, run now. */
  async redeliver(instanceId: string, instance: AnyInstance): Promise<void> {
    if (this.options.onSend === undefined) return;
    const items: OutboxItem[] = [];
    for (const o of await this.outboxOf(instanceId)) {
      const item = this.outboxItem(instanceId, instance, o);
      if (item !== null) items.push(item);
    }
    this.deliver(instanceId, items);
  }

  /** Options of an inert engine instance (inspect mode, archived): nothing fires. */
  inertOptions(instanceId: string): { id: string; clock: ReplayClock; replay: true } {
    const clock = new ReplayClock();
    clock.t = this.clock.now();
    return { id: instanceId, clock, replay: true };
  }

  /** A timer fired or an invocation finished: apply it in the mailbox, journaled. */
  #onAsync(instanceId: string, delivery: AsyncDelivery): void {
    if (this.closed) return;
    const op: Operation = {
      kind: delivery.kind,
      event: delivery.event,
      by: delivery.kind,
      path: delivery.path,
      run: delivery.run,
    };
    if (delivery.sendId !== undefined) op.sendId = delivery.sendId;
    if (delivery.due !== undefined) op.due = delivery.due;
    // A timer's event id (`timerEventId`) is given when the batch is applied: it depends on
    // the stored record the timer fires in.
    // An invocation's result is applied once, whichever node's run of it delivers it.
    const effectId = delivery.event.effectId;
    if (
      delivery.kind === "invoke" && typeof effectId === "string" &&
      !delivery.event.type.startsWith("xstate.")
    ) {
      if (/^(done\.invoke|error\.platform)\./.test(delivery.event.type)) {
        op.eventId = `fx:${effectId}`;
      }
    }
    this.mailboxes.enqueueSend(instanceId, op).catch((e) => {
      if (!this.closed) this.reportError(e, instanceId);
    });
  }
}

/** This node does not own the instance's partition (any more): the write goes to the owner. */
export function notOwner(instanceId: string, partition: number): StoreError {
  return new StoreError(
    "not_owner",
    `instance "${instanceId}" is in partition ${partition}, which this node does not own`,
  );
}
