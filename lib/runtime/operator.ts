/**
 * Bulk operator actions: cancel, fork or redrive every instance a `list` filter selects
 * (machine, state, status, and whatever else the store's `list` filters on; a redrive runs
 * each instance's failed effects, or retries its failed invocation), with a dry run
 * that only lists them, progress as it goes, and a summary. The ids are collected first (an
 * action changes the very indexes a listing walks), then acted on one at a time; each action
 * goes through the store, so in cluster mode through the owner of the instance's partition.
 *
 * @module
 */
import type { InstanceInfo, ListOptions, Store } from "../persist/types.ts";

/** An operator action on one instance. */
export type OperatorAction = "cancel" | "fork" | "redrive";

/** What a bulk action does and to what. */
export interface BulkOptions {
  /** The action. */
  action: OperatorAction;
  /** Which instances: a `list` filter (without `limit` and `cursor`). */
  filter: Omit<ListOptions, "limit" | "cursor">;
  /** Who does it, as the journal records it. */
  by: string;
  /** `cancel`: why (required). */
  reason?: string;
  /** `fork`: each fork's id is the instance's id plus this (default `"-fork"`). */
  suffix?: string;
  /**
   * `redrive`: retry each instance's failed invocation even when it has failed effects
   * (default: its failed effects when it has any, else its failed invocation).
   */
  invocation?: boolean;
  /** Only list what would be done. */
  dryRun?: boolean;
  /** At most this many instances (default 10,000): a filter matching more is refused. */
  max?: number;
  /** Called after each instance (and once with 0 done before the first). */
  onProgress?: (done: number, total: number) => void;
}

/** The summary of a bulk action. */
export interface BulkSummary {
  /** The action. */
  action: OperatorAction;
  /** True when nothing was done. */
  dryRun: boolean;
  /** The instances the filter selected, in listing order. */
  matched: string[];
  /** The instances acted on (for `fork`: the forks' ids). */
  done: string[];
  /** The instances the action failed for, with why. */
  failed: { id: string; error: string }[];
}

/** Runs one action on one instance. */
export function operate(
  store: Store,
  action: OperatorAction,
  id: string,
  options: { by: string; reason?: string; suffix?: string; invocation?: boolean },
): Promise<InstanceInfo> {
  switch (action) {
    case "cancel":
      return store.cancel(id, { reason: options.reason ?? "", by: options.by });
    case "fork":
      return store.fork(id, `${id}${options.suffix ?? "-fork"}`, { by: options.by });
    case "redrive":
      // Failed effects first (sends kept in the outbox), else the failed invocation.
      return store.redrive(id, { by: options.by, invocation: options.invocation });
  }
}

/**
 * Runs an action on every instance a filter selects (see `BulkOptions`).
 *
 * @example
 * ```ts ignore
 * const summary = await bulk(store, {
 *   action: "cancel",
 *   filter: { machine: "order", state: "awaitingPayment" },
 *   reason: "promotion withdrawn",
 *   by: "alice",
 *   dryRun: true,
 * });
 * console.log(summary.matched.length, "would be cancelled");
 * ```
 */
export async function bulk(store: Store, options: BulkOptions): Promise<BulkSummary> {
  const max = options.max ?? 10_000;
  if (options.action === "cancel" && !(options.reason?.trim())) {
    throw new TypeError(`bulk cancel: a reason is required`);
  }
  const matched: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ ...options.filter, limit: 500, cursor });
    for (const item of page.items) matched.push(item.id);
    if (matched.length > max) {
      throw new RangeError(
        `bulk ${options.action}: the filter selects more than ${max} instances; narrow it or raise max`,
      );
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  const summary: BulkSummary = {
    action: options.action,
    dryRun: options.dryRun === true,
    matched,
    done: [],
    failed: [],
  };
  if (summary.dryRun) return summary;
  options.onProgress?.(0, matched.length);
  for (const [i, id] of matched.entries()) {
    try {
      summary.done.push((await operate(store, options.action, id, options)).id);
    } catch (e) {
      summary.failed.push({ id, error: e instanceof Error ? e.message : String(e) });
    }
    options.onProgress?.(i + 1, matched.length);
  }
  return summary;
}
