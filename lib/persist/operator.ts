/**
 * Operator actions on one instance: cancel (stop it for good, with a reason), fork (a new
 * instance from its state after any journal entry, linked to it) and redrive (run its failed
 * effects again, see `redrive_effects.ts`, or retry the invocation whose failure is the latest
 * since the state was last replaced). Each is a journal entry saying who did it; each runs in
 * the instance's mailbox, on the partition's owner in cluster mode (the facade sees to it).
 * See docs/operations.md, "Operator actions".
 *
 * @module
 */
import * as instances from "./instances.ts";
import { K } from "./keys.ts";
import { commitReplacement, load } from "./loading.ts";
import type { InstanceRecord } from "./records.ts";
import {
  type InMailbox,
  redriveEffects,
  type RedriveRequest,
  refuseCancelled,
  withFailedEffects,
} from "./redrive_effects.ts";
import { stateAt } from "./replay.ts";
import type { StoreContext } from "./store_context.ts";
import {
  type ForkLink,
  type InstanceInfo,
  type JournalEntry,
  type RedriveInfo,
  StoreError,
} from "./types.ts";

export { type InMailbox, type RedriveRequest, withFailedEffects } from "./redrive_effects.ts";

/** Reasons are kept in the record and the journal: at most this many characters. */
const MAX_REASON = 1000;

/**
 * Cancels an instance: status `"cancelled"` (terminal), its invocations and timers stopped
 * (it loads inert from now on, its timers leave the due index), events refused. Cancelling a
 * cancelled instance changes nothing and answers with it.
 */
export async function cancel(
  ctx: StoreContext,
  instanceId: string,
  reason: string,
  by: string,
): Promise<InstanceInfo> {
  if (typeof reason !== "string" || reason.trim() === "" || reason.length > MAX_REASON) {
    throw new StoreError(
      "invalid",
      `cancel "${instanceId}": a reason is required (1 to ${MAX_REASON} characters)`,
    );
  }
  for (let attempt = 0;; attempt++) {
    const entry = await ctx.backend.get<InstanceRecord>(K.inst(instanceId));
    if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
    const rec = entry.value;
    if (rec.status !== "cancelled") {
      const time = ctx.clock.now();
      const seq = rec.seq + 1;
      const cancelled = { by, time, reason };
      const newRec: InstanceRecord = {
        ...rec,
        status: "cancelled",
        cancelled,
        seq,
        updatedAt: time,
        timers: [], // out of the due index: nothing fires
      };
      const journal: JournalEntry = {
        seq,
        time,
        kind: "cancel",
        by,
        reason,
        configuration: rec.configuration,
        status: "cancelled",
      };
      const ok = await instances.commitRecordEntry(
        ctx,
        instanceId,
        rec,
        newRec,
        journal,
        entry.version,
      );
      // Dropped from memory either way: stopping the engine instance stops its invocations.
      ctx.evict(instanceId);
      if (!ok) {
        if (ctx.cluster !== undefined) throw ctx.fenced(instanceId);
        if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
        continue;
      }
      ctx.notify(instanceId, rec.machine, rec.configuration, [journal]);
    }
    const loaded = await load(ctx, instanceId);
    return ctx.info(loaded.rec, loaded.instance);
  }
}

/**
 * Forks `sourceId` into a new instance `newId` (run here: the caller routes by `newId`), from
 * the source's state after journal entry `seq` (default its latest). The fork's first journal
 * entry (`kind: "fork"`) names the origin and seq; the origin lists it (`forks`).
 */
export async function fork(
  ctx: StoreContext,
  sourceId: string,
  newId: string,
  options: { seq?: number; by: string },
): Promise<InstanceInfo> {
  const source = (await ctx.backend.get<InstanceRecord>(K.inst(sourceId))).value;
  if (source === null) throw new StoreError("not_found", `fork: no instance "${sourceId}"`);
  const machine = ctx.machines.get(source.machine);
  if (machine === undefined) {
    throw new StoreError(
      "incompatible",
      `fork: instance "${sourceId}" runs machine "${source.machine}", which this store was not opened with`,
    );
  }
  const seq = options.seq ?? source.seq;
  if (!Number.isInteger(seq) || seq < 0 || seq > source.seq) {
    throw new StoreError(
      "invalid",
      `fork: instance "${sourceId}" has journal entries 0..${source.seq}; cannot fork at ${seq}`,
    );
  }
  const snapshot = await stateAt(ctx, sourceId, machine, seq);
  return await instances.create(ctx, machine, newId, {
    by: options.by,
    fork: { snapshot, origin: { id: sourceId, seq } },
  });
}

/** The forks made from an instance, by fork id. */
export async function forks(ctx: StoreContext, instanceId: string): Promise<ForkLink[]> {
  const out: ForkLink[] = [];
  const links = ctx.backend.list<Omit<ForkLink, "id">>({ prefix: K.forkPrefix(instanceId) });
  for await (const e of links) out.push({ id: e.key[3] as string, ...e.value! });
  return out;
}

/**
 * Redrives an instance. Failed effects go first: when its outbox holds sends whose delivery
 * failed (or `effect` names one still in the outbox), they run again now with their effect
 * ids (`redriveEffects`). Otherwise (or with `invocation: true`) the failed invocation is
 * retried (`redriveInvocation`). Refused for a cancelled instance, and (code `invalid`) when
 * there is nothing to retry.
 */
export async function redrive(
  ctx: StoreContext,
  instanceId: string,
  request: RedriveRequest,
  inMailbox: InMailbox,
): Promise<RedriveInfo> {
  if (request.effect !== undefined && request.invocation === true) {
    throw new StoreError(
      "invalid",
      `redrive "${instanceId}": pick an effect or the invocation, not both`,
    );
  }
  if (request.invocation !== true) {
    const done = await redriveEffects(ctx, instanceId, request, inMailbox);
    if (done !== null) return done;
  }
  return await inMailbox(() =>
    redriveInvocation(ctx, instanceId, request.by, request.invocation !== true)
  );
}

/**
 * Redrives the failed invocation: finds the latest `invoke` entry carrying an `error.*` event
 * since the state was last replaced (create, rollback, redrive, migration, recovery, import),
 * moves the instance back to its state before that entry, and runs it again: the invocation,
 * still active there, starts afresh (like a rollback, its invocations are new effects).
 * Refused (code `invalid`) when there is no such entry, and for a cancelled instance
 * (`effectsToo`: the refusal says that no effect had failed either).
 */
export async function redriveInvocation(
  ctx: StoreContext,
  instanceId: string,
  by: string,
  effectsToo = false,
): Promise<RedriveInfo> {
  for (let attempt = 0;; attempt++) {
    const loaded = await load(ctx, instanceId);
    const rec = loaded.rec;
    refuseCancelled(instanceId, rec);
    const from = (rec.base ?? 0) + 1;
    const journal = from > rec.seq
      ? []
      : await instances.history(ctx, instanceId, { from, limit: rec.seq - from + 1 });
    // A failed attempt that was retried (`error.attempt.*`) is not a failed invocation.
    const failed = journal.findLast((e) =>
      e.kind === "invoke" && typeof e.event?.type === "string" &&
      e.event.type.startsWith("error.") && !e.event.type.startsWith("error.attempt.")
    );
    if (failed === undefined) {
      throw new StoreError(
        "invalid",
        `redrive "${instanceId}": ${effectsToo ? "no failed effect in its outbox and " : ""}` +
          `no failed invocation (an "error.*" result) in its journal since entry ${
            from - 1
          }: nothing to retry`,
      );
    }
    const snap = await stateAt(ctx, instanceId, loaded.machine, failed.seq - 1);
    const ok = await commitReplacement(ctx, loaded, snap, {
      kind: "redrive",
      by,
      to: failed.seq - 1,
      retried: failed.seq,
    });
    if (ok !== null) return await withFailedEffects(ctx, ok);
    if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
  }
}
