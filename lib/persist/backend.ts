/**
 * The seam between the store and the engine that holds its data. The store needs little of
 * storage: ordered tuple keys, point reads, ordered range scans with a cursor, one atomic write
 * with checks, and the backend's limits. Deno KV (`backend_deno_kv.ts`) and PostgreSQL
 * (`backend_postgres.ts`) implement it; `openBackend` (`open_backend.ts`) picks one by URL.
 *
 * Keys are ordered as Deno KV orders them: by type first (`Uint8Array` < `string` < `bigint`
 * < `number` < `boolean`), then by value (bytes and UTF-8 strings lexicographically, numbers
 * and bigints numerically, `false` < `true`), element by element, a shorter key before any
 * longer key it is a prefix of.
 *
 * @module
 */

/** One element of a key. */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;
/** A key: a tuple of parts. */
export type KvKey = readonly KvKeyPart[];

/** A stored entry. `value` and `version` are `null` when the key is absent. */
export interface KvEntry<T = unknown> {
  /** The key read. */
  key: KvKey;
  /** The stored value, or `null` when the key is absent. */
  value: T | null;
  /** Changes on every write of the key; compared by `KvCheck`. */
  version: string | null;
}

/** A check in an atomic write: the key is at `version` (`null`: the key is absent). */
export interface KvCheck {
  /** The key checked. */
  key: KvKey;
  /** The version it must have (`KvEntry.version`), or `null`: it must be absent. */
  version: string | null;
}

/**
 * A write in an atomic write. `expireIn` (ms): the entry may be deleted after that long and is
 * no longer read after it. `size`: the store's estimate of the value's bytes, for the limits.
 */
export type KvMutation =
  | { type: "set"; key: KvKey; value: unknown; expireIn?: number; size?: number }
  | { type: "delete"; key: KvKey };

/** What to list: every key under `prefix`, or a range `[start, end)`, or a prefix bounded. */
export type KvSelector =
  | { prefix: KvKey }
  | { prefix: KvKey; start: KvKey }
  | { prefix: KvKey; end: KvKey }
  | { start: KvKey; end: KvKey };

/** Options of `list`. */
export interface KvListOptions {
  /** At most this many entries. */
  limit?: number;
  /** From a page's `cursor` (exclusive). */
  cursor?: string;
  /** Last key first. */
  reverse?: boolean;
  /** Entries fetched per round trip (a hint). */
  batchSize?: number;
}

/** A listing: an async iterable of entries whose `cursor` resumes after the last one read. */
export interface KvListIterator<T> extends AsyncIterable<KvEntry<T>> {
  /** Resumes after the last entry yielded so far (pass to `list` as `cursor`). */
  readonly cursor: string;
}

/** The result of an atomic write: `ok` false when a check failed (nothing was written). */
export type KvCommitResult = { ok: true; version: string } | { ok: false };

/** What one atomic write may hold. */
export interface KvLimits {
  /** Checks per atomic write. */
  checks: number;
  /** Mutations per atomic write. */
  mutations: number;
  /** Bytes of keys and values per atomic write. */
  bytes: number;
  /** Bytes of one value. */
  valueBytes: number;
}

/**
 * Storage the store can run on. Every method may throw `BackendUnavailableError` when the
 * storage cannot be reached (after the backend's own bounded retries); `atomic` then may or may
 * not have been applied (the store settles that itself, see `commit_builder.ts`).
 */
export interface KvBackend {
  /** `"deno-kv"` or `"postgres"`. */
  readonly kind: string;
  /** Where it is, for messages (a path, or a URL without its password). */
  readonly where: string;
  /** What one atomic write may hold here. */
  readonly limits: KvLimits;
  /** Reads one key: an entry with `value` and `version` null when it is absent. */
  get<T = unknown>(key: KvKey): Promise<KvEntry<T>>;
  /** Entries in the order of `keys`. */
  getMany<T = unknown>(keys: readonly KvKey[]): Promise<KvEntry<T>[]>;
  /** Entries of a prefix or range, in key order (or reversed), paged by a cursor. */
  list<T = unknown>(selector: KvSelector, options?: KvListOptions): KvListIterator<T>;
  /** Applies every mutation, in order, if and only if every check holds. */
  atomic(checks: readonly KvCheck[], mutations: readonly KvMutation[]): Promise<KvCommitResult>;
  /**
   * Calls `listener` after any write to storage (by this process or another), when the backend
   * can tell; returns a function that stops it. Absent: the backend cannot tell (poll instead).
   */
  onChange?(listener: () => void): () => void;
  /** Closes the connection or file; the backend is unusable afterwards. */
  close(): Promise<void>;
}

/** The storage could not be reached (after bounded retries): try again later. */
export class BackendUnavailableError extends Error {
  /** True when an atomic write may have been applied although its reply was lost. */
  readonly ambiguous: boolean;
  constructor(message: string, options: { ambiguous?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "BackendUnavailableError";
    this.ambiguous = options.ambiguous ?? false;
  }
}

/** Whether `key` starts with `prefix`. */
export function hasPrefix(key: KvKey, prefix: KvKey): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const a = key[i], b = prefix[i];
    if (a instanceof Uint8Array && b instanceof Uint8Array) {
      if (a.length !== b.length || a.some((x, j) => x !== b[j])) return false;
    } else if (a !== b) return false;
  }
  return true;
}
