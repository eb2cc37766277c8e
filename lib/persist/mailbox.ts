/**
 * The per-instance mailbox: one operation at a time per instance, in arrival order; different
 * instances run concurrently. Sends waiting together for one instance are handed over as one
 * batch (bounded in count and bytes) so that they are committed together.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import { activeContext, tracing } from "../telemetry/tracing.ts";
import type { Cause } from "./livelock.ts";
import { type SendResult, StoreError } from "./types.ts";

/** An operation applied to an instance in its mailbox. */
export interface Operation {
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
  /** OpenTelemetry on: the context it was sent in (its macrostep's parent). */
  trace?: unknown;
  /** Caused by another operation, not from outside: its hop count and chain (livelock.ts). */
  cause?: Cause;
}

/** A send waiting in an instance's mailbox. */
export interface QueuedSend {
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

/** Settles a send once (later calls do nothing). */
export function settle(item: QueuedSend, error: unknown, result?: SendResult): void {
  if (item.settled) return;
  item.settled = true;
  item.outcome = result !== undefined ? { result } : { error };
  if (result !== undefined) item.resolve(result);
  else item.reject(error ?? new Error("send was not applied"));
}

/** A second send of an event id in one batch gets the first one's outcome. */
export function settleEcho(item: QueuedSend, of: QueuedSend): void {
  const outcome = of.outcome;
  if (outcome?.result !== undefined) settle(item, null, { ...outcome.result, duplicate: true });
  else {
    settle(item, outcome?.error ?? new StoreError("conflict", "the first send of this id failed"));
  }
}

/** Limits of one batch of sends. */
export interface BatchLimits {
  /** Sends per batch. */
  count: number;
  /** Event bytes per batch. */
  bytes: number;
}

/** Every instance's mailbox. */
export class Mailboxes {
  /** Per instance: the jobs waiting; present while the instance's mailbox is being drained. */
  readonly #queues = new Map<string, Job[]>();
  readonly #running = new Set<Promise<void>>();
  readonly #apply: (instanceId: string, batch: QueuedSend[]) => Promise<void>;
  readonly #limits: BatchLimits;
  #closed = false;

  /** `apply` commits a batch of sends and settles each one. */
  constructor(
    apply: (instanceId: string, batch: QueuedSend[]) => Promise<void>,
    limits: BatchLimits,
  ) {
    this.#apply = apply;
    this.#limits = limits;
  }

  /** Whether the instance has work queued or running. */
  busy(instanceId: string): boolean {
    return this.#queues.has(instanceId);
  }

  /** How many instances have work queued or running (0: every mailbox is empty). */
  get pending(): number {
    return this.#queues.size;
  }

  /**
   * Resolves once no mailbox has work queued or running, including work queued while
   * waiting (a timer's firing queued by a commit, say).
   */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Runs a task in the instance's mailbox. */
  enqueue<T>(instanceId: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError("invalid", "the store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.#push(instanceId, { run: () => task().then(resolve, reject) });
    });
  }

  /** Queues a send; sends queued together for one instance are committed together. */
  enqueueSend(instanceId: string, op: Operation): Promise<SendResult> {
    if (this.#closed) return Promise.reject(new StoreError("invalid", "the store is closed"));
    if (tracing && op.trace === undefined) op.trace = activeContext();
    return new Promise<SendResult>((resolve, reject) => {
      this.#push(instanceId, { send: { op, resolve, reject, settled: false } });
    });
  }

  /** Refuses new work and waits for what is queued. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #push(instanceId: string, job: Job): void {
    const queue = this.#queues.get(instanceId);
    if (queue !== undefined) {
      queue.push(job);
      return;
    }
    const fresh = [job];
    this.#queues.set(instanceId, fresh);
    const running = this.#drain(instanceId, fresh);
    this.#running.add(running);
    running.finally(() => this.#running.delete(running));
  }

  async #drain(instanceId: string, queue: Job[]): Promise<void> {
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
        queue.length > 0 && queue[0].send !== undefined && batch.length < this.#limits.count &&
        bytes < this.#limits.bytes
      ) {
        const next = queue.shift()!.send!;
        bytes += next.op.bytes ?? 1024;
        batch.push(next);
      }
      try {
        await this.#apply(instanceId, batch);
      } catch (e) {
        for (const item of batch) settle(item, e);
      }
    }
    this.#queues.delete(instanceId);
  }
}
