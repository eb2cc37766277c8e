/**
 * The PostgreSQL backend: a store shared by several processes and hosts, on a PostgreSQL
 * server the user runs (its high availability is PostgreSQL's own). See the "PostgreSQL"
 * section of docs/persistence.md for the URL, the schema, privileges, backup and failure
 * behaviour.
 *
 * Layout (format 1), all in one schema (`schema=` URL parameter, default `statecraft`):
 * `meta(name, value)` holding `format = 1`; `kv(key bytea, value bytea, version bigint,
 * expires_at bigint)` whose primary key sorts as Deno KV sorts keys (`key_codec.ts`: `bytea`
 * compares with `memcmp`); the sequence `version_seq`; and `sc_atomic(...)`, one atomic write
 * in one round trip. Values are V8-serialised (`node:v8`), as Deno KV serialises them.
 *
 * Exactness of `atomic` under READ COMMITTED: `sc_atomic` first takes a transaction-scoped
 * advisory lock on a 64-bit hash of every key it checks or writes (in ascending hash order, so
 * two writers never deadlock on each other), then reads the checked keys. Every writer of a key
 * holds that key's lock until it has committed (PostgreSQL marks a transaction committed before
 * it releases its locks), and each statement of a volatile PL/pgSQL function reads a fresh
 * snapshot, so the checks see every write that committed before the locks were granted and no
 * write to those keys can commit between the checks and our commit. That holds for version
 * checks and for "absent" checks alike, whether or not the write touches the checked key. A
 * hash collision only makes two unrelated keys wait for each other. Expired entries count as
 * absent (the server's clock decides, read after the locks are held); the occasional sweep
 * that deletes expired rows only removes rows every reader already treats as absent.
 *
 * Why `npm:pg` (node-postgres): it runs on Deno's Node compatibility over TCP and over Unix
 * sockets, it is the most used PostgreSQL client, and its failure surface is small and
 * explicit: a broken connection fails the query in flight and emits `error` events that we
 * handle (on the pool and on every client), so a server that dies never crashes the process.
 * postgres.js (`npm:postgres`) was considered and not taken: it has an open bug
 * (porsager/postgres#1154) in which a connection error can escape as an uncaught error and end
 * the process, which is exactly the failure this backend must survive.
 *
 * Failure behaviour: connection failures are retried with jittered backoff for up to
 * `retryMs` (default 10 s) and then surface as `BackendUnavailableError`. An `atomic` whose
 * connection broke after its query was sent is not retried: it rejects with
 * `BackendUnavailableError` and `ambiguous: true` (it may have been applied). Deadlocks and
 * serialization failures are retried (bounded). A query with no reply for `queryTimeoutMs`
 * (default 30 s) counts as a broken connection. After the server comes back, the same backend
 * works again: the pool opens new connections on demand.
 *
 * @module
 */
// @ts-types="@types/pg"
import pg from "pg";
import { Buffer } from "node:buffer";
import { deserialize, serialize } from "node:v8";
import {
  BackendUnavailableError,
  type KvBackend,
  type KvCheck,
  type KvCommitResult,
  type KvEntry,
  type KvKey,
  type KvLimits,
  type KvListIterator,
  type KvListOptions,
  type KvMutation,
  type KvSelector,
} from "./backend.ts";
import {
  compareBytes,
  decodeKey,
  encodeKey,
  fromBase64Url,
  keyAfter,
  prefixRange,
  toBase64Url,
} from "./key_codec.ts";

/** The storage format this code writes and reads (the `format` row of `meta`). */
export const PG_FORMAT_VERSION = 1;

/**
 * What one atomic write may hold on PostgreSQL. Wider than Deno KV's: the bounds keep one
 * `sc_atomic` call well inside a second and a few tens of MiB of server memory.
 */
export const POSTGRES_LIMITS: KvLimits = {
  checks: 1000,
  mutations: 10_000,
  bytes: 16 * 1024 * 1024,
  valueBytes: 1024 * 1024,
};

/** Options read from the URL's query (and stripped before the URL reaches `pg`). */
export interface PostgresOptions {
  /** Schema holding the store's tables (`schema=`, default `statecraft`). */
  schema: string;
  /** Connections in the pool (`pool=`, default 6). */
  pool: number;
  /** Bound on establishing one connection (`connectTimeoutMs=`, default 5000). */
  connectTimeoutMs: number;
  /** Bound on retrying an unreachable server before `BackendUnavailableError` (`retryMs=`, default 10000). */
  retryMs: number;
  /** A query without reply for this long breaks its connection (`queryTimeoutMs=`, default 30000). */
  queryTimeoutMs: number;
}

/** The store's own URL parameters and their defaults. */
const DEFAULTS: PostgresOptions = {
  schema: "statecraft",
  pool: 6,
  connectTimeoutMs: 5000,
  retryMs: 10_000,
  queryTimeoutMs: 30_000,
};

/** A schema in the database is not one this code can use (newer format, bad name). */
export class PostgresSchemaError extends Error {
  /** `message` says which schema, what was found and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "PostgresSchemaError";
  }
}

/** `url` without its password (for messages). */
export function redactPostgresUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1@");
}

/**
 * Splits a `postgres://` URL into the connection string for `pg` and our own options
 * (`schema`, `pool`, `connectTimeoutMs`, `retryMs`, `queryTimeoutMs`).
 *
 * @example
 * ```ts
 * import { parsePostgresUrl } from "./backend_postgres.ts";
 * const { connectionString, options } = parsePostgresUrl("postgres://u@/db?host=/run/pg&schema=a");
 * console.log(connectionString, options.schema); // postgres://u@/db?host=/run/pg a
 * ```
 */
export function parsePostgresUrl(
  url: string,
): { connectionString: string; options: PostgresOptions } {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new TypeError(`"${redactPostgresUrl(url)}" is not a postgres:// or postgresql:// URL`);
  }
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const q = base.indexOf("?");
  const params = new URLSearchParams(q >= 0 ? base.slice(q + 1) : "");
  const options: PostgresOptions = { ...DEFAULTS };
  const where = redactPostgresUrl(url);
  const int = (name: keyof PostgresOptions, min: number) => {
    const raw = params.get(name);
    params.delete(name);
    if (raw === null) return;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      throw new TypeError(`${where}: ${name}=${raw} must be an integer >= ${min}`);
    }
    (options[name] as number) = n;
  };
  const schema = params.get("schema");
  params.delete("schema");
  if (schema !== null) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,47}$/.test(schema)) {
      throw new PostgresSchemaError(
        `${where}: schema "${schema}" must be 1-48 letters, digits or underscores, not starting with a digit`,
      );
    }
    options.schema = schema;
  }
  int("pool", 1);
  int("connectTimeoutMs", 1);
  int("retryMs", 0);
  int("queryTimeoutMs", 1);
  const rest = params.toString();
  return {
    connectionString: (q >= 0 ? base.slice(0, q) : base) + (rest ? `?${rest}` : ""),
    options,
  };
}

/**
 * SQLSTATEs after which the same call may simply run again (nothing was applied): a
 * serialization failure, a deadlock, and "out of shared memory" (53200), which a write gets
 * when the server's lock table is full: `sc_atomic` takes an advisory lock per key, and the
 * table holds `max_locks_per_transaction` x `max_connections` locks (6,400 by default) for
 * every transaction at once, so several large writes together (1,000 events each, from the
 * nodes of a cluster) can fill it; each ends soon and frees its locks.
 */
const RETRY_CODES = new Set(["40001", "40P01", "53200"]);

/** A PostgreSQL error response (it carries a SQLSTATE). */
function isDatabaseError(e: unknown): e is pg.DatabaseError {
  return e instanceof pg.DatabaseError ||
    (e instanceof Error && "severity" in e && typeof (e as { code?: unknown }).code === "string");
}

/** SQLSTATEs that mean the server or connection went away (class 08, 57P0x, 53300). */
function isUnavailableCode(code: string | undefined): boolean {
  return code !== undefined &&
    (code.startsWith("08") || /^57P0[1-4]$/.test(code) || code === "53300");
}

/**
 * Whether `e` is a failure to reach the server (retry, or report as unavailable) rather than
 * an error in the request: a PostgreSQL error of class 08/57P0x/53300, or any error from the
 * socket or the client's own timeouts. Not: other PostgreSQL errors, Deno permission errors
 * (a missing `--allow-net` never heals by retrying), and programming errors.
 */
function isConnectionError(e: unknown): boolean {
  if (isDatabaseError(e)) return isUnavailableCode(e.code);
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return false;
  }
  if (e instanceof TypeError || e instanceof RangeError || e instanceof PostgresSchemaError) {
    return false;
  }
  return e instanceof Error;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function backoffMs(attempt: number): number {
  return Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
}

const VERSION_RE = /^\d{20}$/;
const padVersion = (v: string | number | bigint): string => String(v).padStart(20, "0");

/** `true` and `false` V8-serialised (index entries' values): made once, sent as they are. */
const SERIALIZED_TRUE = serialize(true);
const SERIALIZED_FALSE = serialize(false);

/** `b` as a string of one char per byte (a map key; cheaper than hex for short keys). */
function binaryString(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i++) out += String.fromCharCode(b[i]);
  return out;
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A FIFO semaphore: at most `size` holders at a time. */
class Slots {
  #free: number;
  #waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  constructor(size: number) {
    this.#free = size;
  }
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve();
    else this.#free++;
  }
  rejectAll(e: Error): void {
    for (const w of this.#waiting.splice(0)) w.reject(e);
  }
}

/**
 * The kv table's fillfactor. At 100 (PostgreSQL's default) the pages are full, so every update
 * of an instance record wrote its new version on another page: a new primary-key entry per
 * update (no HOT update), the table growing by the record's size per event and autovacuum
 * scanning it all again and again. With room left on each page most updates stay on their
 * page (HOT). Measured in docs/performance.md (the store benchmark, issue #10).
 */
export const KV_FILLFACTOR = 70;

/** Marks the current body of `sc_atomic` (`upgrade` replaces an older one on open). */
const ATOMIC_REVISION = "statecraft sc_atomic revision 2";

/** SQL text of one schema (identifiers quoted once, here). */
function sqlFor(schema: string) {
  const s = `"${schema}"`;
  const channel = `sc_changes_${schema}`;
  const live = `(expires_at IS NULL OR expires_at > (SELECT ${s}.sc_now()))`;
  const atomicFunction = atomicFunctionSql(s, schema);
  return {
    channel,
    listen: `LISTEN "${channel}"`,
    get: `SELECT value, version FROM ${s}.kv WHERE key = $1 AND ${live}`,
    getMany: `SELECT key, value, version FROM ${s}.kv WHERE key = ANY($1::bytea[]) AND ${live}`,
    listForward: `SELECT key, value, version FROM ${s}.kv WHERE key >= $1 AND key < $2 AND ${live}
      ORDER BY key LIMIT $3`,
    listReverse: `SELECT key, value, version FROM ${s}.kv WHERE key >= $1 AND key < $2 AND ${live}
      ORDER BY key DESC LIMIT $3`,
    atomic: `SELECT ${s}.sc_atomic($1::bytea[], $2::bigint[], $3::bytea[], $4::bytea[],
      $5::bigint[], $6::bytea[]) AS version`,
    // Its own tiny transaction, not waiting for its commit record to be flushed: a NOTIFY
    // serialises the commits of the transactions that send one (a cluster-wide lock), so the
    // writes themselves never notify (see `#notify`).
    notify: `SET LOCAL synchronous_commit TO off; SELECT pg_notify('${channel}', '')`,
    sweep: `DELETE FROM ${s}.kv WHERE key IN (SELECT key FROM ${s}.kv
      WHERE expires_at <= (SELECT ${s}.sc_now()) LIMIT 10000)`,
    probe: `SELECT to_regclass('${s}.meta') IS NOT NULL AS has_meta,
      EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema`,
    format: `SELECT value FROM ${s}.meta WHERE name = 'format'`,
    create: (withSchema: boolean) => [
      ...(withSchema ? [`CREATE SCHEMA IF NOT EXISTS ${s}`] : []),
      `CREATE TABLE IF NOT EXISTS ${s}.meta (name text PRIMARY KEY, value text NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${s}.kv (
        key bytea PRIMARY KEY,
        value bytea NOT NULL,
        version bigint NOT NULL,
        expires_at bigint
      ) WITH (fillfactor = ${KV_FILLFACTOR})`,
      `CREATE INDEX IF NOT EXISTS kv_expires_at ON ${s}.kv (expires_at)
        WHERE expires_at IS NOT NULL`,
      `CREATE SEQUENCE IF NOT EXISTS ${s}.version_seq`,
      `CREATE OR REPLACE FUNCTION ${s}.sc_now() RETURNS bigint LANGUAGE sql VOLATILE AS
        $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$`,
      atomicFunction,
      `INSERT INTO ${s}.meta (name, value) VALUES ('format', '${PG_FORMAT_VERSION}')
        ON CONFLICT (name) DO NOTHING`,
    ],
    /**
     * Brings a format-1 schema made by an earlier Statecraft up to this one's layout, in
     * place; each statement is safe to repeat and changes nothing the older code relies on.
     */
    upgrade: {
      /** The kv table's fillfactor (null: the default, 100) and whether we own it. */
      probe: `SELECT (SELECT option_value::int FROM pg_options_to_table(c.reloptions)
          WHERE option_name = 'fillfactor') AS fillfactor,
        pg_has_role(c.relowner, 'USAGE') AS owner,
        (SELECT p.prosrc LIKE '%${ATOMIC_REVISION}%' FROM pg_proc p
          WHERE p.oid = to_regprocedure('${s}.sc_atomic(bytea[], bigint[], bytea[], bytea[], bigint[], bytea[])'))
          AS atomic_current
        FROM pg_class c WHERE c.oid = '${s}.kv'::regclass`,
      // Pages filled from now on keep room for updates (existing pages as vacuum frees them).
      fillfactor: `ALTER TABLE ${s}.kv SET (fillfactor = ${KV_FILLFACTOR})`,
      // Same signature, same lock keys and order: old and new bodies exclude each other.
      atomic: atomicFunction,
    },
  };
}

/** The body of `sc_atomic` of one schema (`s` quoted, `schema` raw). */
function atomicFunctionSql(s: string, schema: string): string {
  return (
    // One atomic write. Keys of one call are distinct within set_keys + del_keys (the
    // client folds repeated keys: the last mutation of a key wins). Returns the new
    // version, or NULL when a check failed (then nothing was written).
    `CREATE OR REPLACE FUNCTION ${s}.sc_atomic(
        check_keys bytea[], check_versions bigint[],
        set_keys bytea[], set_values bytea[], set_expire_in bigint[],
        del_keys bytea[]) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        now_ms bigint;
        v bigint;
      BEGIN
        -- ${ATOMIC_REVISION}: the locks in one statement, taken in the order of the sorted
        -- hashes (as revision 1 did, one PERFORM per lock).
        PERFORM pg_advisory_xact_lock(locks.h) FROM (
          SELECT DISTINCT ('x' || left(md5(convert_to('${schema}:', 'UTF8') || k), 16))::bit(64)::bigint AS h
          FROM unnest(check_keys || set_keys || del_keys) AS k ORDER BY 1
        ) AS locks;
        now_ms := ${s}.sc_now();
        IF EXISTS (
          SELECT 1 FROM unnest(check_keys, check_versions) AS c(k, ver)
          LEFT JOIN ${s}.kv ON kv.key = c.k AND (kv.expires_at IS NULL OR kv.expires_at > now_ms)
          WHERE kv.version IS DISTINCT FROM c.ver
        ) THEN
          RETURN NULL;
        END IF;
        v := nextval('${s}.version_seq');
        IF cardinality(del_keys) > 0 THEN
          DELETE FROM ${s}.kv WHERE key = ANY(del_keys);
        END IF;
        IF cardinality(set_keys) > 0 THEN
          INSERT INTO ${s}.kv AS t (key, value, version, expires_at)
          SELECT m.k, m.val, v, now_ms + m.e
          FROM unnest(set_keys, set_values, set_expire_in) AS m(k, val, e)
          ON CONFLICT (key) DO UPDATE
            SET value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at;
        END IF;
        RETURN v;
      END
      $fn$`
  );
}

type Row = { key?: Buffer; value: Buffer; version: string };

/**
 * Opens (and on first use creates) a Statecraft store in a PostgreSQL database.
 *
 * `url`: `postgres://user:password@host:port/db` or `postgresql://...`; a Unix socket as
 * `postgres://user@/db?host=/path/to/socketdir`; plus our own parameters `schema=` (default
 * `statecraft`), `pool=` (connections, default 6), `connectTimeoutMs=`, `retryMs=`,
 * `queryTimeoutMs=`. Rejects with `BackendUnavailableError` when the server cannot be reached
 * within `retryMs`, and with `PostgresSchemaError` when the schema holds a newer format.
 *
 * @example
 * ```ts ignore
 * import { openPostgresBackend } from "./backend_postgres.ts";
 * const backend = await openPostgresBackend("postgres://app@db.internal/app?schema=statecraft");
 * await backend.atomic([], [{ type: "set", key: ["greeting"], value: "hello" }]);
 * console.log((await backend.get(["greeting"])).value); // "hello"
 * await backend.close();
 * ```
 */
export async function openPostgresBackend(url: string): Promise<PostgresBackend> {
  const { connectionString, options } = parsePostgresUrl(url);
  const backend = new PostgresBackend(connectionString, options, redactPostgresUrl(url));
  try {
    await backend.init();
  } catch (e) {
    await backend.close();
    throw e;
  }
  return backend;
}

/** `KvBackend` over a PostgreSQL database (see the module doc). */
export class PostgresBackend implements KvBackend {
  /** Always `"postgres"`. */
  readonly kind = "postgres";
  /** The URL without its password. */
  readonly where: string;
  /** `POSTGRES_LIMITS`. */
  readonly limits: KvLimits = POSTGRES_LIMITS;
  /** The options in force (from the URL). */
  readonly options: Readonly<PostgresOptions>;
  readonly #pool: pg.Pool;
  readonly #slots: Slots;
  readonly #sql: ReturnType<typeof sqlFor>;
  readonly #clientConfig: pg.ClientConfig;
  #closed = false;
  #lastSweep = 0;
  #sweeping: Promise<void> | null = null;
  #notifying: Promise<void> | null = null;
  #notifyAgain = false;
  readonly #listeners = new Set<() => void>();
  #listenClient: pg.Client | null = null;
  #listenTimer: ReturnType<typeof setTimeout> | undefined;
  #listenAttempt = 0;

  /** Use `openPostgresBackend`, which also creates or checks the schema. */
  constructor(connectionString: string, options: PostgresOptions, where: string) {
    this.where = where;
    this.options = options;
    this.#sql = sqlFor(options.schema);
    this.#clientConfig = {
      connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs,
      query_timeout: options.queryTimeoutMs,
      keepAlive: true,
      application_name: "statecraft",
    };
    this.#pool = new pg.Pool({
      ...this.#clientConfig,
      max: options.pool,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose server died emits `error`: the pool drops it; without a listener
    // here the pool would re-emit it as an uncaught error. Every client also gets a listener
    // of its own for the instants it is checked out between our handlers.
    this.#pool.on("error", () => {});
    this.#pool.on("connect", (client) => client.on("error", () => {}));
    this.#slots = new Slots(options.pool);
  }

  /** Creates the schema on first use (under an advisory lock) or checks its format. */
  async init(): Promise<void> {
    const { schema } = this.options;
    await this.#run("open", false, async (c) => {
      await c.query("BEGIN");
      try {
        await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
          `statecraft:init:${schema}`,
        ]);
        const probe = await c.query(this.#sql.probe, [schema]);
        const { has_meta, has_schema } = probe.rows[0];
        let found: number | null = null;
        if (has_meta) {
          const r = await c.query(this.#sql.format);
          found = r.rows.length ? Number(r.rows[0].value) : null;
        }
        if (found !== null && found > PG_FORMAT_VERSION) {
          throw new PostgresSchemaError(
            `PostgreSQL schema "${schema}" at ${this.where} holds Statecraft store format ` +
              `${found}; this Statecraft supports format ${PG_FORMAT_VERSION}: upgrade ` +
              `Statecraft, or open another schema with schema=<name>`,
          );
        }
        if (found === null) {
          for (const stmt of this.#sql.create(!has_schema)) await c.query(stmt);
        } else await this.#upgrade(c);
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      }
    });
  }

  /**
   * Upgrades a schema made by an earlier Statecraft, inside `init`'s transaction (under its
   * advisory lock). Only the owner of the tables can: a role with only the privileges a store
   * needs (docs/persistence.md) opens it unchanged. Each step waits at most 2 s for its lock
   * and is skipped when it cannot be done: the store works the same without it, only slower.
   */
  async #upgrade(c: pg.PoolClient): Promise<void> {
    const r = await c.query(this.#sql.upgrade.probe);
    const { fillfactor, owner, atomic_current } = r.rows[0] ?? {};
    if (!owner) return;
    const steps: string[] = [];
    if (fillfactor !== KV_FILLFACTOR) steps.push(this.#sql.upgrade.fillfactor);
    if (atomic_current !== true) steps.push(this.#sql.upgrade.atomic);
    for (const step of steps) {
      await c.query("SAVEPOINT sc_upgrade");
      try {
        await c.query("SET LOCAL lock_timeout = 2000");
        await c.query(step);
        await c.query("RELEASE SAVEPOINT sc_upgrade");
      } catch (e) {
        if (!isDatabaseError(e) || isUnavailableCode(e.code)) throw e;
        await c.query("ROLLBACK TO SAVEPOINT sc_upgrade");
      }
    }
  }

  /**
   * Runs `fn` on a pooled connection. Connection failures before `fn` sent anything are
   * retried until `retryMs` has passed; failures of `fn` itself are retried too, unless
   * `ambiguousOnBreak` (an atomic write), which then rejects with `ambiguous: true`.
   */
  async #run<T>(
    what: string,
    ambiguousOnBreak: boolean,
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new Error(`the PostgreSQL backend at ${this.where} is closed`);
    const deadline = Date.now() + this.options.retryMs;
    let attempt = 0;
    let conflicts = 0;
    await this.#slots.acquire();
    try {
      for (;;) {
        if (this.#closed) throw new Error(`the PostgreSQL backend at ${this.where} is closed`);
        let client: pg.PoolClient;
        try {
          // (A permission error is thrown synchronously from inside `connect`.)
          client = await this.#pool.connect();
        } catch (e) {
          if (!isConnectionError(e) || this.#closed) throw e;
          if (Date.now() >= deadline) throw this.#unavailable(what, e, false);
          await sleep(Math.min(backoffMs(attempt++), Math.max(0, deadline - Date.now())));
          continue;
        }
        try {
          const result = await fn(client);
          client.release();
          return result;
        } catch (e) {
          const broken = isConnectionError(e);
          // A connection that failed (or timed out) is destroyed, not returned to the pool.
          client.release(broken ? (e as Error) : undefined);
          if (isDatabaseError(e) && RETRY_CODES.has(e.code ?? "") && conflicts++ < 100) {
            await sleep(backoffMs(Math.min(conflicts, 3)));
            continue;
          }
          if (!broken) throw e;
          if (ambiguousOnBreak) throw this.#unavailable(what, e, true);
          if (Date.now() >= deadline) throw this.#unavailable(what, e, false);
          await sleep(Math.min(backoffMs(attempt++), Math.max(0, deadline - Date.now())));
        }
      }
    } finally {
      this.#slots.release();
    }
  }

  #unavailable(what: string, cause: unknown, ambiguous: boolean): BackendUnavailableError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new BackendUnavailableError(
      ambiguous
        ? `PostgreSQL at ${this.where}: the connection broke during ${what} (${reason}); ` +
          `it may or may not have been applied`
        : `PostgreSQL at ${this.where} is unreachable: ${what} failed after retrying for ` +
          `${this.options.retryMs} ms (${reason})`,
      { ambiguous, cause },
    );
  }

  #entry<T>(key: KvKey, row: Row | undefined): KvEntry<T> {
    if (row === undefined) return { key, value: null, version: null };
    return { key, value: deserialize(row.value) as T, version: padVersion(row.version) };
  }

  /** The entry at `key` (value and version null when absent or expired). */
  async get<T = unknown>(key: KvKey): Promise<KvEntry<T>> {
    const k = toBuffer(encodeKey(key));
    const res = await this.#run(
      "get",
      false,
      (c) => c.query<Row>({ name: "sc_get", text: this.#sql.get, values: [k] }),
    );
    return this.#entry<T>(key, res.rows[0]);
  }

  /** The entries at `keys`, in their order, in one query. */
  async getMany<T = unknown>(keys: readonly KvKey[]): Promise<KvEntry<T>[]> {
    if (keys.length === 0) return [];
    const encoded = keys.map((k) => toBuffer(encodeKey(k)));
    const res = await this.#run(
      "getMany",
      false,
      (c) => c.query<Row>({ name: "sc_get_many", text: this.#sql.getMany, values: [encoded] }),
    );
    const byKey = new Map<string, Row>();
    for (const row of res.rows) byKey.set(row.key!.toString("hex"), row);
    return keys.map((key, i) => this.#entry<T>(key, byKey.get(encoded[i].toString("hex"))));
  }

  /**
   * Entries of `selector` in key order (or reverse), fetched `batchSize` (default 250) per
   * round trip; the cursor is the base64url of the last encoded key read (resume exclusive).
   */
  list<T = unknown>(selector: KvSelector, options: KvListOptions = {}): KvListIterator<T> {
    let [lo, hi] = selectorRange(selector);
    const reverse = options.reverse ?? false;
    if (options.cursor) {
      const at = fromBase64Url(options.cursor);
      if (reverse) hi = compareBytes(at, hi) < 0 ? at : hi;
      else lo = compareBytes(keyAfter(at), lo) > 0 ? keyAfter(at) : lo;
    }
    const limit = options.limit ?? Infinity;
    const batch = Math.max(1, Math.min(1000, options.batchSize ?? 250));
    let cursor = options.cursor ?? "";
    // deno-lint-ignore no-this-alias
    const self = this;
    return {
      get cursor() {
        return cursor;
      },
      async *[Symbol.asyncIterator]() {
        let remaining = limit;
        while (remaining > 0 && compareBytes(lo, hi) < 0) {
          const n = Math.min(batch, remaining);
          const res = await self.#run("list", false, (c) =>
            c.query<Row>({
              name: reverse ? "sc_list_rev" : "sc_list_fwd",
              text: reverse ? self.#sql.listReverse : self.#sql.listForward,
              values: [toBuffer(lo), toBuffer(hi), n],
            }));
          for (const row of res.rows) {
            const key = row.key!;
            if (reverse) hi = new Uint8Array(key);
            else lo = keyAfter(key);
            cursor = toBase64Url(key);
            remaining--;
            yield self.#entry<T>(decodeKey(key), row);
          }
          if (res.rows.length < n) break;
        }
      },
    };
  }

  /**
   * One `sc_atomic` call: every check, then every mutation (the last one of a key wins), or
   * nothing. `RangeError` beyond `limits`; `BackendUnavailableError` (`ambiguous` when the
   * connection broke after sending) when the server cannot be reached.
   */
  async atomic(
    checks: readonly KvCheck[],
    mutations: readonly KvMutation[],
  ): Promise<KvCommitResult> {
    const limits = this.limits;
    if (checks.length > limits.checks || mutations.length > limits.mutations) {
      throw new RangeError(
        `atomic write with ${checks.length} checks and ${mutations.length} mutations; ` +
          `PostgreSQL backend allows ${limits.checks} and ${limits.mutations}`,
      );
    }
    const checkKeys: Buffer[] = [];
    const checkVersions: (string | null)[] = [];
    let bytes = 0;
    for (const c of checks) {
      const k = toBuffer(encodeKey(c.key));
      bytes += k.length;
      checkKeys.push(k);
      // A version this backend never made can never match: -1 is never a version.
      checkVersions.push(
        c.version === null ? null : VERSION_RE.test(c.version) ? String(BigInt(c.version)) : "-1",
      );
    }
    // The last mutation of a key wins: fold repeats so each key appears once.
    const last = new Map<string, { key: Buffer; m: KvMutation }>();
    for (const m of mutations) {
      const key = toBuffer(encodeKey(m.key));
      const id = binaryString(key);
      last.delete(id);
      last.set(id, { key, m });
    }
    const setKeys: Buffer[] = [], setValues: Buffer[] = [], setExpire: (number | null)[] = [];
    const delKeys: Buffer[] = [];
    for (const { key, m } of last.values()) {
      bytes += key.length;
      if (m.type === "set") {
        const value = typeof m.value === "boolean"
          ? (m.value ? SERIALIZED_TRUE : SERIALIZED_FALSE)
          : serialize(m.value);
        if (value.length > limits.valueBytes) {
          throw new RangeError(
            `value of ${value.length} bytes at key ${JSON.stringify(m.key, bigintJson)}; ` +
              `PostgreSQL backend allows ${limits.valueBytes}`,
          );
        }
        bytes += value.length;
        setKeys.push(key);
        setValues.push(value);
        setExpire.push(m.expireIn === undefined ? null : Math.max(0, Math.round(m.expireIn)));
      } else delKeys.push(key);
    }
    if (bytes > limits.bytes) {
      throw new RangeError(
        `atomic write of ${bytes} bytes; PostgreSQL backend allows ${limits.bytes}`,
      );
    }
    const res = await this.#run("atomic", true, (c) =>
      c.query<{ version: string | null }>({
        name: "sc_atomic",
        text: this.#sql.atomic,
        values: [checkKeys, checkVersions, setKeys, setValues, setExpire, delKeys],
      }));
    this.#maybeSweep();
    if (res.rows[0]?.version != null) this.#notify();
    const version = res.rows[0]?.version ?? null;
    return version === null ? { ok: false } : { ok: true, version: padVersion(version) };
  }

  /**
   * Tells other processes (LISTEN/NOTIFY) that this one wrote, after the write committed. At
   * most one NOTIFY is in flight per backend: writes made meanwhile are covered by one more
   * when it ends. Measured here: a NOTIFY inside every `sc_atomic` cut 8 concurrent writers
   * from ~3200 to ~900 commits/s (it serialises commits); coalesced like this it costs little.
   * A notification can be lost (this process dies right after a commit, or a listener is
   * reconnecting): `onChange` is a hint, and listeners are also called after a reconnect.
   */
  #notify(): void {
    if (this.#closed) return;
    if (this.#notifying !== null) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifyAgain = false;
    this.#notifying = this.#run("notify", false, (c) => c.query(this.#sql.notify))
      .then(() => {}, () => {})
      .finally(() => {
        this.#notifying = null;
        if (this.#notifyAgain) this.#notify();
      });
  }

  /** Deletes expired rows at most once a minute, in the background. */
  #maybeSweep(): void {
    const now = Date.now();
    if (this.#sweeping !== null || now - this.#lastSweep < 60_000 || this.#closed) return;
    this.#lastSweep = now;
    this.#sweeping = this.#run("sweep", false, (c) => c.query(this.#sql.sweep))
      .then(() => {}, () => {})
      .finally(() => this.#sweeping = null);
  }

  /** Calls `listener` after writes by any process (LISTEN/NOTIFY; a hint, may miss some). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (this.#listenClient === null && this.#listenTimer === undefined) this.#listen(false);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopListening();
    };
  }

  #fire(): void {
    for (const l of [...this.#listeners]) {
      try {
        l();
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Connects the LISTEN client; reconnects with backoff whenever it breaks. */
  #listen(reconnect: boolean): void {
    this.#listenTimer = undefined;
    if (this.#closed || this.#listeners.size === 0) return;
    const client = new pg.Client(this.#clientConfig);
    this.#listenClient = client;
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      client.end().catch(() => {});
      if (this.#listenClient !== client) return;
      this.#listenClient = null;
      if (this.#closed || this.#listeners.size === 0) return;
      const ms = backoffMs(this.#listenAttempt++);
      this.#listenTimer = setTimeout(() => this.#listen(true), ms);
    };
    client.on("error", fail);
    client.on("end", fail);
    client.on("notification", () => this.#fire());
    client.connect()
      .then(() => client.query(this.#sql.listen))
      .then(() => {
        this.#listenAttempt = 0;
        // Writes may have happened while we were not listening.
        if (reconnect && this.#listenClient === client) this.#fire();
      }, fail);
  }

  #stopListening(): void {
    if (this.#listenTimer !== undefined) clearTimeout(this.#listenTimer);
    this.#listenTimer = undefined;
    const client = this.#listenClient;
    this.#listenClient = null;
    if (client) client.end().catch(() => {});
  }

  /** Stops listening and ends the pool; later calls reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#stopListening();
    this.#slots.rejectAll(new Error(`the PostgreSQL backend at ${this.where} is closed`));
    await this.#sweeping;
    await this.#notifying;
    await this.#pool.end().catch(() => {});
  }
}

function bigintJson(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  return value;
}

/** The encoded range `[lo, hi)` a selector lists, as Deno KV selects it. */
function selectorRange(selector: KvSelector): [Uint8Array, Uint8Array] {
  if ("prefix" in selector) {
    let [lo, hi] = prefixRange(selector.prefix);
    if ("start" in selector) {
      const s = encodeKey(selector.start);
      if (compareBytes(s, lo) > 0) lo = s;
    }
    if ("end" in selector) {
      const e = encodeKey(selector.end);
      if (compareBytes(e, hi) < 0) hi = e;
    }
    return [lo, hi];
  }
  return [encodeKey(selector.start), encodeKey(selector.end)];
}
