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
    const delay = Math.max(0, ms);
    // Web timers take a 32-bit delay: a longer one would fire at once. Wait in steps instead.
    if (!(delay > MAX_TIMEOUT)) return setTimeout(fn, delay);
    const handle = new LongTimer();
    const due = Date.now() + delay;
    const step = () => {
      const left = due - Date.now();
      handle.id = left > MAX_TIMEOUT ? setTimeout(step, MAX_TIMEOUT) : setTimeout(fn, left);
    };
    handle.id = setTimeout(step, MAX_TIMEOUT);
    return handle;
  }
  clearTimer(handle: unknown): void {
    // Hosts differ in what `setTimeout` returns (a number, or an object under Node
    // compatibility): only our own long-timer handle is unwrapped.
    clearTimeout(handle instanceof LongTimer ? handle.id : handle as number);
  }
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT = 2_147_483_647;

/** A `SystemClock` timer longer than `MAX_TIMEOUT`: the id of the step now waiting. */
class LongTimer {
  id: ReturnType<typeof setTimeout> | undefined = undefined;
}

interface VirtualTimer {
  due: number;
  seq: number;
  fn: () => void;
  /** Fired or cancelled: no longer pending (it may still sit in the heap until popped). */
  gone: boolean;
}

/**
 * A clock that moves only when told: `advance(ms)` fires every timer due within the window,
 * in due order (ties in the order they were set), including timers set while firing.
 *
 * Timers sit in a binary heap ordered by (due, seq): setting, cancelling and firing each cost
 * O(log n), so 100,000 pending timers are as cheap per timer as ten. A cancelled timer is
 * marked and dropped when it reaches the top, or when cancelled ones make up half the heap.
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
  #heap: VirtualTimer[] = [];
  /** Timers in the heap that are cancelled but not yet dropped. */
  #cancelled = 0;

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
      gone: false,
    };
    this.#push(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    const timer = handle as VirtualTimer;
    if (timer === null || typeof timer !== "object" || timer.gone) return;
    timer.gone = true;
    this.#cancelled++;
    if (this.#cancelled > 64 && this.#cancelled * 2 > this.#heap.length) this.#compact();
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#heap.length - this.#cancelled;
  }

  /** The due time of the next pending timer, or `undefined`. */
  nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /** Moves time forward by `ms`, firing due timers in order; returns how many fired. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance: ms must be >= 0, got ${ms}`);
    const end = this.#now + ms;
    let fired = 0;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.due > end) break;
      this.#pop();
      next.gone = true;
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

  /** The top of the heap after dropping cancelled timers there. */
  #earliest(): VirtualTimer | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].gone) {
      this.#pop();
      this.#cancelled--;
    }
    return heap[0];
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length > 0) this.#siftDown(last, 0);
  }

  #siftDown(timer: VirtualTimer, from: number): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = from;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], timer)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = timer;
  }

  /** Drops every cancelled timer and rebuilds the heap: O(n), after at least n/2 cancels. */
  #compact(): void {
    const heap = this.#heap.filter((t) => !t.gone);
    this.#heap = heap;
    this.#cancelled = 0;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(heap[i], i);
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
