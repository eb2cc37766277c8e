/**
 * The load shapes of the store benchmark, shared by the store runs and the raw-storage
 * baseline (`_raw_baseline.ts`) so that both are driven the same way: a closed loop of
 * `workers` concurrent senders, each sending its next event when its last one is acknowledged,
 * timed over a window after a warm-up.
 *
 * - `owned`: worker k sends to instance k, one event after another (workers = instances).
 * - `round-robin`: every worker takes the next instance id in round-robin order over all
 *   instances, so with more instances than workers each instance gets an event every
 *   `instances` events (with 100,000 instances and a 10,000-instance cache: every event is
 *   for an instance that is not in memory).
 *
 * @module
 */

/** How the workers pick instances. */
export type LoadMode = "owned" | "round-robin";

/** The measured window of a closed loop. */
export interface LoopResult {
  /** Events acknowledged inside the window. */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Ack latencies (ms) of the events sent and acknowledged inside the window, sorted. */
  latencies: number[];
}

/** Options of `closedLoop`. */
export interface LoopOptions {
  /** Sends one event to an instance; resolves when it is acknowledged (durable). */
  send(id: string): Promise<unknown>;
  ids: readonly string[];
  workers: number;
  mode: LoadMode;
  warmupMs: number;
  measureMs: number;
  /** Called when the window opens and when it closes (to read counters). */
  onWindowStart?(): void;
  onWindowEnd?(): void;
}

/** The value at quantile `p` of a sorted array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Runs a closed loop: warm-up, then a timed window; workers stop when the window closes. */
export async function closedLoop(o: LoopOptions): Promise<LoopResult> {
  if (o.mode === "owned" && o.workers > o.ids.length) {
    throw new RangeError(`owned mode: ${o.workers} workers for ${o.ids.length} instances`);
  }
  let windowStart = Infinity;
  let next = 0;
  let events = 0;
  let opened = false;
  const latencies: number[] = [];
  const timer = setTimeout(() => {
    opened = true;
    windowStart = performance.now();
    o.onWindowStart?.();
  }, o.warmupMs);
  let closedAt = 0;
  const closer = setTimeout(() => {
    closedAt = performance.now();
    o.onWindowEnd?.();
  }, o.warmupMs + o.measureMs);
  const worker = async (k: number): Promise<void> => {
    while (closedAt === 0) {
      const id = o.mode === "owned" ? o.ids[k] : o.ids[next++ % o.ids.length];
      const s = performance.now();
      await o.send(id);
      if (closedAt !== 0) break;
      if (opened) {
        events++;
        if (s >= windowStart) latencies.push(performance.now() - s);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.workers }, (_, k) => worker(k)));
  } finally {
    clearTimeout(timer);
    clearTimeout(closer);
  }
  const seconds = (closedAt - windowStart) / 1000;
  latencies.sort((a, b) => a - b);
  return { events, seconds, eventsPerSecond: events / seconds, latencies };
}
