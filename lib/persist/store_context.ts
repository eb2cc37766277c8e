/**
 * What the rooms of the store share: the backend, the records codec, the commit builder, the
 * clock, the registered machines, the instances in memory, the mailboxes and the outbox
 * (`outbox.ts`); and the small acts every room needs (remember or evict an instance, report a
 * commit or an error, describe an instance, the options an engine instance runs with).
 *
 * @module
 */
import type { AsyncDelivery, EventObject } from "../core/types.ts";
import type { ClusterMembership } from "../cluster/types.ts";
import { BackendUnavailableError, type KvBackend, type KvCheck } from "./backend.ts";
import { K } from "./keys.ts";
import { ReplayClock, type StoreClock } from "./clocks.ts";
import { CommitBuilder } from "./commit_builder.ts";
import { type EffectIds, InstanceCache, type Loaded, type OutboxItem } from "./instance_cache.ts";
import { type Mailboxes, type Operation } from "./mailbox.ts";
import { Outbox } from "./outbox.ts";
import {
  CausalLivelockError,
  type Cause,
  DEFAULT_MAX_CAUSAL_HOPS,
  instanceTarget,
  nextCause,
} from "./livelock.ts";
import { traceparent, tracing } from "../telemetry/tracing.ts";
import type { InstanceRecord, Records } from "./records.ts";
import {
  type AnyInstance,
  type AnyMachine,
  type InstanceInfo,
  type JournalEntry,
  type OpenStoreOptions,
  StoreError,
} from "./types.ts";

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
  /** The sends to plugins committed with their transitions, and their deliveries. */
  readonly outbox: Outbox;
  /** Set once by the store (the mailboxes need the store's apply step). */
  mailboxes!: Mailboxes;
  /** Cluster mode: this node's membership (partitions, ownership, epochs). */
  cluster: ClusterMembership | undefined;
  closed = false;
  /**
   * While an operation is applied (`applyBatch`): its cause (none: it came from outside) and
   * its event's type. What it causes (sends to instances, invocations) carries one hop more.
   */
  applying: Cause | undefined;
  applyingEvent = "";
  /** Set once by the store: delivers a send from one instance to another (`instance:<id>`). */
  deliverToInstance:
    | ((
      instanceId: string,
      event: EventObject,
      options: { eventId: string; by: string; cause: Cause | undefined },
    ) => Promise<unknown>)
    | undefined;

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
    this.outbox = new Outbox(this);
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

  /** Hops one chain of causes may take with no outside event (livelock.ts). */
  get maxCausalHops(): number {
    return this.options.maxCausalHops ?? DEFAULT_MAX_CAUSAL_HOPS;
  }

  /**
   * The delivery of a send from an instance to a target the engine does not know: to another
   * instance (`instance:<id>`), through the store with `cause`; else through `onSend` (none:
   * `undefined`, nothing to run). Throws when the target is refused.
   */
  routeSend(
    instanceId: string,
    target: string,
    event: EventObject,
    from: AnyInstance,
    effectId: string,
    cause: Cause | undefined,
  ): void | (() => unknown) {
    const to = instanceTarget(target);
    if (to === null) return this.options.onSend?.(target, event, from, effectId);
    if (to === "") throw new Error(`"instance:" names no instance: write "instance:<id>"`);
    const deliver = this.deliverToInstance;
    if (deliver === undefined) throw new Error("this store delivers no sends to instances");
    const options = { eventId: effectId, by: `instance:${instanceId}`, cause };
    return () => deliver(to, event, options);
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
    this.outbox.evicted(instanceId);
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
    onSend: (target: string, event: EventObject, from: AnyInstance) => void;
    schedule: (delivery: AsyncDelivery) => void;
    effectId: (invokeId: string) => string;
  } {
    return {
      id: instanceId,
      clock: this.clock,
      // A send to a target outside the engine (a plugin, another instance) is named like an
      // invocation: after the entry that made it, and its place among that entry's sends.
      // Applied again (a retry after a conflict), it has the same id, so its receiver can tell.
      onSend: (target, event, from) => {
        const to = instanceTarget(target);
        if (to === null && this.options.onSend === undefined) throw new Error("no such target");
        if (effects.sendSeq !== effects.seq || effects.sends === undefined) {
          effects.sendSeq = effects.seq;
          effects.sends = 0;
        }
        const effectId = `${instanceId}:send:${effects.seq}:${effects.sends++}`;
        let cause: Cause | undefined;
        if (to !== null) {
          // One hop more than the operation being applied: past the bound, refused.
          cause = nextCause(this.applying, instanceId, this.applyingEvent);
          if (cause.hops > this.maxCausalHops) {
            const e = new CausalLivelockError(cause, this.maxCausalHops, {
              kind: "send",
              from: instanceId,
              to,
              event: event.type,
            });
            (effects.refused ??= []).push(e);
            throw e;
          }
        }
        // Refused targets throw here (the machine hears of it); the delivery waits for the
        // commit of the transition that made it.
        const run = this.routeSend(instanceId, target, event, from, effectId, cause);
        if (typeof run !== "function") return;
        const item: OutboxItem = { target, event, effectId, run };
        if (cause !== undefined) item.cause = cause;
        if (tracing) item.trace = traceparent();
        effects.outbox.push(item);
      },
      schedule: (delivery: AsyncDelivery) => this.#onAsync(instanceId, delivery),
      // Restarted by a restore (restart, takeover): the id it had. Started by an entry: the
      // entry's seq names it.
      effectId: (invokeId) => {
        const known = effects.restoring ? effects.ids[invokeId] : undefined;
        if (known !== undefined) return known;
        const id = effects.ids[invokeId] = `${instanceId}:${invokeId}:${effects.seq}`;
        // Started by an operation of a chain of causes: its result carries one hop more.
        if (this.applying !== undefined) {
          (effects.causes ??= {})[id] = nextCause(this.applying, instanceId, this.applyingEvent);
        }
        return id;
      },
    };
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
