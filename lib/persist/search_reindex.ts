/**
 * Re-indexing a machine's instances when its `search` declaration (or its states' tags)
 * changed: the store runs it in the background when a machine is registered or replaced, one
 * instance at a time through the instance's mailbox, each a compare-and-set of the record, and
 * records the declaration once every instance carries it. See docs/operations.md, "Search".
 *
 * @module
 */
import type { KvMutation } from "./backend.ts";
import { indexChanges } from "./indexes.ts";
import { K } from "./keys.ts";
import type { InstanceRecord } from "./records.ts";
import { declarationOf, sameSearch, setSearch } from "./search.ts";
import type { StoreContext } from "./store_context.ts";
import type { AnyMachine, ReindexProgress } from "./types.ts";

/** Runs `task` in the instance's mailbox (serialised with its macrosteps). */
export type RunInMailbox = (id: string, task: () => Promise<void>) => Promise<void>;

/** How often progress is reported, in instances. */
const PROGRESS_EVERY = 100;

/**
 * Brings every instance of `machine` under its current search declaration; a no-op when the
 * store already records that declaration as done. Stops early (unfinished, reported) when the
 * store closes.
 */
export async function reindexMachine(
  ctx: StoreContext,
  machine: AnyMachine,
  run: RunInMailbox,
  onProgress?: (p: ReindexProgress) => void,
): Promise<ReindexProgress> {
  const decl = declarationOf(machine);
  const marker = await ctx.backend.get<string>(K.searchDecl(machine.id));
  const progress: ReindexProgress = {
    machine: machine.id,
    done: 0,
    total: 0,
    updated: 0,
    finished: false,
  };
  if (marker.value === decl || (marker.value === null && decl === null)) {
    progress.finished = true;
    return progress;
  }
  const ids: string[] = [];
  for await (const e of ctx.backend.list({ prefix: K.ixMachine(machine.id, "").slice(0, 3) })) {
    ids.push(e.key[3] as string);
  }
  progress.total = ids.length;
  onProgress?.({ ...progress });
  for (const id of ids) {
    if (ctx.closed) return progress;
    await run(id, async () => {
      if (await reindexOne(ctx, machine, id)) progress.updated++;
    });
    progress.done++;
    if (progress.done % PROGRESS_EVERY === 0) onProgress?.({ ...progress });
  }
  if (decl === null) {
    await ctx.backend.atomic([], [{ type: "delete", key: K.searchDecl(machine.id) }]);
  } else {await ctx.backend.atomic([], [{
      type: "set",
      key: K.searchDecl(machine.id),
      value: decl,
    }]);}
  progress.finished = true;
  onProgress?.({ ...progress });
  return progress;
}

/** Rewrites one instance's search values and index entries; false when they were current. */
async function reindexOne(ctx: StoreContext, machine: AnyMachine, id: string): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await ctx.backend.get<InstanceRecord>(K.inst(id));
    const rec = entry.value;
    if (rec === null || rec.machine !== machine.id) return false;
    const context = await ctx.records.readContext(rec);
    const next: InstanceRecord = { ...rec };
    setSearch(next, machine, { context, configuration: rec.configuration });
    if (sameSearch(rec.search, next.search)) return false;
    const mutations: KvMutation[] = [{ type: "set", key: K.inst(id), value: next }];
    indexChanges(rec, next, mutations);
    // A compare-and-set of the record: a macrostep committed meanwhile wrote its own values.
    const r = await ctx.backend.atomic([{ key: K.inst(id), version: entry.version }], mutations);
    if (r.ok) {
      if (ctx.cache.has(id)) ctx.evict(id);
      return true;
    }
  }
  return false;
}
