/**
 * An instance's failed effects (sends to plugins whose delivery failed, kept in the outbox):
 * shown with the instance, and run again by a redrive. The redrive journals itself in the
 * instance's mailbox (`kind: "redrive"`, `effects`), then runs the effects outside it with
 * their effect ids, like any delivery. `operator.ts` picks this or the invocation's redrive.
 * See docs/operations.md, "Operator actions".
 *
 * @module
 */
import type { KvMutation } from "./backend.ts";
import { feedRef } from "./change_feed.ts";
import { estimate } from "./commit_builder.ts";
import { indexChanges } from "./indexes.ts";
import type { OutboxItem } from "./instance_cache.ts";
import { K } from "./keys.ts";
import { compact, load } from "./loading.ts";
import type { StoredOutboxRecord } from "./outbox.ts";
import type { InstanceRecord } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import {
  type InstanceInfo,
  type JournalEntry,
  type RedriveInfo,
  type RedrivenEffect,
  StoreError,
} from "./types.ts";

/** What `redrive` is asked to retry (see `RedriveOptions`). */
export interface RedriveRequest {
  by: string;
  effect?: string;
  invocation?: boolean;
}

/**
 * Runs `task` in the instance's mailbox (the facade's `#run`): the journal entry of a redrive
 * is written there, the effects it runs again run outside it, like any delivery.
 */
export type InMailbox = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Redrives the instance's failed effects: in the mailbox, picks the failed ones (or the one
 * `effect` names) and journals the redrive; then runs them again. `null` when there is no
 * failed effect and none was asked for (the caller redrives the invocation instead).
 */
export async function redriveEffects(
  ctx: StoreContext,
  instanceId: string,
  request: RedriveRequest,
  inMailbox: InMailbox,
): Promise<RedriveInfo | null> {
  const picked = await inMailbox(() => journalEffects(ctx, instanceId, request));
  if (picked === null) return null;
  return await runEffects(ctx, instanceId, picked, inMailbox);
}

/** The outbox records a redrive runs again, and the instance they belong to. */
interface PickedEffects {
  records: (StoredOutboxRecord & { effectId: string })[];
  /** `false`: this process runs no sends (inspect mode, or not the owner): they stay queued. */
  runnable: boolean;
}

/** A cancelled instance is not redriven (it runs nothing any more). */
export function refuseCancelled(instanceId: string, rec: InstanceRecord): void {
  if (rec.cancelled !== undefined) {
    throw new StoreError(
      "cancelled",
      `redrive "${instanceId}": the instance was cancelled by ${rec.cancelled.by}; fork it or roll it back instead`,
    );
  }
}

/**
 * In the mailbox: picks the effects to run again (the failed ones, or the one asked for) and
 * journals the redrive (`kind: "redrive"`, `effects`, with a checkpoint of the unchanged
 * state, so that a replay never has to cross it). `null` when there is no failed effect and
 * none was asked for: the caller redrives the invocation.
 */
async function journalEffects(
  ctx: StoreContext,
  instanceId: string,
  request: RedriveRequest,
): Promise<PickedEffects | null> {
  for (let attempt = 0;; attempt++) {
    const loaded = await load(ctx, instanceId);
    refuseCancelled(instanceId, loaded.rec);
    const outbox = await ctx.outbox.records(instanceId);
    let records: (StoredOutboxRecord & { effectId: string })[];
    if (request.effect !== undefined) {
      records = outbox.filter((o) => o.effectId === request.effect);
      if (records.length === 0) {
        throw new StoreError(
          "invalid",
          `redrive "${instanceId}": no effect "${request.effect}" in its outbox (delivered ` +
            `already, or not one of its sends)`,
        );
      }
    } else {
      records = outbox.filter((o) =>
        (o.attempts ?? 0) > 0 && !ctx.outbox.delivering(instanceId, o.effectId)
      );
      if (records.length === 0) return null;
    }
    const entry = await ctx.backend.get<InstanceRecord>(K.inst(instanceId));
    if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
    if (entry.version !== loaded.version) {
      // Another process moved it: load it again.
      ctx.evict(instanceId);
      if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
      continue;
    }
    const rec = entry.value;
    const time = ctx.clock.now();
    const seq = rec.seq + 1;
    const effects = records.map((o) => o.effectId);
    const journal: JournalEntry = {
      seq,
      time,
      kind: "redrive",
      by: request.by,
      effects,
      configuration: rec.configuration,
      status: rec.status,
    };
    if (ctx.cluster !== undefined) journal.node = ctx.cluster.node;
    // The outbox flag stays: the effects run again on the next load if they fail now.
    const newRec: InstanceRecord = {
      ...rec,
      seq,
      updatedAt: time,
      lastCheckpoint: seq,
      outbox: true,
    };
    const mutations: KvMutation[] = [
      { type: "set", key: K.inst(instanceId), value: newRec },
      {
        type: "set",
        key: K.journal(instanceId, seq),
        value: await ctx.records.sealJournal(journal),
      },
    ];
    await ctx.records.writeCheckpoint(
      instanceId,
      seq,
      undefined,
      time,
      loaded.instance.snapshot(),
      mutations,
    );
    indexChanges(rec, newRec, mutations);
    const commit = await ctx.committer.commit({
      feed: ctx.cluster === undefined
        ? undefined
        : feedRef(instanceId, rec.machine, rec.configuration, [journal]),
      checks: [ctx.fence(instanceId, entry.version)],
      mutations,
      size: estimate(mutations),
    });
    if (!commit.ok) {
      ctx.evict(instanceId);
      if (ctx.cluster !== undefined) throw ctx.fenced(instanceId);
      if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
      continue;
    }
    // The engine instance runs on: only its record moved (a new seq, the same state).
    loaded.rec = compact(newRec);
    loaded.version = commit.version;
    ctx.notify(instanceId, rec.machine, rec.configuration, [journal]);
    // Sends to instances run without `onSend` (the store delivers them itself).
    const runnable = ctx.live && ctx.runsHere(instanceId);
    return { records, runnable };
  }
}

/**
 * Runs the picked effects again (outside the mailbox, like any delivery), each with its effect
 * id: a success leaves the outbox, a failure is kept with one more attempt. Answers with the
 * instance (its failed effects now) and what each effect did.
 */
async function runEffects(
  ctx: StoreContext,
  instanceId: string,
  picked: PickedEffects,
  inMailbox: InMailbox,
): Promise<RedriveInfo> {
  const redriven: RedrivenEffect[] = [];
  if (!picked.runnable) {
    for (const o of picked.records) redriven.push({ effectId: o.effectId, outcome: "queued" });
  } else {
    const instance = (await inMailbox(() => load(ctx, instanceId))).instance;
    const items: OutboxItem[] = [];
    for (const o of picked.records) {
      const item = ctx.outbox.item(instanceId, instance, o);
      if (item !== null) items.push(item);
      else redriven.push({ effectId: o.effectId, outcome: "failed", error: "refused by onSend" });
    }
    for (const r of await ctx.outbox.runDeliveries(instanceId, items)) {
      redriven.push(
        r.error === undefined
          ? { effectId: r.effectId, outcome: "delivered" }
          : { effectId: r.effectId, outcome: "failed", error: r.error },
      );
    }
    redriven.sort((a, b) => a.effectId < b.effectId ? -1 : a.effectId > b.effectId ? 1 : 0);
  }
  return await inMailbox(async () => {
    const loaded = await load(ctx, instanceId);
    return { ...(await withFailedEffects(ctx, ctx.info(loaded.rec, loaded.instance))), redriven };
  });
}

/** The instance's description with its failed effects, when it has any. */
export async function withFailedEffects(
  ctx: StoreContext,
  info: InstanceInfo,
): Promise<InstanceInfo> {
  const failed = await ctx.outbox.failedEffects(info.id);
  if (failed.length > 0) info.failedEffects = failed;
  return info;
}
