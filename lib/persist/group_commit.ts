/**
 * Group commit: commits of different instances that are ready together share one KV atomic
 * operation, within KV's limits (100 checks, 1,000 mutations, 800 KiB). While one operation is
 * in flight, new commits gather; when it lands, they go out together. If a shared operation
 * fails a check, every member is retried alone so that only the real conflict is reported.
 *
 * @module
 */

/** A KV mutation as `Deno.AtomicOperation.mutate` takes it, plus `delete`. */
export type Mutation =
  | { type: "set"; key: Deno.KvKey; value: unknown; expireIn?: number; size?: number }
  | { type: "delete"; key: Deno.KvKey };

/** One instance's commit. */
export interface CommitRequest {
  checks: Deno.AtomicCheck[];
  mutations: Mutation[];
  /** Estimated bytes (keys + values) for the 800 KiB limit. */
  size: number;
}

/** `ok` false: a check failed (someone else moved the instance). */
export type CommitResult = { ok: true; versionstamp: string } | { ok: false };

/** KV's limits on one atomic operation. */
export const LIMITS = { checks: 100, mutations: 1000, bytes: 800 * 1024 };

interface Pending extends CommitRequest {
  resolve(r: CommitResult): void;
  reject(e: unknown): void;
}

/** Whether an error is SQLite's "database is locked" (another process holds the file). */
export function isLocked(e: unknown): boolean {
  return e instanceof Error && /database is locked|SQLITE_BUSY/i.test(e.message);
}

/** Runs `fn`, retrying "database is locked" with jittered backoff (bounded). */
export async function withLockRetry<T>(fn: () => Promise<T>, tries = 200): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isLocked(e) || attempt >= tries) throw e;
      const ms = Math.min(50, 1 + attempt) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}

/** Batches commits into shared atomic operations. */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  #queue: Pending[] = [];
  #inFlight = 0;
  /**
   * Operations in flight at once. Two lets the next batch be built while one is written; it
   * is safe because an instance's mailbox never has two commits outstanding, so concurrent
   * operations never touch the same instance.
   */
  readonly #maxInFlight: number;
  /** Operations sent and commits carried, for the benchmark and tests. */
  stats = { operations: 0, commits: 0 };

  constructor(kv: Deno.Kv, maxInFlight = 2) {
    this.#kv = kv;
    this.#maxInFlight = maxInFlight;
  }

  /** Queues a commit; resolves when it is durable (or failed its checks). */
  commit(request: CommitRequest): Promise<CommitResult> {
    if (request.checks.length > LIMITS.checks || request.mutations.length > LIMITS.mutations) {
      return Promise.reject(
        new RangeError(
          `one commit needs ${request.checks.length} checks and ${request.mutations.length} ` +
            `mutations; KV allows ${LIMITS.checks} and ${LIMITS.mutations}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...request, resolve, reject });
      if (this.#inFlight < this.#maxInFlight) {
        this.#inFlight++;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        await this.#send(batch);
      }
    } finally {
      this.#inFlight--;
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    let checks = 0, mutations = 0, bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (
        batch.length > 0 &&
        (checks + next.checks.length > LIMITS.checks ||
          mutations + next.mutations.length > LIMITS.mutations ||
          bytes + next.size > LIMITS.bytes)
      ) break;
      batch.push(this.#queue.shift()!);
      checks += next.checks.length;
      mutations += next.mutations.length;
      bytes += next.size;
    }
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    try {
      const result = await this.#atomic(batch);
      if (result.ok) {
        for (const p of batch) p.resolve({ ok: true, versionstamp: result.versionstamp });
        return;
      }
      if (batch.length === 1) {
        batch[0].resolve({ ok: false });
        return;
      }
      // A shared operation failed a check: find out whose, by committing each alone.
      for (const p of batch) {
        try {
          const alone = await this.#atomic([p]);
          p.resolve(alone.ok ? { ok: true, versionstamp: alone.versionstamp } : { ok: false });
        } catch (e) {
          p.reject(e);
        }
      }
    } catch (e) {
      if (batch.length === 1) {
        batch[0].reject(e);
        return;
      }
      // The shared operation failed as a whole (too large, for one): each member alone.
      for (const p of batch) {
        try {
          const alone = await this.#atomic([p]);
          p.resolve(alone.ok ? { ok: true, versionstamp: alone.versionstamp } : { ok: false });
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }

  #atomic(batch: Pending[]): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return withLockRetry(() => {
      const op = this.#kv.atomic();
      for (const p of batch) {
        for (const c of p.checks) op.check(c);
        for (const m of p.mutations) {
          if (m.type === "set") {
            op.set(m.key, m.value, m.expireIn === undefined ? undefined : { expireIn: m.expireIn });
          } else op.delete(m.key);
        }
      }
      this.stats.operations++;
      this.stats.commits += batch.length;
      return op.commit();
    });
  }
}
