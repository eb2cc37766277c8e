/**
 * The backends every store test runs against: Deno KV (a file in a temporary folder) and
 * PostgreSQL (a fresh schema on the tests' throwaway server, see `tests/_pg.ts`).
 * `backendTest(name, fn)` registers one test per backend, named `<backend>: <name>`; `fn`
 * gets a `TestBackend` that makes store locations and removes them afterwards.
 *
 * @module
 */
import postgres from "pg";
import { pgAvailable, pgServer } from "../_pg.ts";

/** Store locations of one backend for one test. */
export interface TestBackend {
  /** `"deno-kv"` or `"postgres"`. */
  readonly name: string;
  /** A new, empty store location (a KV file path or a PostgreSQL URL with its own schema). */
  path(): Promise<string>;
  /** Removes every location made so far (KV folders; PostgreSQL schemas stay on the server). */
  cleanup(): Promise<void>;
  /**
   * Waits until nothing a killed client started can still commit at `path`. PostgreSQL goes
   * on running a statement whose client died until it tries to answer, so a commit of a
   * SIGKILLed process can land after the process is gone; Deno KV commits in the process.
   */
  quiesce(path: string): Promise<void>;
}

class KvLocations implements TestBackend {
  readonly name = "deno-kv";
  #dirs: string[] = [];
  async path(): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: "statecraft-store-" });
    this.#dirs.push(dir);
    return `${dir}/state.kv`;
  }
  async cleanup(): Promise<void> {
    for (const dir of this.#dirs.splice(0)) await Deno.remove(dir, { recursive: true });
  }
  quiesce(): Promise<void> {
    return Promise.resolve();
  }
}

/** The application name of a location's connections: `sc_<its schema>`. */
function appName(url: string): string {
  return `sc_${new URL(url).searchParams.get("schema")}`;
}

class PgLocations implements TestBackend {
  readonly name = "postgres";
  async path(): Promise<string> {
    // Connections to this location carry its schema as their application name, so that
    // `quiesce` can tell them from those of other tests on the same server.
    const url = (await pgServer()).url();
    return `${url}&application_name=${appName(url)}`;
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
  async quiesce(path: string): Promise<void> {
    const client = new postgres.Client({ connectionString: path.replace(/\?.*$/, "") });
    await client.connect();
    try {
      // Every connection to this location gone: a killed client's server process may still
      // read a statement from its socket, run it and commit it, and only then find the client
      // gone (waiting for "idle" missed a statement read after the look).
      for (let i = 0;; i++) {
        const r = await client.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() " +
            "AND application_name = $1",
          [appName(path)],
        );
        if (r.rows[0].n === 0) return;
        if (i === 1000) throw new Error(`PostgreSQL: ${r.rows[0].n} connections still open`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await client.end();
    }
  }
}

const pg = pgAvailable();

/** The backends, with why one is ignored here. */
export const BACKENDS: { name: string; ignore: boolean; make(): TestBackend }[] = [
  { name: "deno-kv", ignore: false, make: () => new KvLocations() },
  { name: "postgres", ignore: !pg.ok, make: () => new PgLocations() },
];

if (!pg.ok) console.warn(`PostgreSQL tests ignored: ${pg.reason}`);

/** Registers `fn` once per backend. */
export function backendTest(
  name: string,
  fn: (backend: TestBackend) => Promise<void>,
  options: { only?: string } = {},
): void {
  for (const b of BACKENDS) {
    if (options.only !== undefined && options.only !== b.name) continue;
    Deno.test({
      name: `${b.name}: ${name}`,
      ignore: b.ignore,
      // The PostgreSQL client keeps pooled sockets and a listener between tests of a file.
      sanitizeResources: b.name !== "postgres",
      sanitizeOps: b.name !== "postgres",
      fn: async () => {
        const backend = b.make();
        try {
          await fn(backend);
        } finally {
          await backend.cleanup();
        }
      },
    });
  }
}
