/**
 * Applying sends: the sends waiting in one instance's mailbox (events, timers, invocation
 * results) are applied to the instance in memory in order and committed in one atomic write:
 * one snapshot, one journal entry each, one version check of the instance record, an absence
 * check of each event id. Each send is acknowledged with the configuration it produced, once
 * the commit is durable; an event id applied before is acknowledged with its first result.
 *
 * @module
 */
import { EventError } from "../core/errors.ts";
import type { Snapshot } from "../core/types.ts";
import { type KvCheck, type KvCommitResult, type KvMutation } from "./backend.ts";
import { feedRef } from "./change_feed.ts";
import { estimate, writeInPieces } from "./commit_builder.ts";
import { indexChanges } from "./indexes.ts";
import { setSearch } from "./search.ts";
import { estimateBytes } from "./instance_cache.ts";
import { K } from "./keys.ts";
import { compact, load } from "./loading.ts";
import { type Cause, causeOf, liveCauses, refusal } from "./livelock.ts";
import { type QueuedSend, settle, settleEcho } from "./mailbox.ts";
import type { InstanceRecord } from "./records.ts";
import type { Replayable } from "./replay.ts";
import { notOwner, type StoreContext } from "./store_context.ts";
import { timerEventId } from "./timers.ts";
import { BatchTrace } from "./tracing.ts";
import { tracing } from "../telemetry/tracing.ts";
import { type JournalEntry, type SendResult, StoreError } from "./types.ts";

/** Whether two arrays of strings are equal, element by element. */
function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether an object has no own enumerable keys (without listing them). */
function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** Jittered exponential backoff: up to 2^attempt ms, capped at 100 ms. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** Math.min(attempt, 7));
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Applies queued sends (events, timers, invocation results) in order and commits them in
 * one atomic operation: one snapshot, one journal entry each, one versionstamp check. Each
 * send is acknowledged with the configuration it produced, once the commit is durable.
 */
export async function applyBatch(
  ctx: StoreContext,
  instanceId: string,
  items: QueuedSend[],
): Promise<void> {
  let pending = items;
  for (let attempt = 0, cuts = 0;;) {
    const loaded = await load(ctx, instanceId);
    const { rec, instance } = loaded;
    if (rec.archived) {
      const e = new StoreError(
        "archived",
        `instance "${instanceId}" is archived: unarchive it to send events`,
      );
      for (const item of pending) settle(item, e);
      return;
    }
    if (rec.cancelled !== undefined) {
      const c = rec.cancelled;
      const e = new StoreError(
        "cancelled",
        `instance "${instanceId}" was cancelled by ${c.by} (${c.reason}): it takes no events; ` +
          `fork it or roll it back to run it again`,
      );
      for (const item of pending) settle(item, e);
      return;
    }
    // A timer's id names the stored state it fires in (see `timerEventId`).
    for (const item of pending) {
      const op = item.op;
      if (op.kind === "timer") {
        op.eventId = timerEventId(rec.base ?? 0, op.path ?? [], op.sendId ?? "", op.due ?? 0);
      }
    }
    // Idempotency: ids applied before are acknowledged with their original result.
    const seenHere = new Map<string, QueuedSend>();
    for (const item of pending) {
      const eventId = item.op.eventId;
      if (eventId !== undefined && !seenHere.has(eventId)) seenHere.set(eventId, item);
    }
    const live: QueuedSend[] = [];
    let sawDuplicate = false;
    // Outside cluster mode the commit checks that each id is new (`K.eid` absent): on a first
    // attempt the ids are not read beforehand, which would cost every send with an id a round
    // trip before its macrostep (measured: 1.36x more keyed HTTP events/s without it). An id
    // applied before fails the commit; the retry (after a reload) reads the ids and answers
    // it as a duplicate. In cluster mode a failed commit means "fenced", so the read stays.
    if (seenHere.size === 0 || (ctx.cluster === undefined && attempt === 0)) {
      live.push(...pending);
    } else {
      const ids = [...seenHere.keys()];
      const priors = await ctx.backend.getMany<SendResult>(
        ids.map((eventId) => K.eid(instanceId, eventId)),
      );
      const applied = new Map<string, SendResult>();
      priors.forEach((p, i) => {
        if (p.value !== null) applied.set(ids[i], p.value);
      });
      for (const item of pending) {
        const eventId = item.op.eventId;
        const prior = eventId === undefined ? undefined : applied.get(eventId);
        if (prior === undefined) live.push(item); // a second send of an id: answered below
        else {
          settle(item, null, { ...prior, duplicate: true });
          sawDuplicate = true;
        }
      }
    }
    if (sawDuplicate) {
      // Someone applied an id we are asked for: is our copy behind? (another process)
      const current = await ctx.backend.get(K.inst(instanceId));
      if (current.version !== loaded.version) {
        ctx.evict(instanceId);
        if (live.length === 0) return;
        pending = live;
        continue;
      }
      if (live.length === 0) return;
    }
    if (ctx.cluster !== undefined && ctx.cache.peek(instanceId) !== loaded) {
      // The partition was lost while this batch waited (its instances were stopped): the
      // sends go to the new owner; or it came back meanwhile: load the instance again.
      if (!ctx.runsHere(instanceId)) {
        const e = notOwner(instanceId, ctx.cluster.partitionOf(instanceId));
        for (const item of pending) settle(item, e);
        return;
      }
      pending = pending.filter((x) => !x.settled);
      continue;
    }
    const time = ctx.clock.now();
    // Everything the engine reads from the clock while applying this batch is `time`, so
    // due times are exactly journal time + delay and a replay reproduces them.
    ctx.clock.freeze(time);
    // The sends of this attempt only (an empty outbox is kept: no garbage per event).
    if (loaded.effects.outbox.length > 0) loaded.effects.outbox = [];
    if (loaded.effects.refused !== undefined) loaded.effects.refused = undefined;
    if (loaded.effects.causes === undefined && rec.causes !== undefined) {
      loaded.effects.causes = { ...rec.causes };
    }
    let chained: Cause | undefined; // the batch's longest chain of causes (livelock.ts)
    // OpenTelemetry on: a span per macrostep and one for the commit (lib/persist/tracing.ts).
    const tr = tracing ? new BatchTrace(loaded, ctx.cluster?.node, live.length) : null;
    const applied: { item: QueuedSend; entry: JournalEntry; result: SendResult }[] = [];
    const echoes: { item: QueuedSend; of: QueuedSend }[] = [];
    let seq = rec.seq;
    let broken: QueuedSend | null = null;
    for (const item of live) {
      const op = item.op;
      loaded.effects.seq = seq + 1; // invocations this op starts are named after its entry
      if (op.eventId !== undefined && seenHere.get(op.eventId) !== item) {
        echoes.push({ item, of: seenHere.get(op.eventId)! });
        continue;
      }
      // A timer armed at once or an invocation's result continues the chain that caused it;
      // an operation past `maxCausalHops` is refused before anything changed.
      if (op.kind !== "event") op.cause = causeOf(loaded.effects, op);
      if (op.cause !== undefined) {
        if (op.cause.hops > ctx.maxCausalHops) {
          settle(item, refusal(op, instanceId, ctx.maxCausalHops));
          continue;
        }
        if (chained === undefined || op.cause.hops > chained.hops) chained = op.cause;
      }
      const step = (): boolean => {
        if (op.kind === "event") {
          instance.send(op.event);
          return true;
        }
        if (attempt === 0 && op.run !== undefined) return op.run();
        if (op.kind === "timer") {
          // After a reload: fire the timer only if the stored state still has it pending.
          return (instance as unknown as Replayable).replayDelivery(
            op.path ?? [],
            "timer",
            op.event,
            op.sendId,
            op.due,
          );
        }
        // An invocation result for an instance reloaded meanwhile: the reload restarted
        // the invocation, whose own result will come; this one is stale.
        return false;
      };
      let ok: boolean;
      ctx.applying = op.cause;
      ctx.applyingEvent = op.event.type;
      try {
        ok = tr === null ? step() : tr.step(item, seq + 1, step);
      } catch (e) {
        ctx.applying = undefined;
        if (e instanceof EventError) {
          settle(item, e); // rejected before anything changed
          continue;
        }
        // A livelock (or a bug) may have left the instance half-changed: reject this send,
        // reload, and apply the others again without it.
        settle(item, e);
        broken = item;
        break;
      }
      ctx.applying = undefined;
      if (!ok) {
        settle(item, null, {
          id: instanceId,
          seq,
          configuration: instance.configuration,
          status: instance.status,
          duplicate: false,
        });
        continue;
      }
      seq++;
      const configuration = instance.configuration;
      const entry: JournalEntry = {
        seq,
        time,
        kind: op.kind,
        by: op.by,
        event: op.event,
        configuration,
        status: instance.status,
      };
      if (op.eventId !== undefined) entry.eventId = op.eventId;
      if (ctx.cluster !== undefined) entry.node = ctx.cluster.node;
      if (op.path !== undefined && op.path.length > 0) entry.path = op.path;
      if (op.sendId !== undefined) entry.sendId = op.sendId;
      if (op.due !== undefined) entry.due = op.due;
      applied.push({
        item,
        entry,
        result: { id: instanceId, seq, configuration, status: instance.status, duplicate: false },
      });
    }
    ctx.clock.thaw();
    if (broken !== null) {
      ctx.evict(instanceId);
      pending = pending.filter((x) => !x.settled);
      if (++cuts > items.length) return;
      continue;
    }
    if (applied.length === 0) {
      for (const { item, of } of echoes) settleEcho(item, of);
      return;
    }
    let commit: KvCommitResult;
    let newRec: InstanceRecord;
    let encodedBytes: number;
    let bigSnapshot: Snapshot | null = null;
    try {
      // Serialised at once below: no need for the engine's deep copy.
      const snap = (instance as unknown as Replayable).internalSnapshot(false);
      // Invocations answered now are done: their ids leave the record.
      for (const { entry } of applied) {
        const answered = entry.kind === "invoke" ? entry.event?.effectId : undefined;
        if (typeof answered !== "string") continue;
        for (const [k, v] of Object.entries(loaded.effects.ids)) {
          if (v === answered) delete loaded.effects.ids[k];
        }
      }
      // Arrays and objects equal to the record's are kept, not copied: the record stays in
      // memory until the instance's next commit, and what outlives a young-generation GC is
      // what the GC pays for (100,000 instances round-robin: most of the store's own time).
      newRec = {
        ...rec,
        seq,
        status: snap.status,
        updatedAt: time,
        configuration: sameStrings(rec.configuration, snap.configuration)
          ? rec.configuration
          : snap.configuration,
        // (Never the live `effects.ids` itself, which a just-created record holds.)
        effects: rec.effects !== undefined && rec.effects !== loaded.effects.ids &&
            isEmpty(rec.effects) && isEmpty(loaded.effects.ids)
          ? rec.effects
          : { ...loaded.effects.ids },
      };
      // Causes of invocations still running (livelock.ts): kept so a restart keeps counting.
      const causes = loaded.effects.causes === undefined ? undefined : liveCauses(loaded.effects);
      if (causes !== undefined) newRec.causes = causes;
      else delete newRec.causes;
      const sends = loaded.effects.outbox;
      // Kept while earlier sends have not run (running, or failed): the next load runs them.
      if (sends.length > 0 || ctx.outbox.pending(instanceId)) newRec.outbox = true;
      else delete newRec.outbox;
      const mutations: KvMutation[] = [];
      const checks: KvCheck[] = [ctx.fence(instanceId, loaded.version)];
      encodedBytes = await ctx.records.writeSnapshot(newRec, rec, snap, mutations);
      const encrypted = ctx.records.encrypted;
      if (tr !== null) tr.timers(rec, newRec);
      else if (newRec.traces !== undefined) delete newRec.traces;
      for (const { item, entry, result } of applied) {
        mutations.push({
          type: "set",
          key: K.journal(instanceId, entry.seq),
          // Unencrypted, the entry is stored as it is (no promise to wait for).
          value: encrypted ? await ctx.records.sealJournal(entry) : entry,
          size: (item.op.bytes ?? 1024) + 512,
        });
        if (entry.eventId !== undefined) {
          // One writer per partition in cluster mode: the ids read above are the truth.
          if (ctx.cluster === undefined) {
            checks.push({ key: K.eid(instanceId, entry.eventId), version: null });
          }
          mutations.push({
            type: "set",
            key: K.eid(instanceId, entry.eventId),
            value: result,
            // Timer, effect-result and instance-send ids only guard against two runs of one
            // delivery: a day will do.
            expireIn:
              entry.kind === "timer" || entry.kind === "invoke" || item.op.cause !== undefined
                ? 86_400_000
                : undefined,
          });
        }
      }
      if (seq - rec.lastCheckpoint >= (ctx.options.checkpointEvery ?? 500)) {
        // A large snapshot twice in one write could pass the backend's byte limit: its
        // checkpoint goes in a write of its own once this one has landed.
        if (newRec.chunks > 0) bigSnapshot = structuredClone(snap);
        else await ctx.records.writeCheckpoint(instanceId, seq, undefined, time, snap, mutations);
        newRec.lastCheckpoint = seq;
      }
      setSearch(newRec, loaded.machine, snap);
      indexChanges(rec, newRec, mutations);
      mutations.push(...ctx.outbox.mutations(instanceId, loaded.effects.outbox));
      const feed = ctx.cluster === undefined
        ? undefined
        : feedRef(instanceId, rec.machine, rec.configuration, applied.map((a) => a.entry));
      const write = { checks, mutations, size: estimate(mutations), feed };
      commit = await (tr === null
        ? ctx.committer.commit(write)
        : tr.commit(() =>
          ctx.committer.commit(write), applied.length));
    } catch (e) {
      // Not committed (too large, storage unreachable): the applied events must not stay in
      // memory. A write whose reply was lost may have landed: its event ids settle that.
      ctx.evict(instanceId);
      const error = ctx.storeError(e);
      for (const { item } of applied) settle(item, error);
      for (const { item, of } of echoes) settleEcho(item, of);
      return;
    }
    if (commit.ok) {
      loaded.rec = compact(newRec);
      loaded.version = commit.version;
      ctx.cache.resize(loaded, estimateBytes(encodedBytes));
      for (const { item, result } of applied) settle(item, null, result);
      for (const { item, of } of echoes) settleEcho(item, of);
      ctx.outbox.deliver(instanceId, loaded.effects.outbox.splice(0));
      if (chained !== undefined) loaded.effects.chained = { time, cause: chained };
      else if (loaded.effects.chained !== undefined) loaded.effects.chained = undefined;
      // Set by the engine's sends while applying (TypeScript sees only the reset above).
      const refused = loaded.effects.refused as Error[] | undefined;
      if (refused !== undefined) {
        loaded.effects.refused = undefined;
        for (const e of refused) ctx.reportError(e, instanceId);
      }
      ctx.notify(rec.id, rec.machine, rec.configuration, applied.map((a) => a.entry));
      if (bigSnapshot !== null) await checkpointAlone(ctx, instanceId, seq, time, bigSnapshot);
      return;
    }
    if (ctx.cluster !== undefined) {
      // The partition's epoch changed: another node owns it now; the sends go there.
      ctx.evict(instanceId);
      const e = ctx.fenced(instanceId);
      for (const item of pending) settle(item, e);
      return;
    }
    // Another process moved the instance (or applied one of these ids): reload and retry,
    // after a jittered backoff so that writers to one busy instance do not starve each other.
    ctx.evict(instanceId);
    pending = pending.filter((x) => !x.settled);
    await backoff(attempt);
    if (++attempt > ctx.maxRetries) {
      const e = ctx.conflict(instanceId);
      for (const item of pending) settle(item, e);
      return;
    }
  }
}

/** Writes a periodic checkpoint of a large snapshot in writes of its own. */
async function checkpointAlone(
  ctx: StoreContext,
  instanceId: string,
  seq: number,
  time: number,
  snap: Snapshot,
): Promise<void> {
  try {
    const mutations: KvMutation[] = [];
    await ctx.records.writeCheckpoint(instanceId, seq, undefined, time, snap, mutations);
    await writeInPieces(ctx.backend, mutations);
  } catch (e) {
    // A missing checkpoint only lengthens a later replay; report it and go on.
    ctx.reportError(e, instanceId, `checkpoint of "${instanceId}"`);
  }
}
