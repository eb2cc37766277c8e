/**
 * Checkpoints and rollback. A checkpoint is a full snapshot at a journal seq, optionally
 * labelled; one is written at creation, every `checkpointEvery` entries, and at every
 * rollback, migration and recovery. A rollback commits the state after an earlier entry as a
 * new journal entry (nothing is erased) and loads it again: timers that were due meanwhile fire
 * at once, in due order, exactly once.
 *
 * @module
 */
import type { KvCheck, KvMutation } from "./backend.ts";
import { estimate } from "./commit_builder.ts";
import { K } from "./keys.ts";
import { commitReplacement, load } from "./loading.ts";
import type { CheckpointRecord } from "./records.ts";
import { stateAt } from "./replay.ts";
import type { StoreContext } from "./store_context.ts";
import { type CheckpointInfo, type InstanceInfo, StoreError } from "./types.ts";

/** Records a checkpoint of the current state (in the instance's mailbox). */
export async function checkpoint(
  ctx: StoreContext,
  instanceId: string,
  label: string | undefined,
): Promise<CheckpointInfo> {
  for (let attempt = 0;; attempt++) {
    const loaded = await load(ctx, instanceId);
    const time = ctx.clock.now();
    const snap = loaded.instance.snapshot();
    const mutations: KvMutation[] = [];
    const checks: KvCheck[] = [ctx.fence(instanceId, loaded.version)];
    if (label !== undefined) checks.push({ key: K.ckptLabel(instanceId, label), version: null });
    await ctx.records.writeCheckpoint(instanceId, loaded.rec.seq, label, time, snap, mutations);
    // The record in memory holds no snapshot bytes: it is written again with them.
    const rec = { ...loaded.rec, lastCheckpoint: loaded.rec.seq };
    await ctx.records.writeSnapshot(rec, loaded.rec, snap, mutations);
    const result = await ctx.committer.commit({ checks, mutations, size: estimate(mutations) });
    if (result.ok) {
      delete rec.inline;
      loaded.rec = rec;
      loaded.version = result.version;
      return label === undefined ? { seq: rec.seq, time } : { seq: rec.seq, label, time };
    }
    if (label !== undefined) {
      const taken = await ctx.backend.get(K.ckptLabel(instanceId, label));
      if (taken.value !== null) {
        throw new StoreError(
          "exists",
          `instance "${instanceId}" already has a checkpoint "${label}"`,
        );
      }
    }
    ctx.evict(instanceId);
    if (ctx.cluster !== undefined) throw ctx.fenced(instanceId);
    if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
  }
}

/** The checkpoints of an instance, oldest first. */
export async function checkpoints(
  ctx: StoreContext,
  instanceId: string,
): Promise<CheckpointInfo[]> {
  const out: CheckpointInfo[] = [];
  for await (const e of ctx.backend.list<CheckpointRecord>({ prefix: K.ckptPrefix(instanceId) })) {
    const c: CheckpointInfo = { seq: e.value!.seq, time: e.value!.time };
    if (e.value!.label !== undefined) c.label = e.value!.label;
    out.push(c);
  }
  return out;
}

/** Moves an instance back to its state after journal entry `seq`, or at a checkpoint. */
export async function rollback(
  ctx: StoreContext,
  instanceId: string,
  target: { seq: number } | { checkpoint: string },
  by: string,
): Promise<InstanceInfo> {
  let seq: number;
  if ("checkpoint" in target) {
    const labelled = await ctx.backend.get<number>(K.ckptLabel(instanceId, target.checkpoint));
    if (labelled.value === null) {
      throw new StoreError(
        "not_found",
        `instance "${instanceId}" has no checkpoint "${target.checkpoint}"`,
      );
    }
    seq = labelled.value;
  } else seq = target.seq;
  for (let attempt = 0;; attempt++) {
    const loaded = await load(ctx, instanceId);
    if (!Number.isInteger(seq) || seq < 0 || seq > loaded.rec.seq) {
      throw new StoreError(
        "invalid",
        `instance "${instanceId}" has journal entries 0..${loaded.rec.seq}; cannot roll back to ${seq}`,
      );
    }
    const snap = await stateAt(ctx, instanceId, loaded.machine, seq);
    const ok = await commitReplacement(ctx, loaded, snap, { kind: "rollback", by, to: seq });
    if (ok !== null) return ok;
    if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
  }
}
