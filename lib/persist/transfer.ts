/**
 * Export and import: every instance as records (its `instance` record with the current
 * snapshot, then its journal entries, then its checkpoints), decrypted; and those records
 * written back into a store, which may be encrypted differently or on another backend. An
 * import is all or nothing: every record is checked before it is written, and an import that
 * stops removes what it wrote (or, when the store is gone, names the instances it left).
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvKey, KvMutation } from "./backend.ts";
import { StoreDataError } from "./codec.ts";
import { writeInPieces } from "./commit_builder.ts";
import { ImportChecker } from "./import_check.ts";
import { indexChanges } from "./indexes.ts";
import { setSearch } from "./search.ts";
import { remove } from "./instances.ts";
import { K } from "./keys.ts";
import type { CheckpointRecord, InstanceRecord } from "./records.ts";
import { stateAt } from "./replay.ts";
import type { StoreContext } from "./store_context.ts";
import { type ExportRecord, StoreError } from "./types.ts";

/**
 * Every stored instance as export records, in order: its `instance` record (with the
 * current snapshot), then its `journal` entries, then its `checkpoint`s. Values come out
 * decrypted: an export of an encrypted store is plaintext.
 */
export async function* exportRecords(
  ctx: StoreContext,
  options: { machine?: string },
): AsyncGenerator<ExportRecord> {
  const selector = options.machine === undefined
    ? { prefix: K.instPrefix() }
    : { prefix: ["sc", "ixm", options.machine] };
  const idAt = options.machine === undefined ? 2 : 3;
  for await (const e of ctx.backend.list<unknown>(selector)) {
    const id = e.key[idAt] as string;
    const recEntry = await ctx.backend.get<InstanceRecord>(K.inst(id));
    const rec = recEntry.value;
    if (rec === null) continue;
    const machine = ctx.machines.get(rec.machine);
    let snapshot: Snapshot;
    try {
      snapshot = await ctx.records.readSnapshot(rec);
    } catch (err) {
      if (!(err instanceof StoreDataError) || machine === undefined) throw err;
      snapshot = await stateAt(ctx, id, machine, rec.seq);
    }
    const head: ExportRecord = {
      type: "instance",
      format: "statecraft.export/1",
      id,
      machine: rec.machine,
      status: rec.status,
      archived: rec.archived,
      seq: rec.seq,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
      snapshot,
    };
    if (rec.version !== undefined) head.version = rec.version;
    yield head;
    for await (const j of ctx.backend.list<unknown>({ prefix: K.journalPrefix(id) })) {
      yield { type: "journal", id, entry: await ctx.records.openJournal(j.value, id) };
    }
    for await (const c of ctx.backend.list<CheckpointRecord>({ prefix: K.ckptPrefix(id) })) {
      const rec2: ExportRecord = {
        type: "checkpoint",
        id,
        seq: c.value!.seq,
        time: c.value!.time,
        snapshot: await ctx.records.readCheckpoint(id, c.value!),
      };
      if (c.value!.label !== undefined) rec2.label = c.value!.label;
      yield rec2;
    }
  }
}

/**
 * Why an import stopped, and what it left: `written` names the instances this import wrote
 * that are still in the store (empty when they were all removed again, the usual case).
 */
export class ImportError extends StoreError {
  /** The record (from 1) the import stopped at. */
  readonly record: number;
  /** Instances this import wrote that could not be removed again (the store failed). */
  readonly written: string[];
  /**
   * Made by `importRecords` when it stops.
   *
   * @param code the code of the cause (`invalid`, `exists`, `unavailable`...)
   * @param record the record it stopped at, from 1
   * @param message `record <n>: ` and what went wrong, then what was left
   * @param written instances of this import still in the store
   */
  constructor(code: string, record: number, message: string, written: string[]) {
    super(code, message);
    this.name = "ImportError";
    this.record = record;
    this.written = written;
  }
}

/**
 * Writes export records back (into this store, which may be encrypted differently), all or
 * nothing. Every record is checked before it is written (`ImportChecker`: shape, order, each
 * snapshot loaded as the store will load it); an instance that already exists is refused. When
 * the import stops (a bad record, an existing instance, the store failing), what it wrote is
 * removed again and an `ImportError` names the record; if the removal fails too (the store is
 * gone), the error lists exactly the instances left in the store.
 */
export async function importRecords(
  ctx: StoreContext,
  records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
  onProgress?: (done: { instances: number; records: number }) => void,
): Promise<{ instances: number; journal: number; checkpoints: number }> {
  const written: string[] = [];
  const state = { record: 0, partial: null as string | null };
  try {
    return await writeRecords(ctx, records, written, state, onProgress);
  } catch (e) {
    const cause = ctx.storeError(e);
    const code = cause instanceof StoreError ? cause.code : "unavailable";
    const what = plainMessage(cause).replace(/^record \d+: /, "");
    let left: string[] = [];
    let after: string;
    const n = written.length;
    try {
      await undo(ctx, written, state.partial);
      if (n > 0) {
        after = ` (the ${count(n)} it had written ${n === 1 ? "was" : "were"} removed again: ` +
          `nothing was imported)`;
      } else {
        after = state.partial === null
          ? ""
          : ` (what it had written was removed again: nothing was imported)`;
      }
    } catch (undoError) {
      left = [...written];
      after = written.length === 0
        ? ` (and what it had written of "${state.partial}" could not be removed: ` +
          `${plainMessage(ctx.storeError(undoError))}; importing again overwrites it)`
        : `; the ${count(written.length)} it wrote could not be removed ` +
          `(${plainMessage(ctx.storeError(undoError))}) and ${
            written.length === 1 ? "is" : "are"
          } in the store: ${written.map((id) => JSON.stringify(id)).join(", ")}`;
    }
    throw new ImportError(code, state.record, `record ${state.record}: ${what}${after}`, left);
  }
}

function count(n: number): string {
  return n === 1 ? "1 instance" : `${n} instances`;
}

function plainMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Removes what an import wrote: whole instances, and the keys of one it had begun. */
async function undo(ctx: StoreContext, written: string[], partial: string | null): Promise<void> {
  if (partial !== null && (await ctx.backend.get(K.inst(partial))).value === null) {
    const keys: KvKey[] = [];
    // What an import writes of an instance before its record: snapshot chunks, journal, checkpoints.
    const parts = [
      K.snapPrefix,
      K.journalPrefix,
      K.ckptPrefix,
      K.ckptChunkPrefix,
      K.ckptLabelPrefix,
    ];
    for (const prefix of parts.map((part) => part(partial))) {
      for await (const e of ctx.backend.list({ prefix })) keys.push(e.key);
    }
    await writeInPieces(ctx.backend, keys.map((key) => ({ type: "delete" as const, key })));
  }
  while (written.length > 0) {
    await remove(ctx, written[written.length - 1]);
    written.pop();
  }
}

/** The import itself: records checked and written; `written` grows as instances commit. */
async function writeRecords(
  ctx: StoreContext,
  records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
  written: string[],
  state: { record: number; partial: string | null },
  onProgress?: (done: { instances: number; records: number }) => void,
): Promise<{ instances: number; journal: number; checkpoints: number }> {
  const checker: ImportChecker = new ImportChecker(ctx.machines, () => ctx.clock.now());
  const counts = { instances: 0, journal: 0, checkpoints: 0 };
  let pending: KvMutation[] = [];
  // The instance being imported: its record is written last, after its journal and
  // checkpoints, so a reader never sees a half-imported instance.
  let current: { rec: InstanceRecord; mutations: KvMutation[]; at: number } | null = null;
  let records_ = 0;
  const flush = async () => {
    await writeInPieces(ctx.backend, pending);
    pending = [];
  };
  const finish = async () => {
    if (current === null) return;
    await flush();
    const { rec, mutations, at } = current;
    const result = await ctx.backend.atomic([{ key: K.inst(rec.id), version: null }], mutations);
    if (!result.ok) {
      state.record = at;
      state.partial = null; // the instance there is someone else's: none of its keys is undone
      throw new StoreError("exists", `instance "${rec.id}" already exists in this store`);
    }
    written.push(rec.id);
    state.partial = null;
    counts.instances++;
    current = null;
  };
  for await (const r of records) {
    records_++;
    state.record = records_;
    checker.check(r);
    if (r.type === "instance") {
      await finish();
      state.record = records_;
      const existing = await ctx.backend.get(K.inst(r.id));
      if (existing.value !== null) {
        throw new StoreError("exists", `instance "${r.id}" already exists in this store`);
      }
      state.partial = r.id;
      const rec: InstanceRecord = {
        id: r.id,
        machine: r.machine,
        status: r.status,
        archived: r.archived,
        seq: r.seq,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        hash: r.snapshot.hash,
        configuration: r.snapshot.configuration,
        sha256: "",
        chunks: 0,
        timers: [],
        lastCheckpoint: 0,
        base: r.seq,
      };
      if (r.version !== undefined) rec.version = r.version;
      const mutations: KvMutation[] = [];
      await ctx.records.writeSnapshot(rec, null, r.snapshot, mutations);
      // Chunks of a large snapshot go with the journal; the record (which names them) last.
      for (const m of mutations) if (m.key[1] === "snap") pending.push(m);
      const head = mutations.filter((m) => m.key[1] !== "snap");
      setSearch(rec, ctx.machines.get(r.machine), r.snapshot);
      indexChanges(null, rec, head);
      current = { rec, mutations: head, at: records_ };
    } else if (current === null) {
      throw new StoreError("invalid", `a ${r.type} record must follow its instance record`);
    } else if (r.type === "journal") {
      pending.push({
        type: "set",
        key: K.journal(r.id, r.entry.seq),
        value: await ctx.records.sealJournal(r.entry),
      });
      counts.journal++;
    } else if (r.type === "checkpoint") {
      await ctx.records.writeCheckpoint(r.id, r.seq, r.label, r.time, r.snapshot, pending);
      // The record is written last and is this very object: it will carry this.
      if (r.seq > current.rec.lastCheckpoint && r.seq <= current.rec.seq) {
        current.rec.lastCheckpoint = r.seq;
      }
      counts.checkpoints++;
    }
    if (pending.length >= 500) await flush();
    onProgress?.({ instances: counts.instances, records: records_ });
  }
  await finish();
  state.record = records_;
  return counts;
}
