/**
 * The Deno KV backend: a local SQLite file, `":memory:"`, or a KV Connect URL, through Deno's
 * own client. Versions are Deno KV's versionstamps. Two processes on one local file get
 * SQLite's "database is locked": every call retries it with jittered backoff (bounded).
 *
 * @module
 */
import type {
  KvBackend,
  KvCheck,
  KvCommitResult,
  KvEntry,
  KvKey,
  KvLimits,
  KvListIterator,
  KvListOptions,
  KvMutation,
  KvSelector,
} from "./backend.ts";

/** Deno KV's limits on one atomic operation and one value. */
const DENO_KV_LIMITS: KvLimits = {
  checks: 100,
  mutations: 1000,
  bytes: 800 * 1024,
  valueBytes: 64 * 1024,
};

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

/**
 * Opens Deno KV at `path` (a file, whose folder is created; `":memory:"`; or an `http(s)://`
 * KV Connect URL, token from `DENO_KV_ACCESS_TOKEN`).
 */
export async function openDenoKvBackend(path: string): Promise<DenoKvBackend> {
  const remote = /^https?:\/\//.test(path);
  if (!remote && path !== ":memory:") {
    const slash = path.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  }
  const kv = await withLockRetry(() => Deno.openKv(path));
  return new DenoKvBackend(kv, path);
}

/** `KvBackend` over a `Deno.Kv` handle. */
export class DenoKvBackend implements KvBackend {
  readonly kind = "deno-kv";
  readonly where: string;
  readonly limits: KvLimits = DENO_KV_LIMITS;
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv, where: string) {
    this.#kv = kv;
    this.where = where;
  }

  /** The `Deno.Kv` handle, for tools that need Deno KV itself. */
  get kv(): Deno.Kv {
    return this.#kv;
  }

  async get<T>(key: KvKey): Promise<KvEntry<T>> {
    const e = await withLockRetry(() => this.#kv.get<T>(key as Deno.KvKey));
    return { key: e.key as KvKey, value: e.value, version: e.versionstamp };
  }

  async getMany<T>(keys: readonly KvKey[]): Promise<KvEntry<T>[]> {
    const out: KvEntry<T>[] = [];
    // Deno KV reads at most 10 keys per getMany.
    for (let i = 0; i < keys.length; i += 10) {
      const part = keys.slice(i, i + 10) as Deno.KvKey[];
      const got = await withLockRetry(() => this.#kv.getMany<T[]>(part));
      for (const e of got) {
        out.push({ key: e.key as KvKey, value: e.value, version: e.versionstamp });
      }
    }
    return out;
  }

  list<T>(selector: KvSelector, options: KvListOptions = {}): KvListIterator<T> {
    const iter = this.#kv.list<T>(selector as Deno.KvListSelector, {
      limit: options.limit,
      cursor: options.cursor,
      reverse: options.reverse,
      batchSize: options.batchSize,
    });
    return {
      get cursor() {
        return iter.cursor;
      },
      async *[Symbol.asyncIterator]() {
        for await (const e of iter) {
          yield { key: e.key as KvKey, value: e.value, version: e.versionstamp };
        }
      },
    };
  }

  async atomic(checks: readonly KvCheck[], mutations: readonly KvMutation[]): Promise<
    KvCommitResult
  > {
    const result = await withLockRetry(() => {
      const op = this.#kv.atomic();
      for (const c of checks) op.check({ key: c.key as Deno.KvKey, versionstamp: c.version });
      for (const m of mutations) {
        if (m.type === "set") {
          op.set(
            m.key as Deno.KvKey,
            m.value,
            m.expireIn === undefined ? undefined : { expireIn: m.expireIn },
          );
        } else op.delete(m.key as Deno.KvKey);
      }
      return op.commit();
    });
    return result.ok ? { ok: true, version: result.versionstamp } : { ok: false };
  }

  close(): Promise<void> {
    this.#kv.close();
    return Promise.resolve();
  }
}
