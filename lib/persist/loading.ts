/**
 * Loading an instance into memory: its record and snapshot read and checked; a snapshot that
 * fails its integrity check rebuilt from checkpoint + journal (`recovery`); a snapshot of
 * another shape of its machine migrated (`migration`); either committed as a whole new state
 * with a journal entry and a checkpoint (`commitReplacement`, which rollbacks use too).
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvMutation } from "./backend.ts";
import { CHUNK_BYTES, StoreDataError } from "./codec.ts";
import { feedRef } from "./change_feed.ts";
import { estimate } from "./commit_builder.ts";
import { indexChanges } from "./indexes.ts";
import { setSearch } from "./search.ts";
import { type EffectIds, estimateBytes, type Loaded } from "./instance_cache.ts";
import { K } from "./keys.ts";
import { migrate } from "./migration.ts";
import type { InstanceRecord } from "./records.ts";
import { stateAt } from "./replay.ts";
import type { StoreContext } from "./store_context.ts";
import { type InstanceInfo, type JournalEntry, StoreError } from "./types.ts";

/** Encoded bytes of a record's snapshot (inline, or about its chunks). */
export function snapshotBytes(rec: InstanceRecord): number {
  return rec.inline !== undefined ? rec.inline.length : rec.chunks * CHUNK_BYTES;
}

/**
 * A record as kept in memory: without the inline snapshot bytes, which the engine instance
 * holds decoded (every commit writes a fresh record with its own snapshot).
 */
export function compact(rec: InstanceRecord): InstanceRecord {
  if (rec.inline === undefined) return rec;
  const { inline: _, ...rest } = rec;
  return rest;
}

/** The instance in memory, loaded (and recovered or migrated) if it was not. */
export async function load(ctx: StoreContext, instanceId: string): Promise<Loaded> {
  const cached = ctx.cache.use(instanceId);
  if (cached !== undefined) return cached;
  const entry = await ctx.backend.get<InstanceRecord>(K.inst(instanceId));
  if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
  const rec = entry.value;
  const machine = ctx.machines.get(rec.machine);
  if (machine === undefined) {
    throw new StoreError(
      "incompatible",
      `instance "${instanceId}" runs machine "${rec.machine}", which this store was not opened with`,
    );
  }
  let snap: Snapshot;
  let recovered = false;
  try {
    snap = await ctx.records.readSnapshot(rec);
  } catch (e) {
    if (!(e instanceof StoreDataError)) throw e;
    snap = await stateAt(ctx, instanceId, machine, rec.seq);
    recovered = true;
  }
  let migratedFrom: string | number | undefined;
  if (snap.hash !== machine.hash) {
    migratedFrom = snap.version ?? "unversioned";
    snap = migrate(snap, machine, instanceId);
  }
  // In cluster mode only the partition's owner runs the instance; elsewhere it is read only.
  const here = ctx.runsHere(instanceId);
  const live = ctx.live && !rec.archived && rec.status !== "cancelled" && here;
  const effects: EffectIds = {
    ids: { ...rec.effects },
    seq: rec.seq,
    restoring: true,
    outbox: [],
  };
  const instance = machine.restore(
    snap,
    live ? ctx.instanceOptions(instanceId, effects) : ctx.inertOptions(instanceId),
  );
  effects.restoring = false;
  const loaded: Loaded = {
    rec: compact(rec),
    version: entry.version!,
    instance,
    machine,
    bytes: estimateBytes(snapshotBytes(rec)),
    effects,
  };
  if (!here) return loaded; // not kept: the owner's commits would leave it behind
  ctx.remember(loaded);
  // Sends its last commit made that have not run (a crash, a takeover): they run now.
  if (live && rec.outbox === true) await ctx.outbox.redeliver(instanceId, instance);
  // In inspect mode nothing is written: the recovered or migrated state stays in memory.
  if (ctx.live && (recovered || migratedFrom !== undefined)) {
    const result = await commitReplacement(ctx, loaded, instance.snapshot(), {
      kind: recovered ? "recovery" : "migration",
      by: "store",
      from: migratedFrom,
    });
    if (result === null) ctx.evict(instanceId);
    return await load(ctx, instanceId);
  }
  return loaded;
}

/** What replaced the state, for its journal entry. */
export interface Replacement {
  kind: "rollback" | "migration" | "recovery" | "redrive";
  by: string;
  to?: number;
  retried?: number;
  from?: string | number;
}

/**
 * Commits a whole new snapshot (rollback, migration, recovery) with its journal entry and a
 * checkpoint, then loads the instance again (arming its timers: overdue ones fire at once).
 * `null` when the instance moved meanwhile (another process): the caller retries.
 */
export async function commitReplacement(
  ctx: StoreContext,
  loaded: Loaded,
  snap: Snapshot,
  what: Replacement,
): Promise<InstanceInfo | null> {
  const id = loaded.rec.id;
  const time = ctx.clock.now();
  const seq = loaded.rec.seq + 1;
  const entry: JournalEntry = {
    seq,
    time,
    kind: what.kind,
    by: what.by,
    configuration: snap.configuration,
    status: snap.status,
  };
  if (ctx.cluster !== undefined) entry.node = ctx.cluster.node;
  if (what.to !== undefined) entry.to = what.to;
  if (what.retried !== undefined) entry.retried = what.retried;
  if (what.from !== undefined) entry.from = what.from;
  if (what.kind === "migration" && loaded.machine.version !== undefined) {
    entry.toVersion = loaded.machine.version;
  }
  const newRec: InstanceRecord = {
    ...loaded.rec,
    seq,
    status: snap.status,
    updatedAt: time,
    configuration: snap.configuration,
    hash: loaded.machine.hash,
    lastCheckpoint: seq,
    base: seq,
    // After a rollback the invocations of the state rolled back to are new effects.
    effects: what.kind === "rollback" || what.kind === "redrive" ? {} : loaded.rec.effects,
  };
  delete newRec.cancelled; // a rollback or redrive runs the instance again
  if (loaded.machine.version !== undefined) newRec.version = loaded.machine.version;
  if (what.kind === "recovery") newRec.recoveredAt = time;
  const mutations: KvMutation[] = [];
  await ctx.records.writeSnapshot(newRec, loaded.rec, snap, mutations);
  await ctx.records.writeCheckpoint(id, seq, undefined, time, snap, mutations);
  mutations.push({
    type: "set",
    key: K.journal(id, seq),
    value: await ctx.records.sealJournal(entry),
  });
  setSearch(newRec, loaded.machine, snap);
  indexChanges(loaded.rec, newRec, mutations);
  let commit;
  try {
    commit = await ctx.committer.commit({
      feed: ctx.cluster === undefined
        ? undefined
        : feedRef(id, loaded.rec.machine, loaded.rec.configuration, [entry]),
      checks: [ctx.fence(id, loaded.version)],
      mutations,
      size: estimate(mutations),
    });
  } finally {
    ctx.evict(id);
  }
  if (!commit.ok) {
    if (ctx.cluster !== undefined) throw ctx.fenced(id);
    return null;
  }
  ctx.notify(id, loaded.rec.machine, loaded.rec.configuration, [entry]);
  const reloaded = await load(ctx, id);
  return ctx.info(reloaded.rec, reloaded.instance);
}
