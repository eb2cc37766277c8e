/**
 * The raw-storage baseline of the store benchmark (issue #10): the same durable writes the store
 * makes for one event, done directly on Deno KV (`Deno.openKv`, `atomic()`) and on PostgreSQL
 * (`npm:pg`, one statement), with no store in between. The store's throughput divided by this
 * is the share of the storage's capacity the store delivers.
 *
 * Why this is the fair raw shape. For one event without an event id the store makes, in one
 * atomic write shared with other instances' events (group commit):
 *
 * - one check: the instance record is still at the version the store read (no other writer);
 * - one set of the instance record: metadata plus the snapshot inline (a `Uint8Array`);
 * - one set of a journal entry under `(instance, seq)`;
 * - when the updated-at second bucket moved (at most once a second per instance; with 100,000
 *   instances round-robin, nearly every event): one delete and one set of that index entry.
 *
 * The raw run writes exactly that per event: the record and journal entry values are copies of
 * the ones a real store wrote (read back by `probeShape`, so their shape and size follow the
 * store as it changes), same keys, same check, same index move. It batches events as the
 * store did in the run it is compared with: the benchmark passes the store's measured
 * commits per storage operation as `batch`, the same number of writes in flight as the
 * store's committer, and the same closed loop of concurrent senders (`_closed_loop.ts`).
 * What the raw run leaves out is precisely the store's own work: running the machine,
 * encoding the snapshot, hashing, bookkeeping, and reloading instances not in memory (the
 * raw run knows every record's version without reading it back).
 *
 * On PostgreSQL the batch is one statement in one round trip and one implicit transaction:
 * lock the checked rows (`FOR UPDATE`) and compare their versions, then, only if all match,
 * delete and upsert the batch's rows with a fresh version from a sequence. Values are
 * V8-serialised like Deno KV's (and like the store's PostgreSQL backend), keys are the tuple's
 * parts joined, in a table `(key bytea primary key, value bytea, version bigint)`. Left out:
 * the backend's change notification (`pg_notify`, one per write, not per event) and its
 * expiry column, which the store's events do not use.
 *
 * @module
 */
import { serialize } from "node:v8";

/** The values one event writes, copied from a real store's. */
export interface EventShape {
  /** The instance record as stored (with `inline`, the snapshot bytes). */
  record: Record<string, unknown>;
  /** A journal entry as stored. */
  journal: Record<string, unknown>;
  /** V8-serialised sizes, for the report. */
  recordBytes: number;
  journalBytes: number;
}

/** The shape used when a probe cannot read the store's values (measured on 2026-11-30). */
export const FALLBACK_SHAPE: EventShape = {
  record: {
    id: "c0",
    machine: "counter",
    status: "active",
    archived: false,
    seq: 1,
    createdAt: 0,
    updatedAt: 0,
    hash: "1bb57005a22337",
    configuration: ["on"],
    sha256: "a8037a910cfbb7c7c4bb9e69ccfb21b14a05450b0edb3edc6492f90e618aab3c",
    chunks: 0,
    timers: [],
    lastCheckpoint: 0,
    inline: new Uint8Array(318).fill(0x61),
  },
  journal: {
    seq: 1,
    time: 0,
    kind: "event",
    by: "api",
    event: { type: "INC" },
    configuration: ["on"],
    status: "active",
  },
  recordBytes: 600,
  journalBytes: 112,
};

/**
 * Reads the record and a journal entry a store wrote into a Deno KV file at `path` (after the
 * store closed), under the store's key layout `["sc","inst",id]` / `["sc","jrnl",id,seq]`.
 * Null when they are not there (the layout moved): use `FALLBACK_SHAPE` and say so.
 */
export async function probeShape(path: string, id: string): Promise<EventShape | null> {
  const kv = await Deno.openKv(path);
  try {
    const rec = await kv.get<Record<string, unknown>>(["sc", "inst", id]);
    if (rec.value === null || typeof rec.value.seq !== "number") return null;
    const jr = await kv.get<Record<string, unknown>>(["sc", "jrnl", id, rec.value.seq]);
    if (jr.value === null) return null;
    return {
      record: rec.value,
      journal: jr.value,
      recordBytes: serialize(rec.value).length,
      journalBytes: serialize(jr.value).length,
    };
  } finally {
    kv.close();
  }
}

/** A raw storage target: writes the events of a batch in one atomic write. */
export interface RawTarget {
  readonly name: string;
  /** Writes the instance records (and their index entry) the events will check. */
  seed(ids: readonly string[]): Promise<void>;
  /** One atomic write for one event on each of `ids` (distinct); throws if a check fails. */
  write(ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

interface InstanceState {
  seq: number;
  version: string | null;
  second: number;
}

function recordFor(shape: EventShape, id: string, seq: number, time: number): unknown {
  return { ...shape.record, id, seq, updatedAt: time };
}

function journalFor(shape: EventShape, seq: number, time: number): unknown {
  return { ...shape.journal, seq, time };
}

/** Raw Deno KV on a local file. */
export class RawDenoKv implements RawTarget {
  readonly name = "raw Deno KV";
  readonly #kv: Deno.Kv;
  readonly #shape: EventShape;
  readonly #state = new Map<string, InstanceState>();

  private constructor(kv: Deno.Kv, shape: EventShape) {
    this.#kv = kv;
    this.#shape = shape;
  }

  static async open(path: string, shape: EventShape): Promise<RawDenoKv> {
    return new RawDenoKv(await Deno.openKv(path), shape);
  }

  async seed(ids: readonly string[]): Promise<void> {
    const time = Date.now();
    const second = Math.floor(time / 1000);
    for (let i = 0; i < ids.length; i += 300) {
      const op = this.#kv.atomic();
      const part = ids.slice(i, i + 300);
      for (const id of part) {
        op.set(["sc", "inst", id], recordFor(this.#shape, id, 0, time));
        op.set(["sc", "ixu", second, id], true);
      }
      const r = await op.commit();
      if (!r.ok) throw new Error("raw Deno KV: seeding failed");
      for (const id of part) this.#state.set(id, { seq: 0, version: r.versionstamp, second });
    }
  }

  async write(ids: readonly string[]): Promise<void> {
    const time = Date.now();
    const second = Math.floor(time / 1000);
    const op = this.#kv.atomic();
    const states: InstanceState[] = [];
    for (const id of ids) {
      const st = this.#state.get(id)!;
      states.push(st);
      const seq = st.seq + 1;
      op.check({ key: ["sc", "inst", id], versionstamp: st.version });
      op.set(["sc", "inst", id], recordFor(this.#shape, id, seq, time));
      op.set(["sc", "jrnl", id, seq], journalFor(this.#shape, seq, time));
      if (st.second !== second) {
        op.delete(["sc", "ixu", st.second, id]);
        op.set(["sc", "ixu", second, id], true);
      }
    }
    const r = await op.commit();
    if (!r.ok) throw new Error("raw Deno KV: a check failed (a bug in the benchmark)");
    for (const st of states) {
      st.seq++;
      st.version = r.versionstamp;
      st.second = second;
    }
  }

  close(): Promise<void> {
    this.#kv.close();
    return Promise.resolve();
  }
}

// deno-lint-ignore no-explicit-any
type PgClient = any;

const enc = new TextEncoder();
function pgKey(...parts: (string | number)[]): Uint8Array {
  return enc.encode(parts.join("\u0000"));
}

const PG_WRITE = `
WITH v AS (SELECT nextval('raw_version') AS v),
chk AS (
  SELECT k.key FROM raw_kv k
  JOIN unnest($1::bytea[], $2::bigint[]) AS c(key, version) ON k.key = c.key
  WHERE k.version = c.version
  FOR UPDATE OF k
),
ok AS (SELECT count(*) = $3::int AS ok FROM chk),
del AS (DELETE FROM raw_kv WHERE key = ANY($4::bytea[]) AND (SELECT ok FROM ok)),
up AS (
  INSERT INTO raw_kv (key, value, version)
  SELECT m.key, m.value, (SELECT v FROM v) FROM unnest($5::bytea[], $6::bytea[]) AS m(key, value)
  WHERE (SELECT ok FROM ok)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version
)
SELECT (SELECT ok FROM ok) AS ok, (SELECT v FROM v)::text AS v`;

/**
 * Raw PostgreSQL: `connections` clients (one per write in flight), each write one statement.
 * Works in its own schema, dropped on `close`.
 */
export class RawPostgres implements RawTarget {
  readonly name = "raw PostgreSQL";
  readonly #clients: PgClient[];
  readonly #idle: PgClient[];
  readonly #waiting: ((c: PgClient) => void)[] = [];
  readonly #shape: EventShape;
  readonly #schema: string;
  readonly #state = new Map<string, InstanceState>();

  private constructor(clients: PgClient[], shape: EventShape, schema: string) {
    this.#clients = clients;
    this.#idle = [...clients];
    this.#shape = shape;
    this.#schema = schema;
  }

  static async open(url: string, shape: EventShape, connections: number): Promise<RawPostgres> {
    const { default: pg } = await import("pg");
    const schema = `raw_bench_${Deno.pid}_${Date.now()}`;
    const clients: PgClient[] = [];
    for (let i = 0; i < connections; i++) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      clients.push(c);
    }
    const first = clients[0];
    await first.query(`CREATE SCHEMA ${schema}`);
    await first.query(
      `CREATE TABLE ${schema}.raw_kv (key bytea PRIMARY KEY, value bytea NOT NULL, version bigint NOT NULL)`,
    );
    await first.query(`CREATE SEQUENCE ${schema}.raw_version`);
    for (const c of clients) await c.query(`SET search_path TO ${schema}`);
    return new RawPostgres(clients, shape, schema);
  }

  async #client(): Promise<PgClient> {
    const c = this.#idle.pop();
    if (c !== undefined) return c;
    return await new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(c: PgClient): void {
    const w = this.#waiting.shift();
    if (w !== undefined) w(c);
    else this.#idle.push(c);
  }

  async seed(ids: readonly string[]): Promise<void> {
    const time = Date.now();
    const second = Math.floor(time / 1000);
    const c = await this.#client();
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        const part = ids.slice(i, i + 1000);
        const keys: Uint8Array[] = [];
        const values: Uint8Array[] = [];
        for (const id of part) {
          keys.push(pgKey("sc", "inst", id), pgKey("sc", "ixu", second, id));
          values.push(serialize(recordFor(this.#shape, id, 0, time)), serialize(true));
        }
        const r = await c.query(
          `INSERT INTO raw_kv (key, value, version)
           SELECT k, v, 0 FROM unnest($1::bytea[], $2::bytea[]) AS m(k, v)`,
          [keys, values],
        );
        if (r.rowCount !== keys.length) throw new Error("raw PostgreSQL: seeding failed");
        for (const id of part) this.#state.set(id, { seq: 0, version: "0", second });
      }
    } finally {
      this.#release(c);
    }
  }

  async write(ids: readonly string[]): Promise<void> {
    const time = Date.now();
    const second = Math.floor(time / 1000);
    const checkKeys: Uint8Array[] = [];
    const checkVersions: string[] = [];
    const delKeys: Uint8Array[] = [];
    const setKeys: Uint8Array[] = [];
    const setValues: Uint8Array[] = [];
    const states: InstanceState[] = [];
    for (const id of ids) {
      const st = this.#state.get(id)!;
      states.push(st);
      const seq = st.seq + 1;
      const inst = pgKey("sc", "inst", id);
      checkKeys.push(inst);
      checkVersions.push(st.version!);
      setKeys.push(inst, pgKey("sc", "jrnl", id, seq));
      setValues.push(
        serialize(recordFor(this.#shape, id, seq, time)),
        serialize(journalFor(this.#shape, seq, time)),
      );
      if (st.second !== second) {
        delKeys.push(pgKey("sc", "ixu", st.second, id));
        setKeys.push(pgKey("sc", "ixu", second, id));
        setValues.push(serialize(true));
      }
    }
    const c = await this.#client();
    let row: { ok: boolean; v: string };
    try {
      const r = await c.query(PG_WRITE, [
        checkKeys,
        checkVersions,
        ids.length,
        delKeys,
        setKeys,
        setValues,
      ]);
      row = r.rows[0];
    } finally {
      this.#release(c);
    }
    if (!row.ok) throw new Error("raw PostgreSQL: a check failed (a bug in the benchmark)");
    for (const st of states) {
      st.seq++;
      st.version = row.v;
      st.second = second;
    }
  }

  async close(): Promise<void> {
    try {
      await this.#clients[0].query(`DROP SCHEMA ${this.#schema} CASCADE`);
    } finally {
      for (const c of this.#clients) await c.end();
    }
  }
}

/**
 * Sends events to a raw target the way the store's group commit does: events wait in one
 * queue; up to `inFlight` atomic writes run at once, each taking the next `batch` events
 * (fewer if fewer are queued). `send` resolves when the event's write is durable.
 */
export class RawBatcher {
  readonly #target: RawTarget;
  readonly #batch: number;
  readonly #inFlight: number;
  #active = 0;
  #queue: { id: string; resolve(): void; reject(e: unknown): void }[] = [];
  /** Writes sent and events they carried. */
  stats = { operations: 0, commits: 0 };

  constructor(target: RawTarget, batch: number, inFlight: number) {
    this.#target = target;
    this.#batch = Math.max(1, Math.round(batch));
    this.#inFlight = inFlight;
  }

  send(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id, resolve, reject });
      if (this.#active < this.#inFlight) {
        this.#active++;
        queueMicrotask(() => this.#pump());
      }
    });
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#batch);
        this.stats.operations++;
        this.stats.commits += batch.length;
        try {
          await this.#target.write(batch.map((b) => b.id));
          for (const b of batch) b.resolve();
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.#active--;
    }
  }
}
