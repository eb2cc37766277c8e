/**
 * `statecraft instance cancel|fork|redrive`: the operator actions (docs/operations.md,
 * "Operator actions") on one instance, or in bulk on every instance a filter selects
 * (`--machine`, `--state`, `--status`, `--where`), with `--dry-run`, a progress bar on a
 * terminal and a summary line.
 *
 * The store is opened like the `kv` commands open it: in `inspect` mode, so nothing of the
 * instances runs in this short-lived process (no timer fires, no invocation starts here). The
 * actions are commits like a rollback; a redriven invocation starts, and redriven effects run,
 * when a running node next loads the instance (this process runs no sends: `queued`). On a
 * store that runs in cluster mode the command joins the cluster as a client while it runs:
 * each action is forwarded to the owner of the instance's partition, which commits it and
 * runs what follows (a redriven effect is then `delivered` or `failed`, not `queued`).
 *
 * @module
 */
import type { InstanceInfo, ListOptions } from "../persist/store.ts";
import { bulk, type BulkSummary, type OperatorAction } from "../runtime/operator.ts";
import { CliError } from "./cli_error.ts";
import {
  atomicStates,
  formatStates,
  type KvOutput,
  type KvStoreOptions,
  withKvStore,
} from "./kv_store.ts";
import { ProgressLine } from "./kv_progress.ts";
import { listFilter } from "./kv.ts";
import type { KV_STATUSES } from "./constants.ts";

const CONSOLE: KvOutput = {
  line: (text) => console.log(text),
  warn: (text) => console.error(text),
};

/** Options every `instance` action takes: the store, who acts, and the bulk filter. */
export interface InstanceActionOptions extends KvStoreOptions {
  /** Who does it, as the journal records it (default `"cli"`). */
  by?: string;
  /** Bulk: only instances of this machine. */
  machine?: string;
  /** Bulk: only instances with this state active. */
  state?: string;
  /** Bulk: only instances with this status. */
  status?: typeof KV_STATUSES[number];
  /** Bulk: search clauses (`customer=acme`, `total>=100`, `tag=vip`). */
  where?: string[];
  /** Bulk: only list the instances that would be acted on. */
  dryRun?: boolean;
  /** `cancel`: why (required). */
  reason?: string;
  /** `fork`, one instance: the journal seq to fork at (default: the latest). */
  at?: number;
  /** `fork`, one instance: the fork's id (default `<id>-fork`). */
  id?: string;
  /** `fork`, bulk: each fork's id is the instance's id plus this (default `-fork`). */
  suffix?: string;
  /** `redrive`, one instance: only this failed effect (an effect id in its outbox). */
  effect?: string;
  /** `redrive`: the failed invocation, even when there are failed effects. */
  invocation?: boolean;
}

const PAST: Record<OperatorAction, string> = {
  cancel: "cancelled",
  fork: "forked",
  redrive: "redriven",
};

/**
 * `instance <action> [id]`: one instance when `id` is given, else every instance the filter
 * selects (a filter is then required). Returns the exit code: 1 when an instance failed.
 *
 * @example
 * ```ts ignore
 * import { instanceCommand } from "./instance.ts";
 * await instanceCommand("cancel", "order-17", { kv: "state.kv", reason: "customer asked" });
 * ```
 */
export async function instanceCommand(
  action: OperatorAction,
  id: string | undefined,
  options: InstanceActionOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  const by = options.by ?? "cli";
  if (action === "cancel" && !(options.reason?.trim())) {
    throw new CliError(`instance cancel: --reason is required`);
  }
  const filter = bulkFilter(options);
  if (id !== undefined) {
    if (filter !== undefined || options.dryRun === true) {
      throw new CliError(
        `instance ${action} ${id}: --machine, --state, --status, --where and --dry-run select ` +
          `instances in bulk; give either an id or a filter`,
      );
    }
    if (options.suffix !== undefined) {
      throw new CliError(
        `instance fork ${id}: --suffix is for bulk forks; name the fork with --id`,
      );
    }
    if (options.effect !== undefined && options.invocation === true) {
      throw new CliError(
        `instance redrive ${id}: --effect and --invocation pick different things; give one`,
      );
    }
    return await withKvStore(options, out, async ({ store, machines }) => {
      let info: InstanceInfo;
      switch (action) {
        case "cancel":
          info = await store.cancel(id, { reason: options.reason!, by });
          break;
        case "fork":
          info = await store.fork(id, options.id ?? `${id}-fork`, { seq: options.at, by });
          break;
        case "redrive": {
          const r = await store.redrive(id, {
            by,
            effect: options.effect,
            invocation: options.invocation,
          });
          info = r;
          // One line per effect run again: `effect <id>  delivered|failed: <why>|queued`.
          for (const e of r.redriven ?? []) {
            out.line(
              `effect ${e.effectId}  ${e.outcome}${e.error === undefined ? "" : `: ${e.error}`}`,
            );
          }
          break;
        }
      }
      const states = formatStates(atomicStates(machines.get(info.machine), info.configuration));
      out.line(
        action === "fork" ? `${info.id}  ${states}` : `${info.id}  ${info.status}  ${states}`,
      );
      return 0;
    }, { join: true });
  }
  if (filter === undefined) {
    throw new CliError(
      `instance ${action}: give an instance id, or select instances with --machine, --state, ` +
        `--status or --where`,
    );
  }
  if (options.effect !== undefined) {
    throw new CliError(
      `instance redrive: --effect names an effect of one instance; give its id`,
    );
  }
  if (options.at !== undefined || options.id !== undefined) {
    throw new CliError(
      `instance fork: --at and --id are for one instance; a bulk fork forks at the latest seq ` +
        `and names each fork <id><suffix>`,
    );
  }
  return await withKvStore(options, out, async ({ store }) => {
    const progress = new ProgressLine();
    let summary: BulkSummary;
    try {
      summary = await bulk(store, {
        action,
        filter,
        by,
        reason: options.reason,
        suffix: options.suffix,
        invocation: options.invocation,
        dryRun: options.dryRun,
        onProgress: (done, total) =>
          progress.update(total === 0 ? 1 : done / total, `${done}/${total} instances`),
      });
    } catch (e) {
      progress.clear();
      if (e instanceof TypeError || e instanceof RangeError) throw new CliError(e.message);
      throw e;
    }
    const n = summary.matched.length;
    if (!summary.dryRun) progress.finish(1, `${n}/${n} instances`);
    return report(summary, out);
  }, { join: options.dryRun !== true });
}

/** Prints the bulk result: ids on stdout, failures and the summary line on stderr. */
function report(summary: BulkSummary, out: KvOutput): number {
  const { action, matched, done, failed } = summary;
  if (summary.dryRun) {
    for (const id of matched) out.line(id);
    out.warn(`dry run: ${count(matched.length)} would be ${PAST[action]}; nothing changed`);
    return 0;
  }
  for (const id of done) out.line(id);
  for (const f of failed) out.warn(`failed ${f.id}: ${f.error}`);
  out.warn(
    `${PAST[action]} ${done.length} of ${count(matched.length)}` +
      (failed.length > 0 ? `, ${failed.length} failed` : ""),
  );
  return failed.length > 0 ? 1 : 0;
}

function count(n: number): string {
  return `${n} instance${n === 1 ? "" : "s"}`;
}

/** The bulk filter, or `undefined` when the options select nothing. */
function bulkFilter(
  options: InstanceActionOptions,
): Omit<ListOptions, "limit" | "cursor"> | undefined {
  const filter = listFilter(options);
  return Object.keys(filter).length === 0 ? undefined : filter;
}
