/**
 * Re-indexing a machine's instances when its `search` declaration (or its states' tags)
 * changed: the store runs it in the background when a machine is registered or replaced, one
 * instance at a time through the instance's mailbox, each a compare-and-set of the record, and
 * records the declaration once every instance carries it.
 *
 * Of the stores (nodes) on one backend, one does the work: it holds a lease record per machine
 * (`["sc", "ixjob", machine]`: holder, declaration, expiry, progress), renews it while working
 * (every `renewEvery` instances, or a third of the lease), and stores there the last instance
 * done. The others wait, reporting the holder's progress, until the declaration is recorded;
 * when the lease expires (the holder died) or is released (the holder closed), one of them
 * takes it over and resumes after the last instance done. See docs/operations.md, "Search".
 *
 * @module
 */
import type { KvKey, KvMutation } from "./backend.ts";
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
 * The lease's timing (wall-clock ms; nodes' clocks should agree within a fraction of
 * `leaseMs`). Tests shorten it; `beforeInstance` lets a test hold a holder midway.
 */
export const reindexTuning: {
  /** How long a lease lasts unless renewed: a dead holder's work is taken over after it. */
  leaseMs: number;
  /** The holder renews (and stores its progress) at least every this many instances. */
  renewEvery: number;
  /** How often a waiting node looks at the lease. */
  pollMs: number;
  /** Called by the holder before each instance (tests). */
  beforeInstance?: (holder: string, id: string) => Promise<void> | void;
} = { leaseMs: 15_000, renewEvery: 50, pollMs: 250 };

/** The lease record of a machine's re-index. */
export interface ReindexLease {
  /** The node working (`reindexHolder`). */
  holder: string;
  /** The declaration being indexed (`declarationOf`). */
  decl: string | null;
  /** Wall-clock ms after which another node may take the lease over. */
  expiresAt: number;
  /** The last instance id done, in the machine index's order (a takeover resumes after it). */
  after: string | null;
  /** Instances done, of `total`; `updated` of them changed. */
  done: number;
  total: number;
  updated: number;
  /** The run is over (the declaration is recorded): not resumed. */
  finished?: boolean;
}

/** The key of a machine's re-index lease. */
export const reindexLeaseKey = (machine: string): KvKey => K.reindexLease(machine);

const holders = new WeakMap<StoreContext, string>();

/** This store's name as a lease holder: its cluster node (if any) and a random suffix. */
export function reindexHolder(ctx: StoreContext): string {
  let name = holders.get(ctx);
  if (name === undefined) {
    name = `${ctx.cluster?.node ?? "store"}-${crypto.randomUUID().slice(0, 8)}`;
    holders.set(ctx, name);
  }
  return name;
}

/** Waits `ms` (a timer that always ends: the store's close waits for the re-index). */
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(1, ms)));

/**
 * Brings every instance of `machine` under its current search declaration; a no-op when the
 * store already records that declaration as done. Only the lease holder works; other stores
 * wait (reporting the holder's progress) and take over if the holder goes. Stops early
 * (unfinished, lease released) when the store closes.
 */
export async function reindexMachine(
  ctx: StoreContext,
  machine: AnyMachine,
  run: RunInMailbox,
  onProgress?: (p: ReindexProgress) => void,
): Promise<ReindexProgress> {
  const decl = declarationOf(machine);
  const me = reindexHolder(ctx);
  const key = reindexLeaseKey(machine.id);
  let progress: ReindexProgress = {
    machine: machine.id,
    done: 0,
    total: 0,
    updated: 0,
    finished: false,
  };
  let reported = false;
  let shown = "";
  for (;;) {
    if (ctx.closed) return progress;
    const marker = await ctx.backend.get<string>(K.searchDecl(machine.id));
    if (marker.value === decl || (marker.value === null && decl === null)) {
      progress.finished = true;
      if (!reported) return progress;
      // The final counts of the node that did the work, from its finished lease.
      const last = (await ctx.backend.get<ReindexLease>(key)).value;
      if (last?.finished === true && last.decl === decl) {
        const { done, total, updated, holder } = last;
        progress = { ...progress, done, total, updated, holder };
      }
      onProgress?.({ ...progress });
      return progress;
    }
    const entry = await ctx.backend.get<ReindexLease>(key);
    const lease = entry.value;
    const now = Date.now();
    if (lease !== null && !lease.finished && lease.holder !== me && lease.expiresAt > now) {
      // Another node works: show its progress, look again.
      progress = { ...progress, done: lease.done, total: lease.total, updated: lease.updated };
      progress.holder = lease.holder;
      const seen = JSON.stringify(progress);
      if (seen !== shown && lease.total > 0) {
        shown = seen;
        reported = true;
        onProgress?.({ ...progress });
      }
      await pause(Math.min(reindexTuning.pollMs, lease.expiresAt - now + 1));
      continue;
    }
    // Free, expired, released or stale: take it, resuming a run of the same declaration.
    const resume = lease !== null && !lease.finished && lease.decl === decl ? lease : null;
    const mine: ReindexLease = {
      holder: me,
      decl,
      expiresAt: now + reindexTuning.leaseMs,
      after: resume?.after ?? null,
      done: resume?.done ?? 0,
      total: resume?.total ?? 0,
      updated: resume?.updated ?? 0,
    };
    // Checked against the declaration marker read above too: a holder that finished between
    // the two reads (marker written, lease ended) makes this take fail, and the loop sees it.
    const took = await ctx.backend.atomic([
      { key, version: entry.version },
      { key: K.searchDecl(machine.id), version: marker.version },
    ], [{ type: "set", key, value: mine }]);
    if (!took.ok) continue;
    const job = new Job(ctx, machine, run, key, mine, took.version, onProgress);
    const outcome = await job.work();
    progress = job.progress();
    reported = true;
    if (outcome === "finished") return progress;
    if (outcome === "closed") {
      await job.release();
      return progress;
    }
    // "lost": another node took the lease over (this one was too slow to renew): wait on it.
  }
}

/** One holder's run: the instances after the lease's `after`, renewing as it goes. */
class Job {
  #version: string;
  constructor(
    readonly ctx: StoreContext,
    readonly machine: AnyMachine,
    readonly run: RunInMailbox,
    readonly key: KvKey,
    readonly lease: ReindexLease,
    version: string,
    readonly onProgress?: (p: ReindexProgress) => void,
  ) {
    this.#version = version;
  }

  progress(finished = false): ReindexProgress {
    const { done, total, updated, holder } = this.lease;
    return { machine: this.machine.id, done, total, updated, finished, holder };
  }

  /** Writes the lease (renewed, with progress) if it is still this node's. */
  async #write(mutations: KvMutation[] = []): Promise<boolean> {
    this.lease.expiresAt = Date.now() + reindexTuning.leaseMs;
    const r = await this.ctx.backend.atomic([{ key: this.key, version: this.#version }], [
      { type: "set", key: this.key, value: this.lease },
      ...mutations,
    ]);
    if (r.ok) this.#version = r.version;
    return r.ok;
  }

  async work(): Promise<"finished" | "lost" | "closed"> {
    const { ctx, machine, lease } = this;
    const prefix: KvKey = ["sc", "ixm", machine.id];
    const ids: string[] = [];
    const selector = lease.after === null
      ? { prefix }
      : { prefix, start: [...prefix, lease.after + "\0"] };
    for await (const e of ctx.backend.list(selector)) ids.push(e.key[3] as string);
    lease.total = lease.done + ids.length;
    if (!await this.#write()) return "lost";
    this.onProgress?.(this.progress());
    let renewedAt = Date.now();
    let sinceRenew = 0;
    for (const id of ids) {
      if (ctx.closed) return "closed";
      await reindexTuning.beforeInstance?.(lease.holder, id);
      if (ctx.closed) return "closed";
      await this.run(id, async () => {
        if (await reindexOne(ctx, machine, id)) lease.updated++;
      });
      lease.done++;
      lease.after = id;
      if (lease.done % PROGRESS_EVERY === 0) this.onProgress?.(this.progress());
      sinceRenew++;
      const due = Date.now() - renewedAt > reindexTuning.leaseMs / 3;
      if (sinceRenew >= reindexTuning.renewEvery || due) {
        if (!await this.#write()) return "lost";
        renewedAt = Date.now();
        sinceRenew = 0;
      }
    }
    // The declaration and the end of the lease, in one write, if the lease is still this one's.
    const decl = lease.decl;
    const marker: KvMutation = decl === null
      ? { type: "delete", key: K.searchDecl(machine.id) }
      : { type: "set", key: K.searchDecl(machine.id), value: decl };
    lease.finished = true;
    if (!await this.#write([marker])) return "lost";
    this.onProgress?.(this.progress(true));
    return "finished";
  }

  /** Closing: hands the lease over at once (expired), keeping the progress for a takeover. */
  async release(): Promise<void> {
    this.lease.expiresAt = 0;
    await this.ctx.backend.atomic([{ key: this.key, version: this.#version }], [{
      type: "set",
      key: this.key,
      value: this.lease,
    }]);
  }
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
