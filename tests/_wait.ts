/**
 * The tests' one way to wait for something that happens on its own time (a commit reaching a
 * watcher, a server accepting connections, a process exiting): poll a check until it holds.
 * Prefer a signal when the code under test offers one; never a fixed sleep.
 *
 * @module
 */

/** How long to wait, and how often to look. */
export interface WaitOptions {
  /** Give up after this many ms of real time (default 10,000). */
  ms?: number;
  /** Look this often, in ms (default 10; backs off by doubling up to it when `backoff`). */
  everyMs?: number;
  /** Start at 10 ms and double up to `everyMs` (for checks that are costly, such as a process). */
  backoff?: boolean;
  /** Treat a throwing check as "not yet" (its last error is reported on timeout). */
  retryErrors?: boolean;
}

/**
 * Calls `check` until it returns something other than `undefined`, `null` or `false`, and
 * returns that; throws `<what>: not within <ms> ms` (with the check's last error) otherwise.
 *
 * @example
 * ```ts ignore
 * await waitFor("the send to commit", async () => (await store.get("a"))?.seq === 2);
 * const port = await waitFor("the port", () => server.port, { ms: 5000 });
 * ```
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const ms = options.ms ?? 10_000;
  const everyMs = options.everyMs ?? 10;
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0;; i++) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
    } catch (e) {
      if (options.retryErrors !== true) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const cause = last === undefined
        ? ""
        : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`${what}: not within ${ms} ms${cause}`);
    }
    const pause = options.backoff === true ? Math.min(everyMs, 10 * 2 ** i) : everyMs;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
