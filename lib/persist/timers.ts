/**
 * Durable timers. Pending `after` delays and delayed sends live in an instance's snapshot and
 * in a due-time index (`K.timer`). An instance in memory arms its timers on the clock; the
 * poller here loads instances not in memory shortly before their timers fall due, which arms
 * theirs (overdue ones fire at once, in due order), and instances whose outbox holds sends that
 * have not run (loading runs them). A timer firing goes through the instance's
 * mailbox with a timer event id, so two processes never apply one timer twice.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvBackend } from "./backend.ts";
import { K } from "./keys.ts";

/** A pending timer of an instance, in its record: due time and `<invoke path>:<sendId>`. */
export interface TimerRef {
  due: number;
  ref: string;
}

/** Every pending timer of a snapshot and of its invoked children. */
export function collectTimers(snap: Snapshot, path: string[]): TimerRef[] {
  const out: TimerRef[] = [];
  for (const t of snap.timers) out.push({ due: t.due, ref: `${path.join("/")}:${t.sendId}` });
  for (const [invokeId, child] of Object.entries(snap.children)) {
    out.push(...collectTimers(child, [...path, invokeId]));
  }
  return out;
}

/**
 * The event id of a timer firing. `base` is the seq of the instance's last rollback (or
 * migration, recovery, import): a timer that fired, then was brought back by a rollback, fires
 * again under a new id; two processes arming the same timer of the same state share its id.
 */
export function timerEventId(base: number, path: readonly string[], sendId: string, due: number) {
  return `tm:${base}:${path.join("/")}:${sendId}:${due}`;
}

/** Options of the poller. */
export interface TimerPollerOptions {
  backend: KvBackend;
  /** The time now (the store's clock). */
  now(): number;
  /** How often to look, in ms. */
  everyMs: number;
  /** Whether the instance is in memory (its timers are armed already). */
  isLoaded(id: string): boolean;
  /** Loads the instance (arming its timers). */
  load(id: string): void;
  /** Errors of a round. */
  onError(error: Error): void;
}

/** Looks for instances with timers due soon that are not in memory, and loads them. */
export class TimerPoller {
  readonly #o: TimerPollerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: TimerPollerOptions) {
    this.#o = options;
    this.#schedule(0);
  }

  /** Stops polling. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => this.#poll(), ms);
    this.#timer = timer;
    Deno.unrefTimer(timer as unknown as number);
  }

  async #poll(): Promise<void> {
    const o = this.#o;
    try {
      const horizon = o.now() + o.everyMs * 2;
      const due = new Set<string>();
      const iter = o.backend.list({ prefix: K.timerPrefix(), end: [...K.timerPrefix(), horizon] }, {
        limit: 500,
      });
      for await (const e of iter) due.add(e.key[3] as string);
      // Instances with sends in the outbox that have not run (a crash, a takeover): loading
      // them runs those sends.
      for await (const e of o.backend.list({ prefix: K.outboxAll() }, { limit: 500 })) {
        due.add(e.key[2] as string);
      }
      for (const id of due) {
        if (this.#stopped) return;
        if (!o.isLoaded(id)) o.load(id);
      }
    } catch (e) {
      if (this.#stopped) return;
      o.onError(e instanceof Error ? e : new Error(String(e)));
    }
    this.#schedule(o.everyMs);
  }
}
