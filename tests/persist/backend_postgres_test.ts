// What only the PostgreSQL backend has: its URL, its schema (created once under concurrent
// opens, a newer format refused), and openBackend's choice by URL.
import assert from "node:assert/strict";
// @ts-types="@types/pg"
import pg from "pg";
import { BackendUnavailableError } from "../../lib/persist/backend.ts";
import {
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
