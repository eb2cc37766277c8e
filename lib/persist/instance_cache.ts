/**
 * The instances a store keeps in memory, least recently used first out, bounded by an estimate
 * of the memory they take (and optionally by a count). A `Map` keeps insertion order, so
 * moving an entry to the end on use is the whole LRU: no library would be simpler or faster.
 *
 * @module
 */
import type { AnyInstance, AnyMachine } from "./types.ts";
import type { EventObject } from "../core/types.ts";
import type { InstanceRecord } from "./records.ts";
import type { Cause } from "./livelock.ts";

/** The effect ids of an instance's invoked functions, by invoke id (see `instanceOptions`). */
export interface EffectIds {
  ids: Record<string, string>;
  /** The seq of the journal entry being applied (its invocations are named after it). */
  seq: number;
  /** True while the instance is restored: running invocations restart with their old ids. */
  restoring: boolean;
  /** Sends to plugins made by the entry `sendSeq` so far (they are numbered). */
  sendSeq?: number;
  sends?: number;
  /** Deliveries of sends made while applying, to commit with the transition and then run. */
  outbox: OutboxItem[];
  /**
   * Invocations started by an operation that had a cause (livelock.ts), by effect id: the
   * cause their result carries (kept in the record as `causes`; absent: none).
   */
  causes?: Record<string, Cause>;
  /** Sends refused while applying (past `maxCausalHops`), reported once committed. */
  refused?: Error[];
  /** The last batch with a caused operation: its time and cause (for zero-delay timers). */
  chained?: { time: number; cause: Cause };
}

/** A send waiting for its transition's commit. */
export interface OutboxItem {
  target: string;
  event: EventObject;
  effectId: string;
  run: () => unknown;
  /** OpenTelemetry on: the `traceparent` of the macrostep that made it. */
  trace?: string;
  /** A send to another instance: the cause its delivery carries (livelock.ts). */
  cause?: Cause;
}

/** An instance in memory: its record (without the inline snapshot), version, engine instance. */
export interface Loaded {
  rec: InstanceRecord;
  version: string;
  instance: AnyInstance;
  machine: AnyMachine;
  /** Estimated bytes in memory. */
  bytes: number;
  /** The effect ids of its invoked functions (kept in its record with each commit). */
  effects: EffectIds;
}

const MIB = 1024 * 1024;

/** Fixed cost of an instance in memory besides its snapshot (engine objects, record). */
const BASE_BYTES = 800;

/**
 * Estimated bytes in memory of an instance whose encoded snapshot has `encodedBytes`. Measured
 * here (heap growth over 20,000 cached instances of a small counter, 320-byte snapshots):
 * 1,373 bytes each; this gives 1,440.
 */
export function estimateBytes(encodedBytes: number): number {
  return BASE_BYTES + encodedBytes * 2;
}

/**
 * The default memory budget: a sixteenth of the machine's memory, between 64 MiB and 2 GiB;
 * 256 MiB (about 180,000 small instances) when the process may not read the machine's memory
 * (`--allow-sys=systemMemoryInfo`; the tasks in deno.json grant it).
 */
export function defaultCacheBytes(): number {
  try {
    // The permission is asked first: reading without it would prompt on a terminal.
    const sys = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state;
    if (sys !== "granted") return 256 * MIB;
    const total = Deno.systemMemoryInfo().total;
    return Math.max(64 * MIB, Math.min(2048 * MIB, Math.floor(total / 16)));
  } catch {
    return 256 * MIB;
  }
}
/** The LRU of loaded instances. */
export class InstanceCache {
  readonly #map = new Map<string, Loaded>();
  readonly #maxBytes: number;
  readonly #maxCount: number;
  #bytes = 0;

  constructor(maxBytes: number, maxCount = Infinity) {
    this.#maxBytes = maxBytes;
    this.#maxCount = maxCount;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Estimated bytes of everything cached. */
  get bytes(): number {
    return this.#bytes;
  }

  has(id: string): boolean {
    return this.#map.has(id);
  }

  /** The entry without touching its place. */
  peek(id: string): Loaded | undefined {
    return this.#map.get(id);
  }

  /** The entry, now most recently used. */
  use(id: string): Loaded | undefined {
    const loaded = this.#map.get(id);
    if (loaded !== undefined) {
      this.#map.delete(id);
      this.#map.set(id, loaded);
    }
    return loaded;
  }

  values(): IterableIterator<Loaded> {
    return this.#map.values();
  }

  /**
   * Adds or replaces an entry, then stops and drops the least recently used entries beyond
   * the budget, except `keep(id)` ones (busy mailboxes) and this one.
   */
  put(loaded: Loaded, keep: (id: string) => boolean): void {
    const id = loaded.rec.id;
    const old = this.#map.get(id);
    if (old !== undefined) {
      this.#bytes -= old.bytes;
      this.#map.delete(id);
      if (old.instance !== loaded.instance) old.instance.stop();
    }
    this.#map.set(id, loaded);
    this.#bytes += loaded.bytes;
    if (this.#bytes <= this.#maxBytes && this.#map.size <= this.#maxCount) return;
    for (const [other, l] of this.#map) {
      if (this.#bytes <= this.#maxBytes && this.#map.size <= this.#maxCount) break;
      if (other === id || keep(other)) continue;
      this.#drop(other, l);
    }
  }

  /** Changes an entry's size estimate (after a commit changed its snapshot). */
  resize(loaded: Loaded, bytes: number): void {
    if (this.#map.get(loaded.rec.id) === loaded) this.#bytes += bytes - loaded.bytes;
    loaded.bytes = bytes;
  }

  /** Stops and drops an entry. */
  evict(id: string): void {
    const loaded = this.#map.get(id);
    if (loaded !== undefined) this.#drop(id, loaded);
  }

  /** Stops and drops everything. */
  clear(): void {
    for (const [id, l] of this.#map) this.#drop(id, l);
  }

  #drop(id: string, loaded: Loaded): void {
    loaded.instance.stop();
    this.#map.delete(id);
    this.#bytes -= loaded.bytes;
  }
}
