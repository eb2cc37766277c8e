/**
 * The commit builder. Group commit: commits of different instances that are ready together
 * share one atomic write, within the backend's limits (checks, mutations, bytes). While one
 * write is in flight, new commits gather; when it lands, they go out together. If a shared
 * write fails a check, or fails as a whole for a reason of its own (too large), each member is
 * committed alone so that only the real conflict is reported. When the storage cannot be
 * reached, every member gets that error: none is retried alone, since a write whose reply was
 * lost may have landed (the store settles it by event id).
 *
 * @module
 */
import { feedMutation, type FeedRef } from "./change_feed.ts";
import {
  BackendUnavailableError,
  type KvBackend,
  type KvCheck,
  type KvCommitResult,
  type KvMutation,
} from "./backend.ts";

/** One instance's commit. */
export interface CommitRequest {
  checks: KvCheck[];
  mutations: KvMutation[];
  /** Estimated bytes (keys + values), for the backend's byte limit. */
  size: number;
  /** Cluster mode: the entries this commit adds, for the change feed (one record a write). */
  feed?: FeedRef;
}

interface Pending extends CommitRequest {
  /** `checkId` of each check, computed once when queued. */
  ids: string[];
  resolve(r: KvCommitResult): void;
  reject(e: unknown): void;
}

/** Estimated bytes of some mutations (keys and values), without serialising them again. */
export function estimate(mutations: readonly KvMutation[]): number {
  let n = 0;
  for (const m of mutations) {
    n += 64;
    if (m.type === "set") {
      const v = m.value;
      if (m.size !== undefined) n += m.size;
      else if (v instanceof Uint8Array) n += v.length;
      else if (typeof v === "object" && v !== null) {
        const inline = (v as { inline?: Uint8Array }).inline;
        n += (inline?.length ?? 0) + 512;
        const sealed = (v as { sealed?: Uint8Array }).sealed;
        if (sealed !== undefined) n += sealed.length;
        else if (inline === undefined) n += JSON.stringify(v).length;
      } else n += 16;
    }
  }
  return n;
}

/**
 * Writes mutations that need not land together (a large checkpoint, an import's journal) in
 * as few writes as the backend's limits allow, each atomic on its own.
 */
export async function writeInPieces(
  backend: KvBackend,
  mutations: readonly KvMutation[],
): Promise<void> {
  const { mutations: most, bytes: budget } = backend.limits;
  let piece: KvMutation[] = [];
  let bytes = 0;
  for (const m of mutations) {
    const size = estimate([m]);
    if (piece.length > 0 && (piece.length >= most || bytes + size > budget * 0.9)) {
      await backend.atomic([], piece);
      piece = [];
      bytes = 0;
    }
    piece.push(m);
    bytes += size;
  }
  if (piece.length > 0) await backend.atomic([], piece);
}

/** Batches commits into shared atomic writes. */
export class CommitBuilder {
  readonly #backend: KvBackend;
  #queue: Pending[] = [];
  #inFlight = 0;
  /**
   * Writes in flight at once. Two lets the next batch be built while one is written; it is
   * safe because an instance's mailbox never has two commits outstanding, so concurrent writes
   * never touch the same instance.
   */
  readonly #maxInFlight: number;
  /** Writes sent and commits carried, for the benchmark and tests. */
  stats = { operations: 0, commits: 0 };

  /** Cluster mode: this node's name; each write then carries a change-feed record. */
  feedNode: string | undefined;

  constructor(backend: KvBackend, maxInFlight = 2) {
    this.#backend = backend;
    this.#maxInFlight = maxInFlight;
  }

  /** Queues a commit; resolves when it is durable (or failed its checks). */
  commit(request: CommitRequest): Promise<KvCommitResult> {
    const limits = this.#backend.limits;
    if (request.checks.length > limits.checks || request.mutations.length > limits.mutations) {
      return Promise.reject(
        new RangeError(
          `one commit needs ${request.checks.length} checks and ${request.mutations.length} ` +
            `mutations; ${this.#backend.kind} allows ${limits.checks} and ${limits.mutations}`,
        ),
      );
    }
    const ids = request.checks.map(checkId);
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...request, ids, resolve, reject });
      if (this.#inFlight < this.#maxInFlight) {
        this.#inFlight++;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#send(this.#take());
    } finally {
      this.#inFlight--;
    }
  }

  #take(): Pending[] {
    const limits = this.#backend.limits;
    const queue = this.#queue;
    // One mutation is kept for the change-feed record in cluster mode.
    const maxMutations = limits.mutations - (this.feedNode ? 1 : 0);
    // Checks are counted once per key and version: in cluster mode many commits share the
    // check of their partition's epoch.
    const checks = new Set<string>();
    let mutations = 0, bytes = 0, taken = 0;
    for (; taken < queue.length; taken++) {
      const next = queue[taken];
      let fresh = 0;
      if (next.ids.length === 1) fresh = checks.has(next.ids[0]) ? 0 : 1;
      else {
        // A commit's checks may repeat one another: each is counted once.
        const own = new Set<string>();
        for (const id of next.ids) if (!checks.has(id)) own.add(id);
        fresh = own.size;
      }
      if (
        taken > 0 &&
        (checks.size + fresh > limits.checks ||
          mutations + next.mutations.length > maxMutations ||
          bytes + next.size > limits.bytes)
      ) break;
      for (const id of next.ids) checks.add(id);
      mutations += next.mutations.length;
      bytes += next.size;
    }
    // One splice instead of a shift per commit (the queue can hold a thousand).
    return queue.splice(0, taken);
  }

  async #send(batch: Pending[]): Promise<void> {
    let shared: KvCommitResult;
    try {
      shared = await this.#atomic(batch);
    } catch (e) {
      if (batch.length === 1 || e instanceof BackendUnavailableError) {
        for (const p of batch) p.reject(e);
        return;
      }
      return await this.#eachAlone(batch);
    }
    if (shared.ok || batch.length === 1) {
      for (const p of batch) p.resolve(shared);
      return;
    }
    await this.#eachAlone(batch);
  }

  /** The fallback: each member of a failed shared write committed alone. */
  async #eachAlone(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        p.resolve(await this.#atomic([p]));
      } catch (e) {
        p.reject(e);
      }
    }
  }

  #atomic(batch: Pending[]): Promise<KvCommitResult> {
    const checks = new Map<string, KvCheck>();
    const mutations: KvMutation[] = [];
    const feed: FeedRef[] = [];
    for (const p of batch) {
      for (let i = 0; i < p.checks.length; i++) checks.set(p.ids[i], p.checks[i]);
      for (const m of p.mutations) mutations.push(m);
      if (p.feed !== undefined) feed.push(p.feed);
    }
    if (feed.length > 0 && this.feedNode !== undefined) {
      mutations.push(feedMutation(this.feedNode, feed));
    }
    this.stats.operations++;
    this.stats.commits += batch.length;
    return this.#backend.atomic([...checks.values()], mutations);
  }
}

/**
 * A check's identity: its key and the version it expects. Keys of strings and finite numbers
 * (all the store's checks) are joined by hand, each part tagged by its type; any other key
 * falls back to JSON. The two forms cannot collide: only the fallback starts with `[`.
 */
function checkId(check: KvCheck): string {
  let id = `${check.version}\u0000`;
  for (const part of check.key) {
    if (typeof part === "string") id += `s${part.length}:${part}`;
    else if (typeof part === "number" && Number.isFinite(part)) id += `n${part};`;
    else return `${check.version}\u0000${JSON.stringify(check.key, keyPart)}`;
  }
  return id;
}

function keyPart(_name: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `bytes:${[...value].join(",")}`;
  return value;
}
