/**
 * The clocks of a store's instances: the store's own, frozen at the journal time while a batch
 * is applied (so due times are journal time + delay and a replay reproduces them), and the
 * replay clock, set per journal entry, whose timers never fire.
 *
 * @module
 */
import type { Clock } from "../core/types.ts";

/**
 * The clock instances of a store run on: the configured clock, except that while a batch is
 * applied `now()` is frozen at the batch's journal time.
 */
export class StoreClock implements Clock {
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
export class ReplayClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimer(): unknown {
    return null;
  }
  clearTimer(): void {}
}
