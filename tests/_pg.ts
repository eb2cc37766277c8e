/**
 * The one PostgreSQL server the tests of a process use. `STATECRAFT_TEST_PG=<url>` points at an
 * existing server (then `kill`/`start` are not available: `canKill` is false). Otherwise the
 * first `pgServer()` starts a throwaway server: `initdb` into a folder under /tmp (trust auth
 * on loopback and the Unix socket), `pg_ctl start` on a free 127.0.0.1 port with its socket in
 * that folder, waiting for readiness by polling with a deadline. As root it runs every
 * PostgreSQL binary as the `postgres` user through `runuser` (the server refuses to run as
 * root). At unload the server is stopped (`pg_ctl stop -m immediate`) and the folder removed.
 *
 * Needs: `--allow-run=runuser` (as root; otherwise the binaries' paths), `--allow-read`,
 * `--allow-write=/tmp`, `--allow-env`, `--allow-net=127.0.0.1`, `--allow-sys=uid`.
 * `STATECRAFT_TEST_PG_FSYNC=off` runs the server with `fsync=off` (faster, not crash-safe).
 *
 * @example
 * ```ts ignore
 * import { pgAvailable, pgServer } from "./_pg.ts";
 * Deno.test({ name: "x", ignore: !pgAvailable().ok }, async () => {
 *   const url = (await pgServer()).url(); // a fresh schema
 * });
 * ```
 *
 * @module
 */
import { waitFor } from "./_wait.ts";

/** A PostgreSQL server for tests. */
export interface PgServer {
  /** A URL over TCP; `schema` defaults to a new unique name per call. */
  url(schema?: string): string;
  /** The same server over its Unix socket (throwaway server only; else the TCP URL). */
  socketUrl(schema?: string): string;
  /** Whether `kill`/`start` work (false for a server given by `STATECRAFT_TEST_PG`). */
  readonly canKill: boolean;
  /** Sends `signal` (default SIGKILL) to the postmaster and waits until it has exited. */
  kill(signal?: "KILL" | "TERM" | "QUIT"): Promise<void>;
  /** Starts the server again (same port, same data) after `kill`; waits until it accepts. */
  start(): Promise<void>;
  /** Stops the server (`pg_ctl stop -m fast`). */
  stop(): Promise<void>;
}

const BIN_NAMES = ["initdb", "pg_ctl", "pg_isready"] as const;
type Bins = Record<(typeof BIN_NAMES)[number], string>;

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Where PostgreSQL's server binaries are: PATH first, then /usr/lib/postgresql/<newest>/bin. */
function findBins(): Bins | string {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => e.name)
      .filter((n) => /^\d+$/.test(n))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // No Debian PostgreSQL.
  }
  for (const dir of dirs) {
    if (BIN_NAMES.every((b) => exists(`${dir}/${b}`))) {
      return Object.fromEntries(BIN_NAMES.map((b) => [b, `${dir}/${b}`])) as Bins;
    }
  }
  return `no initdb, pg_ctl and pg_isready found on PATH or in /usr/lib/postgresql/*/bin ` +
    `(install Debian's "postgresql" package, or set STATECRAFT_TEST_PG=<url>)`;
}

/** Whether PostgreSQL tests can run here; `reason` says why not. */
export function pgAvailable(): { ok: true } | { ok: false; reason: string } {
  if (Deno.env.get("STATECRAFT_TEST_PG")) return { ok: true };
  const bins = findBins();
  if (typeof bins === "string") return { ok: false, reason: bins };
  if (isRoot() && !exists("/usr/sbin/runuser") && !exists("/usr/bin/runuser")) {
    return { ok: false, reason: "running as root and runuser is missing" };
  }
  if (isRoot() && postgresUser() === null) {
    return { ok: false, reason: "running as root and there is no postgres user to run the server" };
  }
  const spawned = isRoot() ? "runuser" : bins.initdb;
  if (Deno.permissions.querySync({ name: "run", command: spawned }).state !== "granted") {
    return { ok: false, reason: `--allow-run does not allow ${spawned}` };
  }
  return { ok: true };
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

function postgresUser(): { uid: number; gid: number } | null {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[0] === "postgres") return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // No passwd file.
  }
  return null;
}

/** argv that runs `bin args...` as the postgres user when we are root. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
}

async function run(bin: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const [cmd, argv] = asPostgres(bin, args);
  const r = await new Deno.Command(cmd, {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return await Promise.resolve(port);
}

let schemaCounter = 0;
function uniqueSchema(): string {
  return `t_${Date.now().toString(36)}_${
    Math.random().toString(36).slice(2, 8)
  }_${schemaCounter++}`;
}

function withSchema(base: string, schema: string | undefined): string {
  return base + (base.includes("?") ? "&" : "?") + `schema=${schema ?? uniqueSchema()}`;
}

/** Whether process `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Pids of the children of `pid` (Linux: /proc/<pid>/task/<tid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`)
      .split(" ")
      .filter((x) => x.trim() !== "")
      .map(Number);
  } catch {
    return [];
  }
}

class ThrowawayServer implements PgServer {
  readonly canKill = true;
  readonly dir: string;
  readonly data: string;
  readonly port: number;
  readonly bins: Bins;
  #log: string;

  constructor(dir: string, port: number, bins: Bins) {
    this.dir = dir;
    this.data = `${dir}/data`;
    this.port = port;
    this.bins = bins;
    this.#log = `${dir}/server.log`;
  }

  url(schema?: string): string {
    return withSchema(`postgres://postgres@127.0.0.1:${this.port}/postgres`, schema);
  }

  socketUrl(schema?: string): string {
    return withSchema(`postgres://postgres@/postgres?host=${this.dir}&port=${this.port}`, schema);
  }

  async init(): Promise<void> {
    const r = await run(this.bins.initdb, [
      "-D",
      this.data,
      "-U",
      "postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--no-locale",
      "--no-sync",
    ]);
    if (!r.ok) throw new Error(`initdb failed:\n${r.out}`);
  }

  async start(): Promise<void> {
    const fsync = Deno.env.get("STATECRAFT_TEST_PG_FSYNC") === "off" ? "off" : "on";
    const opts = `-k ${this.dir} -h 127.0.0.1 -p ${this.port} -c fsync=${fsync} ` +
      `-c max_connections=200 -c listen_addresses=127.0.0.1`;
    // After a SIGKILL of the postmaster its backends exit on their own; until they have,
    // a new postmaster refuses to start: retry within a deadline.
    let last = "";
    await waitFor(`pg_ctl start (${last})`, async () => {
      const r = await run(this.bins.pg_ctl, [
        "start",
        "-D",
        this.data,
        "-l",
        this.#log,
        "-w",
        "-t",
        "30",
        "-o",
        opts,
      ]);
      last = r.out;
      return r.ok;
    }, { ms: 30_000, everyMs: 200, backoff: true }).catch(async (e) => {
      const log = await Deno.readTextFile(this.#log).catch(() => "");
      throw new Error(`${e.message}\n${last}\n${log.slice(-2000)}`);
    });
    await waitFor(
      "pg_isready",
      async () => (await run(this.bins.pg_isready, ["-h", "127.0.0.1", "-p", `${this.port}`])).ok,
      { ms: 30_000, everyMs: 200, backoff: true },
    );
  }

  #postmasterPid(): number | null {
    try {
      return Number(Deno.readTextFileSync(`${this.data}/postmaster.pid`).split("\n")[0]);
    } catch {
      return null;
    }
  }

  async kill(signal: "KILL" | "TERM" | "QUIT" = "KILL"): Promise<void> {
    const pid = this.#postmasterPid();
    if (pid === null) throw new Error("the test PostgreSQL server is not running");
    // Its backends exit by themselves once they see the postmaster gone: wait for them too,
    // so that "killed" means no process of the server is left.
    const pids = [pid, ...childrenOf(pid)];
    const r = await run(this.bins.pg_ctl, ["kill", signal, `${pid}`]);
    if (!r.ok) throw new Error(`pg_ctl kill ${signal} ${pid} failed: ${r.out}`);
    await waitFor(
      `postmaster ${pid} and its backends to exit`,
      () => Promise.resolve(pids.every((p) => !alive(p))),
      { ms: 15_000, everyMs: 200, backoff: true },
    );
  }

  async stop(): Promise<void> {
    await run(this.bins.pg_ctl, ["stop", "-D", this.data, "-m", "fast", "-w"]);
  }

  /** Synchronous teardown for `unload` (which cannot await). */
  teardownSync(): void {
    const pid = this.#postmasterPid();
    try {
      const [cmd, argv] = asPostgres(this.bins.pg_ctl, [
        "stop",
        "-D",
        this.data,
        "-m",
        "immediate",
        "-w",
      ]);
      new Deno.Command(cmd, { args: argv, stdin: "null", stdout: "null", stderr: "null" })
        .outputSync();
    } catch {
      // Already gone.
    }
    if (pid !== null && alive(pid)) {
      const [cmd, argv] = asPostgres(this.bins.pg_ctl, ["kill", "KILL", `${pid}`]);
      new Deno.Command(cmd, { args: argv, stdin: "null", stdout: "null", stderr: "null" })
        .outputSync();
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Best effort.
    }
  }
}

class ExternalServer implements PgServer {
  readonly canKill = false;
  readonly #base: string;
  constructor(base: string) {
    this.#base = base;
  }
  url(schema?: string): string {
    return withSchema(this.#base, schema);
  }
  socketUrl(schema?: string): string {
    return this.url(schema);
  }
  kill(): Promise<void> {
    return Promise.reject(new Error("STATECRAFT_TEST_PG server: kill is not available"));
  }
  start(): Promise<void> {
    return Promise.reject(new Error("STATECRAFT_TEST_PG server: start is not available"));
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

let shared: Promise<PgServer> | null = null;

async function startThrowaway(): Promise<PgServer> {
  const bins = findBins();
  if (typeof bins === "string") throw new Error(bins);
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft-pg-" });
  if (isRoot()) {
    const user = postgresUser();
    if (user === null) throw new Error("no postgres user to run the test server as");
    await Deno.chown(dir, user.uid, user.gid);
  }
  const server = new ThrowawayServer(dir, await freePort(), bins);
  globalThis.addEventListener("unload", () => server.teardownSync());
  try {
    await server.init();
    await server.start();
  } catch (e) {
    server.teardownSync();
    throw e;
  }
  return server;
}

/** The process's PostgreSQL server, started on first call (or `STATECRAFT_TEST_PG`). */
export function pgServer(): Promise<PgServer> {
  if (shared === null) {
    const external = Deno.env.get("STATECRAFT_TEST_PG");
    shared = external ? Promise.resolve(new ExternalServer(external)) : startThrowaway();
    shared.catch(() => shared = null);
  }
  return shared;
}
