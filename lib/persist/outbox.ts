/**
 * The outbox: sends to plugins committed with the transition that made them (one record per
 * send, `K.outbox(id, effectId)`) and delivered after the commit. A delivery that runs leaves
 * the outbox; one that fails stays, its record counting the failed runs, and runs again (with
 * the same effect id) when the instance is next loaded or redriven. The `Outbox` also keeps
 * which deliveries this process started and that have not run to the end, so that a commit
 * keeps the record's `outbox` flag while any has not.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import type { KvBackend, KvMutation } from "./backend.ts";
import type { StoreClock } from "./clocks.ts";
import type { OutboxItem } from "./instance_cache.ts";
import { K } from "./keys.ts";
import { type Cause, readCause } from "./livelock.ts";
import { traceEffect } from "./tracing.ts";
import { tracing } from "../telemetry/tracing.ts";
import type { AnyInstance, FailedEffect, OpenStoreOptions } from "./types.ts";

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
  /** A send to another instance: the cause its delivery carries (livelock.ts). */
  cause?: Cause;
}

/** A failure's message is kept in the outbox record up to this many characters. */
const MAX_EFFECT_ERROR = 1000;

/**
 * What the outbox uses of the store's shared state (the `StoreContext` is one): the backend,
 * the clock, `onSend`, error reports, and whether the store was closed.
 */
export interface OutboxHost {
  readonly backend: KvBackend;
  readonly clock: StoreClock;
  readonly options: OpenStoreOptions;
  readonly closed: boolean;
  reportError(error: unknown, instanceId: string, what?: string): void;
  /** The delivery of a send (`StoreContext.routeSend`): `undefined` when nothing runs it. */
  routeSend(
    instanceId: string,
    target: string,
    event: EventObject,
    from: AnyInstance,
    effectId: string,
    cause: Cause | undefined,
  ): void | (() => unknown);
}

/** The store's outbox (`StoreContext.outbox`): its records and the deliveries of this process. */
export class Outbox {
  readonly #host: OutboxHost;

  /**
   * Effect ids of deliveries this process started and that have not run to the end (running,
   * or failed and kept in the outbox), by instance: a commit keeps the record's `outbox` flag
   * while an instance has any, so that its next load still looks in the outbox.
   */
  readonly #undelivered = new Map<string, Map<string, "running" | "failed">>();

  constructor(host: OutboxHost) {
    this.#host = host;
  }

  /** The outbox mutations of the sends a transition made (committed with it). */
  mutations(instanceId: string, items: readonly OutboxItem[]): KvMutation[] {
    return items.map((o) => {
      const value: StoredOutboxRecord = { target: o.target, event: o.event };
      if (o.trace !== undefined) value.trace = o.trace;
      if (o.cause !== undefined) value.cause = o.cause;
      return { type: "set" as const, key: K.outbox(instanceId, o.effectId), value, size: 256 };
    });
  }

  /** Whether deliveries of the instance started here have not all run (see `#undelivered`). */
  pending(instanceId: string): boolean {
    return (this.#undelivered.get(instanceId)?.size ?? 0) > 0;
  }

  /**
   * The instance left memory: its failed deliveries are forgotten here (they are in the outbox,
   * and the record's flag: the next load runs them); running ones are still tracked.
   */
  evicted(instanceId: string): void {
    const pending = this.#undelivered.get(instanceId);
    if (pending === undefined) return;
    for (const [effectId, state] of pending) if (state === "failed") pending.delete(effectId);
    if (pending.size === 0) this.#undelivered.delete(instanceId);
  }

  /**
   * Runs committed deliveries, then removes them from the outbox. One that fails stays there,
   * its record counting the failed runs with the last error and its time (`failedEffects`), and
   * runs again (with the same effect id) when the instance is next loaded or redriven.
   */
  deliver(instanceId: string, items: readonly OutboxItem[]): void {
    if (items.length === 0) return;
    void this.runDeliveries(instanceId, items).catch((e) => {
      if (!this.#host.closed) this.#host.reportError(e, instanceId, `outbox of "${instanceId}"`);
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
    const host = this.#host;
    let pending = this.#undelivered.get(instanceId);
    if (pending === undefined) this.#undelivered.set(instanceId, pending = new Map());
    for (const o of items) pending.set(o.effectId, "running");
    const results = await Promise.all(items.map(async (o) => {
      try {
        await (tracing ? traceEffect(instanceId, o) : o.run());
        return { effectId: o.effectId };
      } catch (e) {
        host.reportError(e, instanceId, `send ${o.event.type} to ${o.target} from "${instanceId}"`);
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
    if (host.closed) return results;
    if (deletes.length > 0) await host.backend.atomic([], deletes);
    const at = host.clock.now();
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
    const host = this.#host;
    const key = K.outbox(instanceId, effectId);
    for (let attempt = 0; attempt < 5 && !host.closed; attempt++) {
      const entry = await host.backend.get<StoredOutboxRecord>(key);
      if (entry.value === null) return;
      const value: StoredOutboxRecord = {
        ...entry.value,
        attempts: (entry.value.attempts ?? 0) + 1,
        error: error.length > MAX_EFFECT_ERROR ? `${error.slice(0, MAX_EFFECT_ERROR)}…` : error,
        at,
      };
      const r = await host.backend.atomic([{ key, version: entry.version }], [{
        type: "set",
        key,
        value,
        size: 256 + value.error!.length,
      }]);
      if (r.ok) return;
    }
  }

  /** The instance's outbox: its sends not yet delivered, in effect id order. */
  async records(instanceId: string): Promise<(StoredOutboxRecord & { effectId: string })[]> {
    const out: (StoredOutboxRecord & { effectId: string })[] = [];
    for await (
      const e of this.#host.backend.list<StoredOutboxRecord>({
        prefix: K.outboxPrefix(instanceId),
      })
    ) {
      out.push({ ...e.value!, effectId: e.key[3] as string });
    }
    return out;
  }

  /** The instance's failed effects: its outbox records with at least one failed run. */
  async failedEffects(instanceId: string): Promise<FailedEffect[]> {
    const out: FailedEffect[] = [];
    for (const o of await this.records(instanceId)) {
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

  /**
   * The delivery of an outbox record, made again through `onSend` or, to another instance,
   * with the cause it was sent with (null: refused, reported; or nothing runs it).
   */
  item(
    instanceId: string,
    instance: AnyInstance,
    o: StoredOutboxRecord & { effectId: string },
  ): OutboxItem | null {
    const { target, event, trace, effectId } = o;
    try {
      const cause = readCause(o.cause);
      const run = this.#host.routeSend(instanceId, target, event, instance, effectId, cause);
      if (typeof run !== "function") return null;
      const item: OutboxItem = { target, event, effectId, run };
      if (trace !== undefined) item.trace = trace;
      if (cause !== undefined) item.cause = cause;
      return item;
    } catch (err) {
      this.#host.reportError(
        err,
        instanceId,
        `send ${event.type} to ${target} from "${instanceId}"`,
      );
      return null;
    }
  }

  /** After a load: the outbox's deliveries of this instance that had not run, run now. */
  async redeliver(instanceId: string, instance: AnyInstance): Promise<void> {
    const items: OutboxItem[] = [];
    for (const o of await this.records(instanceId)) {
      const item = this.item(instanceId, instance, o);
      if (item !== null) items.push(item);
    }
    this.deliver(instanceId, items);
  }
}
