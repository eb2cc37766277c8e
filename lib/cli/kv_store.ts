/**
 * Opening a store for the `statecraft kv` commands: the machines to register (`--machines`, or
 * the bundled examples), the encryption key (from the variable `--key-env` names), the store
 * in `inspect` mode (nothing fires), and store errors turned into one-line `CliError`s.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compiledOf, type Machine } from "../core/machine.ts";
import { EventError, SnapshotError } from "../core/errors.ts";
import type { ClusterMembership } from "../cluster/types.ts";
import { K } from "../persist/keys.ts";
import { openBackend } from "../persist/open_backend.ts";
import { openStore, type Store, StoreError } from "../persist/store.ts";
import { StoreDataError } from "../persist/codec.ts";
import { CliError } from "./cli_error.ts";
import { formatDiagnostic, loadScript } from "./load.ts";

/** A machine of any context and events. */
// deno-lint-ignore no-explicit-any
export type AnyMachine = Machine<any, any>;

/** Where a `kv` command's store is: the options every `kv` subcommand takes. */
export interface KvStoreOptions {
  /** A KV file path or a KV Connect URL (default `.statecraft/state.kv`). */
  kv?: string;
  /** Machine scripts to register (default: every `examples/*.ts` that loads). */
  machines?: string[];
  /** The environment variable holding the encryption key (default `STATECRAFT_KEY`). */
  keyEnv?: string;
}

/** Where the `kv` commands write: data lines go to `line` (stdout), notes to `warn` (stderr). */
export interface KvOutput {
  /** Receives a line for stdout. */
  line(text: string): void;
  /** Receives a warning or note for stderr. */
  warn(text: string): void;
}

/** The default store path, shared with `openStore`. */
import { DEFAULT_KEY_ENV, DEFAULT_KV_PATH } from "./constants.ts";
export { DEFAULT_KEY_ENV, DEFAULT_KV_PATH };

/** An open store and what the commands need to describe its instances. */
export interface KvSession {
  /** The store, opened in `inspect` mode. */
  store: Store;
  /** The store's path or URL, as the user gave it. */
  path: string;
  /** The registered machines by id (to tell atomic states from compound ones). */
  machines: Map<string, AnyMachine>;
  /** Whether the store was opened with an encryption key (it is encrypted, then). */
  encrypted: boolean;
}

/**
 * Opens the store, runs `fn`, and closes the store, whatever happens. Store errors (unknown
 * instance, wrong key, corrupt data, a bad rollback target) come out as `CliError`s.
 *
 * @param create when false (the default), a local store file that does not exist is an error
 *   rather than a new empty store: a mistyped `--kv` must not look like an empty store.
 * @param join when true and the store runs in cluster mode, the command joins the cluster as
 *   a client for as long as it runs, so that its writes go to the partitions' owners (a store
 *   in cluster mode refuses writes from outside the cluster); it leaves when it closes.
 *
 * @example
 * ```ts ignore
 * import { withKvStore } from "./kv_store.ts";
 * const out = { line: console.log, warn: console.error };
 * const info = await withKvStore({ kv: "state.kv" }, out, ({ store }) => store.get("c1"));
 * ```
 */
export async function withKvStore<T>(
  options: KvStoreOptions,
  out: KvOutput,
  fn: (session: KvSession) => Promise<T>,
  { create = false, join = false }: { create?: boolean; join?: boolean } = {},
): Promise<T> {
  const path = options.kv ?? DEFAULT_KV_PATH;
  const keyEnv = options.keyEnv ?? DEFAULT_KEY_ENV;
  const remote = /^(https?|postgres(ql)?):\/\//i.test(path);
  if (!create && !remote && path !== ":memory:") await requireStoreFile(path);
  const machines = await loadMachines(options.machines, out);
  const key = readKey(keyEnv);
  let store: Store;
  try {
    const backend = await openBackend(path);
    let cluster: ClusterMembership | undefined;
    try {
      if (join && (await backend.get(K.clusterConfig())).value !== null) {
        const { joinCluster } = await import("../cluster/membership.ts");
        cluster = await joinCluster(backend, {
          node: `cli-${crypto.randomUUID().slice(0, 8)}`,
          role: "client",
          onError: (e) => out.warn(`cluster: ${e instanceof Error ? e.message : String(e)}`),
        });
      }
    } catch (e) {
      await backend.close();
      throw e;
    }
    // openStore closes the backend when it fails.
    store = await openStore({
      backend,
      cluster,
      machines: [...machines.values()],
      encryptionKey: key.value,
      mode: "inspect",
    });
  } catch (e) {
    throw toCliError(e, keyEnv, key.unreadable, `cannot open store ${redactUrl(path)}: `);
  }
  try {
    return await fn({ store, path, machines, encrypted: key.value !== undefined });
  } catch (e) {
    throw toCliError(e, keyEnv, key.unreadable);
  } finally {
    await store.close();
  }
}

async function requireStoreFile(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new CliError(`store ${path} is not a file: check --kv`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(
        `no store at ${path}: check --kv (default ${DEFAULT_KV_PATH}, relative to the ` +
          `working directory)`,
      );
    }
    throw e;
  }
}

/**
 * The machines to register, by id. Files named with `--machines` must load; the default
 * examples that do not load are skipped with a warning.
 */
async function loadMachines(
  files: string[] | undefined,
  out: KvOutput,
): Promise<Map<string, AnyMachine>> {
  const explicit = files !== undefined && files.length > 0;
  const list = explicit ? files : await defaultMachineScripts();
  const machines = new Map<string, AnyMachine>();
  const origin = new Map<string, string>();
  for (const file of list) {
    const script = await loadScript(file);
    const errors = script.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) {
      if (explicit && errors.length === 1 && errors[0].line === undefined) {
        throw new CliError(`${file}: ${errors[0].message}`);
      }
      if (explicit) {
        throw new CliError(
          `${file} did not load:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join("\n")}`,
        );
      }
      out.warn(`warning: skipped ${file}: ${formatDiagnostic(errors[0])}`);
      continue;
    }
    for (const { machine } of script.machines) {
      const seen = origin.get(machine.id);
      if (seen !== undefined) {
        throw new CliError(
          `machine "${machine.id}" is exported by both ${seen} and ${file}: ` +
            `a store registers each machine id once`,
        );
      }
      origin.set(machine.id, file);
      machines.set(machine.id, machine);
    }
  }
  return machines;
}

/** `examples/*.ts` beside this program, as paths relative to the working directory. */
async function defaultMachineScripts(): Promise<string[]> {
  const dir = new URL("../../examples/", import.meta.url);
  if (dir.protocol !== "file:") return [];
  const root = fileURLToPath(dir);
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isFile && entry.name.endsWith(".ts")) files.push(`${root}${entry.name}`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const cwd = Deno.cwd();
  return files.sort().map((f) => {
    const rel = relative(cwd, f);
    return rel.startsWith("..") || isAbsolute(rel) ? resolve(f) : rel;
  });
}

/**
 * The encryption key from the environment. Unset and empty mean "no key" (so
 * `STATECRAFT_KEY= statecraft kv ls` opens an unencrypted store). Without `--allow-env` for
 * the variable there is no key and no permission prompt; errors then say why.
 */
function readKey(name: string): { value?: string; unreadable: boolean } {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  if (state !== "granted") return { unreadable: true };
  const value = Deno.env.get(name);
  return { value: value === "" ? undefined : value, unreadable: false };
}

/** A store error as a one-line message the user can act on; anything else unchanged. */
function toCliError(e: unknown, keyEnv: string, keyUnreadable: boolean, prefix = ""): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof StoreDataError) {
    const m = e.message;
    if (/wrong encryption key$/.test(m)) {
      return new CliError(`${m} (the key comes from $${keyEnv})`);
    }
    if (/is encrypted; open it with its encryption key$/.test(m)) {
      const why = keyUnreadable
        ? `; $${keyEnv} could not be read: run with --allow-env`
        : `: set $${keyEnv} (or name another variable with --key-env)`;
      return new CliError(`${m.replace(/; open it with its encryption key$/, "")}${why}`);
    }
    if (/is not encrypted; open it without an encryption key$/.test(m)) {
      return new CliError(`${m.replace(/; open it.*$/, "")}: unset $${keyEnv}`);
    }
    return new CliError(`unreadable data: ${m}`);
  }
  if (e instanceof StoreError) {
    if (e.code === "not_found" && /^no instance "[^"]*"$/.test(e.message)) {
      return new CliError(`${e.message} in this store (see kv ls)`);
    }
    if (e.code === "incompatible" && /was not opened with$/.test(e.message)) {
      return new CliError(`${e.message}: pass its machine script with --machines`);
    }
    return new CliError(e.message);
  }
  if (e instanceof SnapshotError || e instanceof EventError) return new CliError(e.message);
  // Deno.openKv's own errors (not a database, no permission) while opening.
  if (prefix !== "" && e instanceof Error) return new CliError(`${prefix}${e.message}`);
  return e;
}

/**
 * The atomic states of a configuration: those with no child in it. Exact when the machine is
 * registered; otherwise ids that are no other id's dotted prefix.
 *
 * @example
 * ```ts
 * import { atomicStates } from "./kv_store.ts";
 * const atomic = atomicStates(undefined, ["counting", "counting.low"]);
 * // atomic is ["counting.low"]
 * ```
 */
export function atomicStates(
  machine: AnyMachine | undefined,
  configuration: readonly string[],
): string[] {
  const byId = machine === undefined ? undefined : compiledOf(machine).byId;
  return configuration.filter((id) => {
    const node = byId?.get(id);
    if (node !== undefined) return node.children.length === 0;
    return !configuration.some((other) => other.startsWith(`${id}.`));
  });
}

/** A configuration as `run` prints it: ids joined by `, `, `(none)` when empty. */
export function formatStates(ids: readonly string[]): string {
  return ids.length === 0 ? "(none)" : ids.join(", ");
}

/** A clock time as an ISO string (UTC). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A store location for messages: a URL's password is never printed. */
function redactUrl(path: string): string {
  return path.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@");
}
