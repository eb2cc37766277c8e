/**
 * Helpers of the network-cut test (netns_test.ts): a network namespace of the test's own with two
 * veth pairs to the root namespace (one to reach the database, which the test cuts, and one for
 * the test to reach the node's HTTP port, which stays up), a PostgreSQL server of the test's own
 * listening on 127.0.0.1 and on the database pair's host-side address (tests/_pg.ts listens on
 * loopback only), and a `statecraft serve` node run inside the namespace with `ip netns exec`.
 *
 * Every address used is one this helper assigned to the veth pairs it made (10.213.<n>.0/29):
 * no traffic goes anywhere else. Everything is torn down in `dispose()` (and, should the process
 * end first, synchronously at `unload`).
 *
 * Needs root, iproute2 (`ip netns`), `--allow-run=ip,runuser,deno`, `--allow-net=127.0.0.1,
 * 10.213.0.0/16` (Deno accepts the CIDR form), `--allow-read`, `--allow-write=/tmp`,
 * `--allow-env`, `--allow-sys=uid`.
 *
 * @module
 */
import { freePort, request, until } from "./_nodes.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const quiet = { stdin: "null", stdout: "piped", stderr: "piped" } as const;

function runSync(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, ...quiet }).outputSync();
    const dec = new TextDecoder();
    return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, out: e instanceof Error ? e.message : String(e) };
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, ...quiet }).output();
  const dec = new TextDecoder();
  const out = (dec.decode(r.stdout) + dec.decode(r.stderr)).trim();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${out}`);
  return out;
}

/** `ip` with arguments; throws with its output on failure. */
export const ip = (...args: string[]): Promise<string> => run("ip", args);

/** The folder holding initdb, pg_ctl and pg_isready (PATH, then Debian's), or null. */
function pgBinDir(): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  try {
    for (
      const v of [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort().reverse()
    ) {
      dirs.push(`/usr/lib/postgresql/${v}/bin`);
    }
  } catch {
    // no Debian PostgreSQL
  }
  const complete = (d: string) => {
    try {
      return ["initdb", "pg_ctl", "pg_isready"].every((b) => Deno.statSync(`${d}/${b}`).isFile);
    } catch {
      return false; // one of them is missing
    }
  };
  return dirs.find(complete) ?? null;
}

/**
 * Whether this test can run here: null when it can, else why not. Probes for real: adds a
 * namespace and deletes it again (a container may forbid it even to root).
 */
export function netnsUnavailable(): string | null {
  const perm = (name: "run" | "net", what: string) =>
    Deno.permissions.querySync(
      name === "run" ? { name, command: what } : { name, host: what },
    ).state === "granted";
  for (const c of ["ip", "runuser", "deno"]) {
    if (!perm("run", c)) return `--allow-run does not allow ${c}`;
  }
  if (!perm("net", "10.213.1.6:1")) return "--allow-net does not allow 10.213.0.0/16";
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
    return "--allow-sys does not allow uid";
  }
  if (Deno.uid() !== 0) return "not root: network namespaces need root";
  if (pgBinDir() === null) return "no initdb/pg_ctl/pg_isready (Debian's postgresql package)";
  const probe = `sc-probe-${Math.random().toString(36).slice(2, 8)}`;
  const added = runSync("ip", ["netns", "add", probe]);
  if (!added.ok) return `ip netns add failed: ${added.out}`;
  runSync("ip", ["netns", "del", probe]);
  return null;
}

/**
 * A namespace `sc-<tag>` and two veth pairs: `db` (host 10.213.n.1, namespace 10.213.n.2: the
 * node's way to the database) and `http` (host 10.213.n.5, namespace 10.213.n.6: the test's way
 * to the node). `cut()` takes the namespace's end of `db` down; `restore()` brings it up.
 */
export class NetNs {
  readonly name: string;
  readonly dbHost: string;
  readonly dbNs: string;
  readonly httpHost: string;
  readonly httpNs: string;
  /** Interface names: [host side, namespace side] of each pair. */
  readonly dbLink: [string, string];
  readonly httpLink: [string, string];
  #made = false;
  readonly #onUnload = () => this.teardownSync();

  private constructor(tag: string, n: number) {
    this.name = `sc-${tag}`;
    const base = `10.213.${n}.`;
    [this.dbHost, this.dbNs, this.httpHost, this.httpNs] = [1, 2, 5, 6].map((i) => base + i);
    this.dbLink = [`sc${tag}dh`, `sc${tag}dn`];
    this.httpLink = [`sc${tag}hh`, `sc${tag}hn`];
  }

  /** Makes the namespace and both pairs, on a 10.213.<n> block no interface uses yet. */
  static async create(): Promise<NetNs> {
    const used = await ip("-o", "-4", "addr", "show");
    const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((n) =>
      !used.includes(` 10.213.${n}.`)
    );
    if (free.length === 0) throw new Error("no free 10.213.<n>.0/29 block");
    const tag = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
    const ns = new NetNs(tag, free[Math.floor(Math.random() * free.length)]);
    globalThis.addEventListener("unload", ns.#onUnload);
    try {
      await ip("netns", "add", ns.name);
      ns.#made = true;
      await ip("-n", ns.name, "link", "set", "lo", "up");
      for (
        const [[h, n], hostAddr, nsAddr] of [
          [ns.dbLink, ns.dbHost, ns.dbNs],
          [ns.httpLink, ns.httpHost, ns.httpNs],
        ] as const
      ) {
        await ip("link", "add", h, "type", "veth", "peer", "name", n);
        await ip("link", "set", n, "netns", ns.name);
        await ip("addr", "add", `${hostAddr}/30`, "dev", h);
        await ip("link", "set", h, "up");
        await ip("-n", ns.name, "addr", "add", `${nsAddr}/30`, "dev", n);
        await ip("-n", ns.name, "link", "set", n, "up");
      }
    } catch (e) {
      ns.teardownSync();
      throw e;
    }
    return ns;
  }

  /** The node in the namespace loses its way to the database (link down inside). */
  cut(): Promise<string> {
    return ip("-n", this.name, "link", "set", this.dbLink[1], "down");
  }

  restore(): Promise<string> {
    return ip("-n", this.name, "link", "set", this.dbLink[1], "up");
  }

  /** Removes both pairs and the namespace (idempotent). */
  teardownSync(): void {
    globalThis.removeEventListener("unload", this.#onUnload);
    if (!this.#made) return;
    this.#made = false;
    for (const h of [this.dbLink[0], this.httpLink[0]]) runSync("ip", ["link", "del", h]);
    runSync("ip", ["netns", "del", this.name]);
  }
}

function postgresIds(): { uid: number; gid: number } {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[0] === "postgres") return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error("no postgres user");
}

/**
 * A throwaway PostgreSQL server (as root, run as `postgres` through `runuser`) listening on
 * 127.0.0.1 and `extraAddress`, with trust auth for `trustCidr` besides loopback.
 */
export class NetPg {
  readonly port = freePort();
  readonly #bin: string;
  #dir = "";
  readonly #onUnload = () => this.teardownSync();

  private constructor(bin: string) {
    this.#bin = bin;
  }

  static async start(extraAddress: string, trustCidr: string): Promise<NetPg> {
    const bin = pgBinDir();
    if (bin === null) throw new Error("no PostgreSQL binaries");
    const pg = new NetPg(bin);
    pg.#dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft-netns-pg-" });
    const { uid, gid } = postgresIds();
    await Deno.chown(pg.#dir, uid, gid);
    globalThis.addEventListener("unload", pg.#onUnload);
    try {
      const data = `${pg.#dir}/data`;
      await pg.#as(
        "initdb",
        `-D ${data} -U postgres -E UTF8 --auth=trust --no-locale --no-sync`.split(" "),
      );
      await Deno.writeTextFile(
        `${data}/pg_hba.conf`,
        `host all all ${trustCidr} trust\n`,
        { append: true },
      );
      const opts = `-k ${pg.#dir} -p ${pg.port} -c fsync=off -c max_connections=100 ` +
        `-c listen_addresses=127.0.0.1,${extraAddress}`;
      await pg.#as("pg_ctl", [
        ...`start -D ${data} -l ${pg.#dir}/server.log -w -t 30 -o`.split(" "),
        opts,
      ]);
      await until(
        async () => {
          await pg.#as("pg_isready", ["-h", extraAddress, "-p", `${pg.port}`]);
          return true;
        },
        20_000,
        "PostgreSQL ready on the veth address",
        100,
      );
    } catch (e) {
      const log = await Deno.readTextFile(`${pg.#dir}/server.log`).catch(() => "");
      pg.teardownSync();
      throw new Error(`${e instanceof Error ? e.message : e}\n${log.slice(-2000)}`);
    }
    return pg;
  }

  #as(bin: string, args: string[]): Promise<string> {
    return run("runuser", [..."-u postgres --".split(" "), `${this.#bin}/${bin}`, ...args]);
  }

  /** A store URL on `host` (127.0.0.1 or the veth address), with `params` added. */
  url(host: string, schema: string, params = ""): string {
    return `postgres://postgres@${host}:${this.port}/postgres?schema=${schema}${params}`;
  }

  /** Stops the server (immediate) and removes its folder (idempotent). */
  teardownSync(): void {
    globalThis.removeEventListener("unload", this.#onUnload);
    if (this.#dir === "") return;
    runSync(
      "runuser",
      `-u postgres -- ${this.#bin}/pg_ctl stop -D ${this.#dir}/data -m immediate -w`.split(" "),
    );
    try {
      Deno.removeSync(this.#dir, { recursive: true });
    } catch {
      // best effort
    }
    this.#dir = "";
  }
}

/** What the load driver needs of a node: where it is and whether the test left it reachable. */
export interface Target {
  readonly name: string;
  readonly url: string;
  /** Headers every request to it carries (the bearer token of a non-loopback node). */
  readonly headers?: Record<string, string>;
  readonly live: boolean;
  readonly state: string;
}

/**
 * `statecraft serve` inside the namespace: `ip netns exec <ns> deno run ... cli.ts serve`, the
 * HTTP port on the namespace's end of the `http` pair (beyond loopback, so with a bearer token
 * from `--token-env`). `ip netns exec` execs deno in place: the child's pid is the node's.
 */
export class NsNode implements Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly process: Deno.ChildProcess;
  /** "cut": running, but off the database (the test does not count it as a live owner). */
  state: "starting" | "running" | "cut" | "killed" = "starting";
  readonly tail: string[] = [];
  readonly #done: Promise<unknown>;
  #exited = false;

  constructor(name: string, ns: NetNs, project: string, store: string) {
    this.name = name;
    const port = freePort();
    this.url = `http://${ns.httpNs}:${port}`;
    const token = crypto.randomUUID();
    this.headers = { authorization: `Bearer ${token}` };
    this.process = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns.name,
        Deno.execPath(),
        ...`run --allow-read --allow-write=/tmp --allow-env --allow-net=${ns.dbHost},${ns.httpNs}`
          .split(" "),
        ...["cli.ts", "serve", project, "--kv", store, "--node", name, "--host", ns.httpNs],
        ...["--port", String(port), "--token-env", "SC_NETNS_TOKEN", "--no-plugins"],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", SC_NETNS_TOKEN: token },
      ...quiet,
    }).spawn();
    this.process.status.then(() => this.#exited = true);
    this.#done = Promise.allSettled([this.process.stdout, this.process.stderr].map(async (s) => {
      let rest = "";
      for await (const text of s.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop()!;
        this.tail.push(...lines);
        this.tail.splice(0, Math.max(0, this.tail.length - 60));
      }
      if (rest !== "") this.tail.push(rest);
    }));
  }

  get live(): boolean {
    return this.state === "running";
  }

  /** Waits until `GET /health` answers 200 through the `http` pair. */
  async ready(ms = 60_000): Promise<void> {
    await until(
      async () => {
        if (this.#exited) throw new Error(`${this.name} exited: ${this.tail.join("\n")}`);
        return (await request(`${this.url}/health`, { timeoutMs: 1000 })).status === 200
          ? true
          : undefined;
      },
      ms,
      `${this.name} ready (in the namespace)`,
      100,
    );
    this.state = "running";
  }

  /** For `finally`: SIGKILL (if still running), then both pipes read to their end. */
  async dispose(): Promise<void> {
    this.state = "killed";
    if (!this.#exited) {
      await Promise.resolve().then(() => this.process.kill("SIGKILL")).catch(() => {});
    }
    await Promise.allSettled([this.process.status, this.#done]);
  }
}
