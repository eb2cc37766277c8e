/**
 * Time sources. The engine reads time and sets timers only through a `Clock`, so tests and
 * simulations drive it with a `VirtualClock` and production uses the `SystemClock`.
 *
 * @module
 */
import type { Clock } from "./types.ts";

/**
 * Wall-clock time and the host's timers (web-standard `setTimeout`, no Deno API).
 *
 * @example
 * ```ts
 * import { SystemClock } from "./clock.ts";
 * const clock = new SystemClock();
 * const handle = clock.setTimer(() => {}, 10);
 * clock.clearTimer(handle);
 * ```
 */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(fn: () => void, ms: number): unknown {
    return setTimeout(fn, Math.max(0, ms));
  }
  clearTimer(handle: unknown): void {
    clearTimeout(handle as number);
  }
}

interface VirtualTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told: `advance(ms)` fires every timer due within the window,
 * in due order (ties in the order they were set), including timers set while firing.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock();
 * const fired: number[] = [];
 * clock.setTimer(() => fired.push(clock.now()), 1000);
 * clock.advance(1500);
 * // fired is [1000]; clock.now() is 1500
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: VirtualTimer[] = [];

  /**
   * Makes a clock standing at `start` with no timers; time moves only through `advance` and
   * `runAll`.
   *
   * @param start the initial time (default 0).
   */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const timer: VirtualTimer = {
      due: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    const timer = handle as VirtualTimer;
    timer.cancelled = true;
    const i = this.#timers.indexOf(timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The due time of the next pending timer, or `undefined`. */
  nextDue(): number | undefined {
    const next = this.#earliest();
    return next?.due;
  }

  /** Moves time forward by `ms`, firing due timers in order; returns how many fired. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance: ms must be >= 0, got ${ms}`);
    const end = this.#now + ms;
    let fired = 0;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.due > end) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = next.due;
      fired++;
      next.fn();
    }
    this.#now = end;
    return fired;
  }

  /** Fires timers until none is pending or `limitMs` of virtual time has passed. */
  runAll(limitMs = Number.MAX_SAFE_INTEGER): number {
    const start = this.#now;
    let fired = 0;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.due - start > limitMs) break;
      fired += this.advance(next.due - this.#now);
    }
    return fired;
  }

  #earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) {
        best = t;
      }
    }
    return best;
  }
}
