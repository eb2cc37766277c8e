/**
 * Records as they are stored: the instance record (metadata, and the snapshot inline when it
 * is small), chunked snapshots, checkpoints and journal entries; each value sealed with a
 * SHA-256 of its plaintext and, when the store has a key, AES-GCM. Reading checks all of it.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import type { KvBackend, KvMutation } from "./backend.ts";
import {
  chunk,
  decodeValue,
  encodePlain,
  encodeValue,
  INLINE_BYTES,
  join,
  StoreDataError,
} from "./codec.ts";
import { K } from "./keys.ts";
import type { SearchValues } from "./search.ts";
import type { Cause } from "./livelock.ts";
import { collectTimers, type TimerRef } from "./timers.ts";
import { type InstanceHead, type JournalEntry, StoreError } from "./types.ts";

/** What the store keeps of an instance under `K.inst(id)`. */
export interface InstanceRecord extends InstanceHead {
  hash: string;
  configuration: string[];
  sha256: string;
  inline?: Uint8Array;
  chunks: number;
  timers: TimerRef[];
  lastCheckpoint: number;
  /**
   * The seq of the last entry that replaced the whole state (rollback, migration, recovery,
   * import): timer event ids carry it, so a timer that fired before a rollback fires again.
   */
  base?: number;
  /** Effect ids of the invoked functions started and not yet answered, by invoke id. */
  effects?: Record<string, string>;
  /**
   * Invocations started by an operation of a chain of causes, by effect id: the cause their
   * result carries (livelock.ts; absent: none).
   */
  causes?: Record<string, Cause>;
  /** The last commit put sends in the outbox (a load looks there for undelivered ones). */
  outbox?: boolean;
  recoveredAt?: number;
  /** Cancelled by an operator: who, when, why (`status` is then `"cancelled"`). */
  cancelled?: { by: string; time: number; reason: string };
  /**
   * OpenTelemetry on: the `traceparent` of the macrostep that armed each pending timer, by
   * `<due>:<timer ref>` (a timer's firing links to it).
   */
  traces?: Record<string, string>;
  /** The values its machine's `search` declaration indexes (lib/persist/search.ts). */
  search?: SearchValues;
}

/** A checkpoint under `K.ckpt(id, seq)`. */
export interface CheckpointRecord {
  seq: number;
  label?: string;
  time: number;
  sha256: string;
  inline?: Uint8Array;
  chunks: number;
}

/** Largest snapshot one commit may carry, as a share of the backend's bytes per write. */
function maxSnapshotBytes(backend: KvBackend): number {
  return Math.floor(backend.limits.bytes * 0.875);
}

/** Encodes and decodes a store's values with its key (or none). */
export class Records {
  readonly #backend: KvBackend;
  readonly #key: CryptoKey | null;
  readonly #inline: number;

  constructor(backend: KvBackend, key: CryptoKey | null) {
    this.#backend = backend;
    this.#key = key;
    this.#inline = Math.min(INLINE_BYTES, backend.limits.valueBytes - 4096);
  }

  /** Whether values are encrypted. */
  get encrypted(): boolean {
    return this.#key !== null;
  }

  /**
   * Writes `snap` as `rec`'s snapshot (inline or in chunks, deleting chunks `old` had beyond
   * the new count) and the record itself. Returns the encoded size.
   */
  async writeSnapshot(
    rec: InstanceRecord,
    old: InstanceRecord | null,
    snap: Snapshot,
    mutations: KvMutation[],
  ): Promise<number> {
    const encoded = this.#key === null ? encodePlain(snap) : await encodeValue(snap, this.#key);
    rec.sha256 = encoded.sha256;
    const timers = collectTimers(snap, []);
    // No timers, as before: the old (empty) array is kept rather than a new one retained.
    rec.timers = timers.length === 0 && old !== null && old.timers?.length === 0
      ? old.timers
      : timers;
    const oldChunks = old?.chunks ?? 0;
    if (encoded.bytes.length <= this.#inline) {
      rec.inline = encoded.bytes;
      rec.chunks = 0;
    } else {
      const limit = maxSnapshotBytes(this.#backend);
      if (encoded.bytes.length > limit) {
        throw new StoreError(
          "too_large",
          `the snapshot of "${rec.id}" is ${encoded.bytes.length} bytes; one commit holds at most ${
            Math.floor(limit / 1024)
          } KiB of it (${this.#backend.kind})`,
        );
      }
      const chunks = chunk(encoded.bytes);
      delete rec.inline;
      rec.chunks = chunks.length;
      chunks.forEach((c, n) => mutations.push({ type: "set", key: K.snap(rec.id, n), value: c }));
    }
    for (let n = rec.chunks; n < oldChunks; n++) {
      mutations.push({ type: "delete", key: K.snap(rec.id, n) });
    }
    mutations.push({ type: "set", key: K.inst(rec.id), value: rec });
    return encoded.bytes.length;
  }

  /** Reads and checks an instance's snapshot; a `StoreDataError` says what is wrong. */
  async readSnapshot(rec: InstanceRecord): Promise<Snapshot> {
    let bytes: Uint8Array;
    if (rec.inline !== undefined) bytes = rec.inline;
    else {
      const keys = Array.from({ length: rec.chunks }, (_, n) => K.snap(rec.id, n));
      const parts = await this.#backend.getMany<Uint8Array>(keys);
      parts.forEach((part, n) => {
        if (!(part.value instanceof Uint8Array)) {
          throw new StoreDataError(
            `snapshot of "${rec.id}": chunk ${n} of ${rec.chunks} is missing`,
          );
        }
      });
      bytes = join(parts.map((p) => p.value!));
    }
    return await decodeValue<Snapshot>(bytes, this.#key, rec.sha256, `snapshot of "${rec.id}"`);
  }

  /** The context of a stored instance, or `undefined` when its snapshot cannot be read. */
  async readContext(rec: InstanceRecord): Promise<unknown> {
    try {
      return (await this.readSnapshot(rec)).context;
    } catch {
      return undefined;
    }
  }

  /** Adds a checkpoint of `snap` at `seq` (and its label) to `mutations`. */
  async writeCheckpoint(
    instanceId: string,
    seq: number,
    label: string | undefined,
    time: number,
    snap: Snapshot,
    mutations: KvMutation[],
  ): Promise<void> {
    const encoded = await encodeValue(snap, this.#key);
    const rec: CheckpointRecord = { seq, time, sha256: encoded.sha256, chunks: 0 };
    if (label !== undefined) rec.label = label;
    if (encoded.bytes.length <= this.#inline) rec.inline = encoded.bytes;
    else {
      const chunks = chunk(encoded.bytes);
      rec.chunks = chunks.length;
      chunks.forEach((c, n) =>
        mutations.push({ type: "set", key: K.ckptChunk(instanceId, seq, n), value: c })
      );
    }
    mutations.push({ type: "set", key: K.ckpt(instanceId, seq), value: rec });
    if (label !== undefined) {
      mutations.push({ type: "set", key: K.ckptLabel(instanceId, label), value: seq });
    }
  }

  /** Reads and checks a checkpoint's snapshot. */
  async readCheckpoint(instanceId: string, rec: CheckpointRecord): Promise<Snapshot> {
    let bytes: Uint8Array;
    if (rec.inline !== undefined) bytes = rec.inline;
    else {
      const keys = Array.from(
        { length: rec.chunks },
        (_, n) => K.ckptChunk(instanceId, rec.seq, n),
      );
      const parts = await this.#backend.getMany<Uint8Array>(keys);
      parts.forEach((part, n) => {
        if (!(part.value instanceof Uint8Array)) {
          throw new StoreDataError(
            `checkpoint ${rec.seq} of "${instanceId}": chunk ${n} is missing`,
          );
        }
      });
      bytes = join(parts.map((p) => p.value!));
    }
    return await decodeValue<Snapshot>(
      bytes,
      this.#key,
      rec.sha256,
      `checkpoint ${rec.seq} of "${instanceId}"`,
    );
  }

  /**
   * Any other record as stored (schedule records): as it is, or `{ sealed }` (AES-GCM) when
   * the store is encrypted.
   */
  async seal(value: unknown): Promise<unknown> {
    if (this.#key === null) return value;
    return { sealed: (await encodeValue(value, this.#key)).bytes };
  }

  /** The reverse of `seal`; `what` names the record in errors. A plain value is returned as is. */
  async open<T>(value: unknown, what: string): Promise<T> {
    if (typeof value === "object" && value !== null && "sealed" in value) {
      if (this.#key === null) throw new StoreDataError(`${what} is encrypted`);
      return await decodeValue<T>((value as { sealed: Uint8Array }).sealed, this.#key, null, what);
    }
    return value as T;
  }

  /** A journal entry as stored: as it is, or sealed when the store is encrypted. */
  async sealJournal(entry: JournalEntry): Promise<unknown> {
    if (this.#key === null) return entry;
    return { sealed: (await encodeValue(entry, this.#key)).bytes };
  }

  /** The reverse of `sealJournal`. */
  async openJournal(value: unknown, instanceId: string): Promise<JournalEntry> {
    if (typeof value === "object" && value !== null && "sealed" in value) {
      if (this.#key === null) throw new StoreDataError(`journal of "${instanceId}" is encrypted`);
      return await decodeValue<JournalEntry>(
        (value as { sealed: Uint8Array }).sealed,
        this.#key,
        null,
        `journal of "${instanceId}"`,
      );
    }
    return value as JournalEntry;
  }
}
