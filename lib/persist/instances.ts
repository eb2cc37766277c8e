/**
 * An instance's life outside its events: create, read, list, history, archive and unarchive,
 * delete. Each function that changes an instance runs in its mailbox (the facade sees to it)
 * and commits in one atomic write checked against the instance record's version.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvCheck, KvKey, KvMutation } from "./backend.ts";
import { feedRef } from "./change_feed.ts";
import { estimate } from "./commit_builder.ts";
import { indexChanges, listSource, matchesList } from "./indexes.ts";
import { setSearch } from "./search.ts";
import {
  jsonBytes,
  MAX_CONTEXT_BYTES,
  MAX_JSON_DEPTH,
  nameProblem,
  tooDeep,
} from "./input_limits.ts";
import { type EffectIds, estimateBytes } from "./instance_cache.ts";
import { K } from "./keys.ts";
import { compact, load } from "./loading.ts";
import type { InstanceRecord } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import { armedBy, traceCreateCommit, traceStart } from "./tracing.ts";
import { tracing } from "../telemetry/tracing.ts";
import {
  type AnyInstance,
  type AnyMachine,
  type InstanceInfo,
  type JournalEntry,
  type ListOptions,
  type ListPage,
  StoreError,
} from "./types.ts";

/** A fork's starting point: the origin's state after its journal entry `origin.seq`. */
export interface ForkFrom {
  snapshot: Snapshot;
  origin: { id: string; seq: number };
}

/** Why an instance id is refused, or `null`. */
export function idProblem(id: unknown): StoreError | null {
  if (typeof id !== "string" || id === "" || id.length > 256) {
    return new StoreError(
      "invalid",
      `an instance id must be a non-empty string of at most 256 characters`,
    );
  }
  const problem = nameProblem(id);
  if (problem !== null) {
    return new StoreError("invalid", `the instance id ${JSON.stringify(id)} has ${problem}`);
  }
  return null;
}

/**
 * What is wrong with an initial context the store could not keep and read back, or null: one
 * nested deeper than `MAX_JSON_DEPTH` (the serializers recurse), or larger than
 * `MAX_CONTEXT_BYTES` as JSON (the journal's first entry records it).
 */
function contextProblem(context: unknown): StoreError | null {
  if (context === undefined) return null;
  const deep = tooDeep(context);
  if (deep !== null) {
    return new StoreError(
      "invalid",
      `the context nests deeper than ${MAX_JSON_DEPTH} levels (at context.${deep.join(".")})`,
    );
  }
  const bytes = jsonBytes(context);
  if (bytes > MAX_CONTEXT_BYTES) {
    return new StoreError(
      "too_large",
      `the context is ${bytes} bytes as JSON; at most ${MAX_CONTEXT_BYTES} are kept`,
    );
  }
  return null;
}

/** Creates and starts an instance; resolves once it is durable. */
export async function create(
  ctx: StoreContext,
  machine: AnyMachine,
  instanceId: string,
  options: { context?: Record<string, unknown>; by?: string; eventId?: string; fork?: ForkFrom },
): Promise<InstanceInfo> {
  ctx.fence(instanceId, null); // in cluster mode: only the partition's owner creates
  const refused = contextProblem(options.context);
  if (refused !== null) throw refused;
  const time = ctx.clock.now();
  ctx.clock.freeze(time);
  let instance: AnyInstance;
  let startTrace: string | undefined;
  const effects: EffectIds = { ids: {}, seq: 0, restoring: false, outbox: [] };
  try {
    const engine = ctx.live
      ? ctx.instanceOptions(instanceId, effects)
      : ctx.inertOptions(instanceId);
    const start = () =>
      options.fork !== undefined
        ? machine.restore(options.fork.snapshot, engine)
        : machine.start({ ...engine, context: options.context });
    if (tracing) {
      // OpenTelemetry on: the initial macrostep's span; the timers it arms link to it.
      const kind = options.fork !== undefined ? "fork" : "create";
      const node = ctx.cluster?.node;
      ({ instance, trace: startTrace } = traceStart(
        { instance: instanceId, machine: machine.id, kind, node },
        start,
      ));
    } else instance = start();
  } finally {
    ctx.clock.thaw();
  }
  const snap = instance.snapshot();
  const rec: InstanceRecord = {
    id: instanceId,
    machine: machine.id,
    status: snap.status,
    archived: false,
    seq: 0,
    createdAt: time,
    updatedAt: time,
    hash: machine.hash,
    configuration: snap.configuration,
    sha256: "",
    chunks: 0,
    timers: [],
    lastCheckpoint: 0,
    base: 0,
    effects: effects.ids,
  };
  if (machine.version !== undefined) rec.version = machine.version;
  const entry: JournalEntry = {
    seq: 0,
    time,
    kind: options.fork !== undefined ? "fork" : "create",
    by: options.by ?? "api",
    configuration: snap.configuration,
    status: snap.status,
  };
  if (options.context !== undefined) entry.context = options.context;
  if (options.eventId !== undefined) entry.eventId = options.eventId;
  if (ctx.cluster !== undefined) entry.node = ctx.cluster.node;
  const mutations: KvMutation[] = [];
  if (options.fork !== undefined) {
    const origin = options.fork.origin;
    entry.origin = { ...origin };
    // The link the origin lists its forks by (`Store.forks`), in the same commit.
    mutations.push({
      type: "set",
      key: K.fork(origin.id, instanceId),
      value: { seq: origin.seq, time, by: entry.by },
    });
  }
  let bytes: number;
  try {
    bytes = await ctx.records.writeSnapshot(rec, null, snap, mutations);
    armedBy(rec, startTrace);
    await ctx.records.writeCheckpoint(instanceId, 0, undefined, time, snap, mutations);
    mutations.push({
      type: "set",
      key: K.journal(instanceId, 0),
      value: await ctx.records.sealJournal(entry),
    });
    setSearch(rec, machine, snap);
    indexChanges(null, rec, mutations);
    if (effects.outbox.length > 0) rec.outbox = true;
    mutations.push(...ctx.outbox.mutations(instanceId, effects.outbox));
    const checks: KvCheck[] = [{ key: K.inst(instanceId), version: null }];
    if (ctx.cluster !== undefined) checks.push(ctx.fence(instanceId, null));
    const commit = () =>
      ctx.committer.commit({
        feed: ctx.cluster === undefined ? undefined : feedRef(instanceId, machine.id, [], [entry]),
        checks,
        mutations,
        size: estimate(mutations),
      });
    // OpenTelemetry on: a `statecraft.commit` span under the create's (lib/persist/tracing.ts).
    const result =
      await (tracing ? traceCreateCommit(instanceId, ctx.cluster?.node, commit) : commit());
    if (!result.ok) {
      if (ctx.cluster !== undefined && !ctx.runsHere(instanceId)) throw ctx.fenced(instanceId);
      throw new StoreError("exists", `instance "${instanceId}" already exists`);
    }
    ctx.remember({
      rec: compact(rec),
      version: result.version,
      instance,
      machine,
      bytes: estimateBytes(bytes),
      effects,
    });
  } catch (e) {
    instance.stop();
    throw e;
  }
  ctx.outbox.deliver(instanceId, effects.outbox.splice(0));
  ctx.notify(instanceId, machine.id, [], [entry]);
  return ctx.info(rec, instance);
}

/** The instance's state (checked against storage, which another process may have moved). */
export async function get(ctx: StoreContext, instanceId: string): Promise<InstanceInfo> {
  const cached = ctx.cache.peek(instanceId);
  if (cached !== undefined) {
    const current = await ctx.backend.get(K.inst(instanceId));
    if (current.version !== cached.version) ctx.evict(instanceId);
  }
  const loaded = await load(ctx, instanceId);
  return ctx.info(loaded.rec, loaded.instance);
}

/** Lists instances through secondary indexes. */
export async function list(ctx: StoreContext, options: ListOptions): Promise<ListPage> {
  const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
  const { selector, idAt } = listSource(options);
  const items: InstanceInfo[] = [];
  const iter = ctx.backend.list<unknown>(selector, {
    cursor: options.cursor,
    batchSize: Math.min(limit * 2, 500),
  });
  for await (const entry of iter) {
    const id = entry.key[idAt] as string;
    const rec = (await ctx.backend.get<InstanceRecord>(K.inst(id))).value;
    if (rec === null || !matchesList(rec, options)) continue;
    const cached = ctx.cache.peek(id);
    items.push(
      ctx.info(
        rec,
        cached?.instance,
        cached === undefined ? await ctx.records.readContext(rec) : undefined,
      ),
    );
    if (items.length >= limit) return { items, cursor: iter.cursor };
  }
  return { items };
}

/** The journal of an instance, from `from`, at most `limit` entries. */
export async function history(
  ctx: StoreContext,
  instanceId: string,
  options: { from?: number; limit?: number },
): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  const limit = Math.max(1, Math.min(options.limit ?? 1000, 100_000));
  const iter = ctx.backend.list<unknown>({
    prefix: K.journalPrefix(instanceId),
    start: K.journal(instanceId, options.from ?? 0),
  }, { limit });
  for await (const entry of iter) out.push(await ctx.records.openJournal(entry.value, instanceId));
  if (out.length === 0 && (await ctx.backend.get(K.inst(instanceId))).value === null) {
    throw new StoreError("not_found", `no instance "${instanceId}"`);
  }
  return out;
}

/**
 * Commits a new record of an instance with one journal entry (its seq is the new record's),
 * moving the indexes, checked against the record's `version` and the partition's fence.
 * Resolves to whether it was committed (false: another write came first).
 */
export async function commitRecordEntry(
  ctx: StoreContext,
  instanceId: string,
  rec: InstanceRecord,
  newRec: InstanceRecord,
  journal: JournalEntry,
  version: string | null,
): Promise<boolean> {
  if (ctx.cluster !== undefined) journal.node = ctx.cluster.node;
  const mutations: KvMutation[] = [
    { type: "set", key: K.inst(instanceId), value: newRec },
    {
      type: "set",
      key: K.journal(instanceId, journal.seq),
      value: await ctx.records.sealJournal(journal),
    },
  ];
  indexChanges(rec, newRec, mutations);
  const commit = await ctx.committer.commit({
    checks: [ctx.fence(instanceId, version)],
    mutations,
    size: estimate(mutations),
  });
  return commit.ok;
}

/** Archives or unarchives an instance (a journal entry either way). */
export async function setArchived(
  ctx: StoreContext,
  instanceId: string,
  archived: boolean,
  by: string,
): Promise<InstanceInfo> {
  for (let attempt = 0;; attempt++) {
    const entry = await ctx.backend.get<InstanceRecord>(K.inst(instanceId));
    if (entry.value === null) throw new StoreError("not_found", `no instance "${instanceId}"`);
    const rec = entry.value;
    if (rec.archived === archived) {
      const loaded = await load(ctx, instanceId);
      return ctx.info(loaded.rec, loaded.instance);
    }
    const time = ctx.clock.now();
    const seq = rec.seq + 1;
    const newRec: InstanceRecord = { ...rec, archived, seq, updatedAt: time };
    const journal: JournalEntry = {
      seq,
      time,
      kind: archived ? "archive" : "unarchive",
      by,
      configuration: rec.configuration,
      status: rec.status,
    };
    const ok = await commitRecordEntry(ctx, instanceId, rec, newRec, journal, entry.version);
    ctx.evict(instanceId);
    if (ok) {
      const loaded = await load(ctx, instanceId);
      return ctx.info(loaded.rec, loaded.instance);
    }
    if (ctx.cluster !== undefined) throw ctx.fenced(instanceId);
    if (attempt >= ctx.maxRetries) throw ctx.conflict(instanceId);
  }
}

/** Deletes an instance and everything stored for it. */
export async function remove(ctx: StoreContext, instanceId: string): Promise<boolean> {
  const existing = await ctx.backend.get<InstanceRecord>(K.inst(instanceId));
  if (existing.value === null) return false;
  ctx.evict(instanceId);
  const keys: KvKey[] = [];
  const mutations: KvMutation[] = [];
  indexChanges(existing.value, null, mutations);
  for (const m of mutations) keys.push(m.key);
  for (
    const prefix of [
      K.snapPrefix(instanceId),
      K.journalPrefix(instanceId),
      K.eidPrefix(instanceId),
      K.ckptPrefix(instanceId),
      K.ckptChunkPrefix(instanceId),
      K.ckptLabelPrefix(instanceId),
      K.outboxPrefix(instanceId), // its undelivered sends go with it
      K.forkPrefix(instanceId), // the links to its forks (the forks stay)
    ]
  ) {
    for await (const e of ctx.backend.list({ prefix })) keys.push(e.key);
  }
  // The record last: a delete that stops halfway leaves the instance there, to delete again.
  keys.push(K.inst(instanceId));
  const most = ctx.backend.limits.mutations;
  const checks = ctx.cluster === undefined ? [] : [ctx.fence(instanceId, null)];
  for (let i = 0; i < keys.length; i += most) {
    const r = await ctx.backend.atomic(
      checks,
      keys.slice(i, i + most).map((key) => ({ type: "delete" as const, key })),
    );
    if (!r.ok) throw ctx.fenced(instanceId);
  }
  return true;
}
