// What only the PostgreSQL backend has: its URL, its schema (created once under concurrent
// opens, a newer format refused, an older layout upgraded in place by its owner only), and
// openBackend's choice by URL.
import assert from "node:assert/strict";
// @ts-types="@types/pg"
import pg from "pg";
import { BackendUnavailableError } from "../../lib/persist/backend.ts";
import {
  KV_FILLFACTOR,
  openPostgresBackend,
  parsePostgresUrl,
  PG_FORMAT_VERSION,
  PostgresSchemaError,
  redactPostgresUrl,
} from "../../lib/persist/backend_postgres.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { pgAvailable, pgServer } from "../_pg.ts";

const pgOk = pgAvailable();
const ignore = !pgOk.ok;

Deno.test("postgres URL: our parameters are stripped, the password is never shown", () => {
  const { connectionString, options } = parsePostgresUrl(
    "postgresql://app:s3cret@db:5433/app?sslmode=require&schema=orders&pool=3&retryMs=500",
  );
  assert.equal(connectionString, "postgresql://app:s3cret@db:5433/app?sslmode=require");
  assert.equal(options.schema, "orders");
  assert.equal(options.pool, 3);
  assert.equal(options.retryMs, 500);
  assert.equal(redactPostgresUrl("postgres://app:s3cret@db/app"), "postgres://app@db/app");
  const socket = parsePostgresUrl("postgres://app@/app?host=/run/pg");
  assert.equal(socket.connectionString, "postgres://app@/app?host=%2Frun%2Fpg");
  assert.equal(socket.options.schema, "statecraft");
  assert.throws(() => parsePostgresUrl("postgres://h/db?schema=a-b"), PostgresSchemaError);
  assert.throws(() => parsePostgresUrl("postgres://h/db?pool=0"), TypeError);
});

Deno.test({
  name: "postgres: concurrent first opens of one schema create it once",
  ignore,
  fn: async () => {
    const url = (await pgServer()).url();
    const backends = await Promise.all(Array.from({ length: 6 }, () => openPostgresBackend(url)));
    try {
      const r = await backends[0].atomic([], [{ type: "set", key: ["a"], value: 1 }]);
      assert.ok(r.ok);
      for (const b of backends) assert.equal((await b.get(["a"])).value, 1);
    } finally {
      for (const b of backends) await b.close();
    }
  },
});

Deno.test({
  name: "postgres: a schema of a newer format is refused with a clear error",
  ignore,
  fn: async () => {
    const server = await pgServer();
    const schema = `newer_${Date.now().toString(36)}`;
    const url = server.url(schema);
    await (await openPostgresBackend(url)).close();
    const client = new pg.Client({ connectionString: parsePostgresUrl(url).connectionString });
    await client.connect();
    try {
      await client.query(`UPDATE "${schema}".meta SET value = '${PG_FORMAT_VERSION + 1}'`);
    } finally {
      await client.end();
    }
    await assert.rejects(openPostgresBackend(url), (e: Error) => {
      assert.ok(e instanceof PostgresSchemaError);
      assert.match(e.message, new RegExp(`schema "${schema}"`));
      assert.match(e.message, new RegExp(`format ${PG_FORMAT_VERSION + 1}`));
      assert.match(e.message, new RegExp(`supports format ${PG_FORMAT_VERSION}`));
      return true;
    });
  },
});

Deno.test({
  name: "postgres: openBackend picks PostgreSQL by URL",
  ignore,
  fn: async () => {
    const b = await openBackend((await pgServer()).url());
    try {
      assert.equal(b.kind, "postgres");
      assert.doesNotMatch(b.where, /:[^/@]*@/);
    } finally {
      await b.close();
    }
  },
});

Deno.test({
  name: "postgres: an unreachable server is BackendUnavailableError after retryMs",
  ignore,
  fn: async () => {
    // A port nobody listens on: taken and released.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const t0 = Date.now();
    await assert.rejects(
      openPostgresBackend(`postgres://postgres@127.0.0.1:${port}/postgres?retryMs=300`),
      (e: Error) => e instanceof BackendUnavailableError && !e.ambiguous,
    );
    assert.ok(Date.now() - t0 < 5000);
  },
});

/** Runs `fn` with a plain client on the server of `url` (no store). */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: parsePostgresUrl(url).connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The kv table's fillfactor (null when unset) and whether `sc_atomic` is the current body. */
async function layout(
  c: pg.Client,
  schema: string,
): Promise<{ fillfactor: number | null; lockStatement: boolean }> {
  const r = await c.query(
    `SELECT (SELECT option_value::int FROM pg_options_to_table(cl.reloptions)
        WHERE option_name = 'fillfactor') AS fillfactor,
      (SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(
        '"${schema}".sc_atomic(bytea[], bigint[], bytea[], bytea[], bigint[], bytea[])')) AS src
     FROM pg_class cl WHERE cl.oid = '"${schema}".kv'::regclass`,
  );
  return {
    fillfactor: r.rows[0].fillfactor,
    lockStatement: /PERFORM pg_advisory_xact_lock\(locks\.h\)/.test(r.rows[0].src),
  };
}

/** Puts a schema back to the layout the first format-1 code made (fillfactor 100, a lock loop). */
async function makeOldLayout(c: pg.Client, schema: string): Promise<void> {
  await c.query(`ALTER TABLE "${schema}".kv RESET (fillfactor)`);
  const r = await c.query(
    `SELECT pg_get_functiondef(to_regprocedure(
      '"${schema}".sc_atomic(bytea[], bigint[], bytea[], bytea[], bigint[], bytea[])')) AS def`,
  );
  const def = (r.rows[0].def as string)
    .replace(/-- statecraft sc_atomic revision \d+[^\n]*\n[^\n]*\n/, "")
    .replace(
      /PERFORM pg_advisory_xact_lock\(locks\.h\) FROM \(\s*(SELECT DISTINCT [^;]*?ORDER BY 1)\s*\) AS locks;/s,
      "FOR h IN $1 LOOP PERFORM pg_advisory_xact_lock(h); END LOOP;",
    )
    .replace("DECLARE", "DECLARE\n h bigint;")
    .replace(/ AS h\b/, "");
  await c.query(def);
  const now = await layout(c, schema);
  assert.deepEqual(now, { fillfactor: null, lockStatement: false }, "the old layout was made");
}

Deno.test({
  name: "postgres: a new schema has room for HOT updates and locks in one statement",
  ignore,
  fn: async () => {
    const server = await pgServer();
    const schema = `fresh_${Date.now().toString(36)}`;
    await (await openPostgresBackend(server.url(schema))).close();
    const got = await withClient(server.url(schema), (c) => layout(c, schema));
    assert.deepEqual(got, { fillfactor: KV_FILLFACTOR, lockStatement: true });
  },
});

Deno.test({
  name: "postgres: an older format-1 schema is upgraded in place on open, data and checks intact",
  ignore,
  fn: async () => {
    const server = await pgServer();
    const schema = `older_${Date.now().toString(36)}`;
    const url = server.url(schema);
    const first = await openPostgresBackend(url);
    let version: string;
    try {
      const r = await first.atomic([], [{ type: "set", key: ["k"], value: "before" }]);
      assert.ok(r.ok);
      version = r.version;
    } finally {
      await first.close();
    }
    await withClient(url, (c) => makeOldLayout(c, schema));
    const reopened = await openPostgresBackend(url);
    try {
      assert.deepEqual(await withClient(url, (c) => layout(c, schema)), {
        fillfactor: KV_FILLFACTOR,
        lockStatement: true,
      });
      const entry = await reopened.get<string>(["k"]);
      assert.equal(entry.value, "before");
      assert.equal(entry.version, version);
      assert.equal((await reopened.atomic([{ key: ["k"], version: "1" }], [])).ok, false);
      const w = await reopened.atomic(
        [{ key: ["k"], version }, { key: ["absent"], version: null }],
        [
          { type: "set", key: ["k"], value: "after" },
          { type: "set", key: ["flag"], value: true },
          { type: "delete", key: ["absent"] },
        ],
      );
      assert.ok(w.ok);
      assert.equal((await reopened.get(["k"])).value, "after");
      assert.equal((await reopened.get(["flag"])).value, true);
      // Opening again finds nothing to upgrade.
      await (await openPostgresBackend(url)).close();
    } finally {
      await reopened.close();
    }
  },
});

Deno.test({
  name: "postgres: a role that does not own the schema opens an older one unchanged",
  ignore,
  fn: async () => {
    const server = await pgServer();
    const schema = `shared_${Date.now().toString(36)}`;
    const role = `app_${Date.now().toString(36)}`;
    const url = server.url(schema);
    await (await openPostgresBackend(url)).close();
    await withClient(url, async (c) => {
      await makeOldLayout(c, schema);
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await c.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`,
      );
      await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA "${schema}" TO ${role}`);
      await c.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role}`);
    });
    const asApp = new URL(url);
    asApp.username = role;
    try {
      const b = await openPostgresBackend(asApp.toString());
      try {
        assert.ok((await b.atomic([], [{ type: "set", key: ["x"], value: 1 }])).ok);
        assert.equal((await b.get(["x"])).value, 1);
      } finally {
        await b.close();
      }
      assert.deepEqual(await withClient(url, (c) => layout(c, schema)), {
        fillfactor: null,
        lockStatement: false,
      });
    } finally {
      await withClient(url, async (c) => {
        await c.query(`DROP SCHEMA "${schema}" CASCADE`);
        await c.query(`DROP ROLE ${role}`);
      });
    }
  },
});

Deno.test({
  name: "postgres: large writes that together fill the server's lock table all commit",
  ignore,
  fn: async () => {
    const url = (await pgServer()).url();
    // sc_atomic takes an advisory lock per key: writes this large, four at once, need more
    // than the lock table holds (max_locks_per_transaction x max_connections); the ones that
    // find it full ("out of shared memory") run again once the others have freed theirs.
    const size = await withClient(url, async (c) => {
      const locks = Number(
        (await c.query("SHOW max_locks_per_transaction")).rows[0]
          .max_locks_per_transaction,
      );
      const conns = Number((await c.query("SHOW max_connections")).rows[0].max_connections);
      return locks * conns;
    });
    const n = 10_000;
    const writers = 4;
    assert.ok(writers * n > size, `the lock table (${size}) is smaller than ${writers} writes`);
    const backends = await Promise.all(
      Array.from({ length: writers }, () => openPostgresBackend(url)),
    );
    try {
      const results = await Promise.all(backends.map((b, w) =>
        b.atomic(
          [],
          Array.from(
            { length: n },
            (_, i) => ({ type: "set" as const, key: ["w", w, i], value: i }),
          ),
        )
      ));
      assert.deepEqual(results.map((r) => r.ok), Array(writers).fill(true));
      for (let w = 0; w < writers; w++) {
        assert.equal((await backends[0].get(["w", w, n - 1])).value, n - 1);
      }
    } finally {
      for (const b of backends) await b.close();
    }
  },
});
