/**
 * Export and import: every instance as records (its `instance` record with the current
 * snapshot, then its journal entries, then its checkpoints), decrypted; and those records
 * written back into a store, which may be encrypted differently or on another backend. An
 * instance's record is written last, so an import that stops halfway leaves no half-imported
 * instance.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvMutation } from "./backend.ts";
import { StoreDataError } from "./codec.ts";
import { writeInPieces } from "./commit_builder.ts";
import { indexChanges } from "./indexes.ts";
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
 * Writes export records back (into this store, which may be encrypted differently). An
 * instance that already exists is an error naming it; nothing of it is written.
 */
export async function importRecords(
  ctx: StoreContext,
  records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
  onProgress?: (done: { instances: number; records: number }) => void,
): Promise<{ instances: number; journal: number; checkpoints: number }> {
  const counts = { instances: 0, journal: 0, checkpoints: 0 };
  let pending: KvMutation[] = [];
  // The instance being imported: its record is written last, after its journal and
  // checkpoints, so an import that stops halfway leaves no half-imported instance (only
  // keys that a retry overwrites).
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
      throw new StoreError(
        "exists",
        `record ${at}: instance "${rec.id}" already exists in this store`,
      );
    }
    counts.instances++;
    current = null;
  };
  for await (const r of records) {
    records_++;
    if (r.type === "instance") {
      await finish();
      if (r.format !== "statecraft.export/1") {
        throw new StoreError(
          "invalid",
          `record ${records_}: unknown export format ${JSON.stringify(r.format)}`,
        );
      }
      const machine = ctx.machines.get(r.machine);
      if (machine === undefined) {
        throw new StoreError(
          "invalid",
          `record ${records_}: instance "${r.id}" runs unknown machine "${r.machine}"`,
        );
      }
      const existing = await ctx.backend.get(K.inst(r.id));
      if (existing.value !== null) {
        throw new StoreError(
          "exists",
          `record ${records_}: instance "${r.id}" already exists in this store`,
        );
      }
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
      indexChanges(null, rec, head);
      current = { rec, mutations: head, at: records_ };
    } else if (current === null || r.id !== current.rec.id) {
      throw new StoreError(
        "invalid",
        `record ${records_}: a ${r.type} record for "${r.id}" must follow its instance record`,
      );
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
    } else {
      throw new StoreError(
        "invalid",
        `record ${records_}: unknown record type ${JSON.stringify((r as { type: unknown }).type)}`,
      );
    }
    if (pending.length >= 500) await flush();
    onProgress?.({ instances: counts.instances, records: records_ });
  }
  await finish();
  return counts;
}
