/**
 * `statecraft kv ...`: inspect and maintain a durable store without running anything. Every
 * subcommand opens the store in `inspect` mode (no timer fires, no invocation starts), with
 * the machines of `--machines` (default: the bundled examples) and the key in `$STATECRAFT_KEY`.
 *
 * - `kv ls`: instances as a table or JSON lines, filtered by machine, state, status, `--where`,
 *   in a `--sort` order.
 * - `kv show <id>`: status, configuration, context, pending timers, checkpoints.
 * - `kv history <id>`: one line per journal entry.
 * - `kv checkpoint <id>` and `kv rollback <id> --to <seq|label>`.
 * - `kv export` and `kv import`: JSON lines, one `ExportRecord` per line.
 *
 * @module
 */
import type { Snapshot, SnapshotTimer } from "../core/types.ts";
import {
  type InstanceInfo,
  type JournalEntry,
  type ListOptions,
  type Store,
  StoreError,
} from "../persist/store.ts";
import { ImportChecker } from "../persist/import_check.ts";
import { K } from "../persist/keys.ts";
import { parseWhere } from "../persist/search.ts";
import { parseSort } from "../persist/search_sort.ts";
import { CliError } from "./cli_error.ts";
import {
  atomicStates,
  formatStates,
  isoTime,
  type KvOutput,
  type KvSession,
  type KvStoreOptions,
  withKvStore,
} from "./kv_store.ts";
import { checkExportFile, LineWriter, readExportRecords, type ReadPosition } from "./kv_jsonl.ts";
import { progressCounts, ProgressLine } from "./kv_progress.ts";

export { DEFAULT_KEY_ENV, DEFAULT_KV_PATH } from "./kv_store.ts";
export type { KvOutput, KvStoreOptions } from "./kv_store.ts";

const CONSOLE: KvOutput = {
  line: (text) => console.log(text),
  warn: (text) => console.error(text),
};

/** The statuses `kv ls --status` filters by. */
import { KV_STATUSES } from "./constants.ts";
export { KV_STATUSES };

/** Options of `kv ls`. */
export interface KvLsOptions extends KvStoreOptions {
  /** Only instances of this machine id. */
  machine?: string;
  /** Only instances with this state active (any level). */
  state?: string;
  /** Only instances with this status (`archived`: archived ones, which are otherwise left out). */
  status?: typeof KV_STATUSES[number];
  /** At most this many rows (default 100). */
  limit?: number;
  /** JSON lines (one `InstanceInfo` per line) instead of a table. */
  json?: boolean;
  /** Search clauses (`customer=acme`, `total>=100`, `tag=vip`; docs/operations.md). */
  where?: string[];
  /** The order: `total:desc`, `updatedAt:desc`, `id` (by = id, updatedAt, createdAt or a field). */
  sort?: string;
}

/**
 * `kv ls`: a table (`ID MACHINE STATUS SEQ CONFIGURATION UPDATED`, atomic states only) or JSON
 * lines; follows the store's cursors until `limit` rows. Returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { kvLsCommand } from "./kv.ts";
 * await kvLsCommand({ kv: "state.kv", machine: "door", status: "active" });
 * ```
 */
export async function kvLsCommand(options: KvLsOptions, out: KvOutput = CONSOLE): Promise<number> {
  const limit = options.limit ?? 100;
  return await withKvStore(options, out, async (session) => {
    const filter = listFilter(options);
    if (options.sort !== undefined) {
      try {
        filter.sort = parseSort(options.sort);
      } catch (e) {
        throw new CliError(`--sort: ${(e as Error).message}`);
      }
    }
    // One row more than asked tells whether the listing was cut short.
    const rows = await listAll(session.store, filter, limit + 1);
    const more = rows.length > limit;
    if (more) rows.length = limit;
    if (options.json === true) {
      for (const info of rows) out.line(JSON.stringify(info));
    } else if (rows.length === 0) {
      out.line("no instances");
    } else {
      const table = rows.map((info) => [
        info.id,
        info.machine,
        info.archived ? `archived (${info.status})` : info.status,
        String(info.seq),
        formatStates(atomicStates(session.machines.get(info.machine), info.configuration)),
        isoTime(info.updatedAt),
      ]);
      const header = ["ID", "MACHINE", "STATUS", "SEQ", "CONFIGURATION", "UPDATED"];
      for (const line of formatTable(header, table, new Set([3]))) out.line(line);
    }
    if (more) out.warn(`(more than ${plural(limit, "instance")}: raise --limit to see more)`);
    return 0;
  });
}

/**
 * The `list` filter of `--machine`, `--state`, `--status` and `--where` (shared with the bulk
 * `instance` actions); a bad `--where` clause is a `CliError`.
 */
export function listFilter(
  options: Pick<KvLsOptions, "machine" | "state" | "status" | "where">,
): ListOptions {
  const filter: ListOptions = {};
  if (options.machine !== undefined) filter.machine = options.machine;
  if (options.state !== undefined) filter.state = options.state;
  if (options.status !== undefined) filter.status = options.status;
  if (options.where !== undefined && options.where.length > 0) {
    try {
      filter.where = parseWhere(options.where);
    } catch (e) {
      throw new CliError(`--where: ${(e as Error).message}`);
    }
  }
  return filter;
}

async function listAll(store: Store, filter: ListOptions, limit: number): Promise<InstanceInfo[]> {
  const rows: InstanceInfo[] = [];
  let cursor: string | undefined;
  do {
    let page;
    try {
      page = await store.list({ ...filter, limit: Math.min(limit - rows.length, 1000), cursor });
    } catch (e) {
      // A sort the store refuses (a field the machine does not declare...): name the option.
      if (e instanceof StoreError && e.message.startsWith("sort ")) {
        throw new CliError(`--sort: ${e.message}`);
      }
      throw e;
    }
    rows.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined && rows.length < limit);
  return rows;
}

/** Options of `kv show`. */
export interface KvShowOptions extends KvStoreOptions {
  /** One JSON object instead of text. */
  json?: boolean;
}

/** A pending timer as `kv show` lists it. */
interface TimerRow {
  /** Invoke ids leading to the child machine that owns the timer (empty for the instance). */
  path: string[];
  sendId: string;
  event: string;
  due: number;
}

/**
 * `kv show <id>`: machine, status, seq, configuration, context (pretty JSON), pending timers
 * and checkpoints. Returns the exit code.
 */
export async function kvShowCommand(
  id: string,
  options: KvShowOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  return await withKvStore(options, out, async ({ store, machines }) => {
    const info = await requireInstance(store, id);
    const timers = collectTimers(await store.snapshot(id), []);
    const checkpoints = await store.checkpoints(id);
    if (options.json === true) {
      out.line(JSON.stringify({ ...info, timers, checkpoints }));
      return 0;
    }
    out.line(`id: ${info.id}`);
    out.line(
      `machine: ${info.machine}${info.version === undefined ? "" : ` (version ${info.version})`}`,
    );
    out.line(`status: ${info.status}${info.archived ? " (archived)" : ""}`);
    out.line(`seq: ${info.seq}`);
    out.line(
      `configuration: ${
        formatStates(atomicStates(machines.get(info.machine), info.configuration))
      }`,
    );
    out.line(`created: ${isoTime(info.createdAt)}`);
    out.line(`updated: ${isoTime(info.updatedAt)}`);
    if (info.recoveredAt !== undefined) out.line(`recovered: ${isoTime(info.recoveredAt)}`);
    out.line(`context: ${pretty(info.context)}`);
    if (timers.length === 0) out.line("timers: none");
    else {
      out.line("timers:");
      const rows = timers.map((t) => [
        [...t.path, t.sendId].join("/"),
        t.event,
        `due ${isoTime(t.due)}`,
      ]);
      for (const line of formatTable(null, rows)) out.line(`  ${line}`);
    }
    if (checkpoints.length === 0) out.line("checkpoints: none");
    else {
      out.line("checkpoints:");
      const rows = checkpoints.map((c) => [String(c.seq), isoTime(c.time), c.label ?? ""]);
      for (const line of formatTable(null, rows, new Set([0]))) out.line(`  ${line}`);
    }
    return 0;
  });
}

function collectTimers(snap: Snapshot, path: string[]): TimerRow[] {
  const rows = snap.timers.map((t: SnapshotTimer) => ({
    path,
    sendId: t.sendId,
    event: t.event.type,
    due: t.due,
  }));
  for (const [invokeId, child] of Object.entries(snap.children)) {
    rows.push(...collectTimers(child, [...path, invokeId]));
  }
  return rows;
}

/** Options of `kv history`. */
export interface KvHistoryOptions extends KvStoreOptions {
  /** The first seq to show (default 0). */
  from?: number;
  /** At most this many entries (default 1000). */
  limit?: number;
  /** JSON lines (one `JournalEntry` per line) instead of text. */
  json?: boolean;
}

/**
 * `kv history <id>`: one line per journal entry, `seq  time  kind  by  event  -> configuration`.
 * Returns the exit code.
 */
export async function kvHistoryCommand(
  id: string,
  options: KvHistoryOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  const limit = options.limit ?? 1000;
  return await withKvStore(options, out, async ({ store, machines }) => {
    const entries = await store.history(id, { from: options.from ?? 0, limit: limit + 1 });
    const more = entries.length > limit;
    if (more) entries.length = limit;
    if (options.json === true) {
      for (const e of entries) out.line(JSON.stringify(e));
    } else {
      // The machine is known from the instance record only when it is registered; without it
      // atomic states are told apart by their dotted ids.
      const machineId = machines.size === 0 ? undefined : await machineOf(store, id);
      const machine = machineId === undefined ? undefined : machines.get(machineId);
      const rows = entries.map((e) => [
        String(e.seq),
        isoTime(e.time),
        e.kind,
        e.by,
        describeEntry(e),
        `-> ${formatStates(atomicStates(machine, e.configuration))}${
          e.status === "active" ? "" : ` (${e.status})`
        }`,
      ]);
      for (const line of formatTable(null, rows, new Set([0]))) out.line(line);
    }
    if (entries.length === 0) out.warn(`no journal entries from seq ${options.from ?? 0}`);
    if (more) {
      out.warn(`(more entries: continue with --from ${entries[entries.length - 1].seq + 1})`);
    }
    return 0;
  });
}

async function machineOf(store: Store, id: string): Promise<string | undefined> {
  try {
    return (await store.get(id))?.machine;
  } catch {
    return undefined; // a machine that is not registered: no atomic states from it
  }
}

/** The event column of a history line. */
function describeEntry(e: JournalEntry): string {
  switch (e.kind) {
    case "rollback":
      return `to ${e.to}`;
    case "migration":
      return `${e.from ?? "?"} -> ${e.toVersion ?? "?"}`;
    default:
      return e.event?.type ?? "-";
  }
}

/** Options of `kv checkpoint`. */
export interface KvCheckpointOptions extends KvStoreOptions {
  /** A name to roll back to later (not a number). */
  label?: string;
}

/** `kv checkpoint <id>`: records a checkpoint and prints its seq. Returns the exit code. */
export async function kvCheckpointCommand(
  id: string,
  options: KvCheckpointOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  return await withKvStore(options, out, async ({ store }) => {
    const c = await store.checkpoint(id, options.label);
    out.line(String(c.seq));
    return 0;
  });
}

/** Options of `kv rollback`. */
export interface KvRollbackOptions extends KvStoreOptions {
  /** A seq (digits) or a checkpoint label. */
  to: string;
}

/**
 * `kv rollback <id> --to <seq|label>`: moves the instance back (a new journal entry; nothing is
 * erased) and prints its configuration (atomic states). Returns the exit code.
 */
export async function kvRollbackCommand(
  id: string,
  options: KvRollbackOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  const to = options.to.trim();
  if (to === "") throw new CliError("--to needs a seq or a checkpoint label");
  const target = /^\d+$/.test(to) ? { seq: Number(to) } : { checkpoint: to };
  return await withKvStore(options, out, async ({ store, machines }) => {
    await requireInstance(store, id);
    const info = await store.rollback(id, target, { by: "cli" });
    out.line(formatStates(atomicStates(machines.get(info.machine), info.configuration)));
    return 0;
  });
}

/** Options of `kv export`. */
export interface KvExportOptions extends KvStoreOptions {
  /** The file to write (default: stdout). */
  out?: string;
  /** Only instances of this machine id. */
  machine?: string;
}

/**
 * `kv export`: every instance (or one machine's) as JSON lines, one `ExportRecord` per line:
 * the instance, its journal entries, its checkpoints. Written to `--out` through a temporary
 * file renamed at the end, so a failed export leaves no half file. Returns the exit code.
 */
export async function kvExportCommand(
  options: KvExportOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  return await withKvStore(options, out, async (session) => {
    const progress = new ProgressLine();
    const total = await countForProgress(session, options.machine);
    const fraction = (instances: number) => total === 0 ? undefined : instances / total;
    const partial = options.out === undefined ? undefined : `${options.out}.partial`;
    const file = partial === undefined
      ? undefined
      : await Deno.open(partial, { write: true, create: true, truncate: true });
    const writer = new LineWriter(file ?? Deno.stdout);
    let instances = 0;
    let records = 0;
    let ok = false;
    try {
      const filter = options.machine === undefined ? {} : { machine: options.machine };
      for await (const record of session.store.export(filter)) {
        if (record.type === "instance") instances++;
        records++;
        await writer.line(JSON.stringify(record));
        progress.update(fraction(instances), progressCounts(instances, records));
      }
      await writer.flush();
      ok = true;
    } catch (e) {
      progress.clear();
      // A reader that went away (`kv export | head`) ends the export, quietly.
      if (e instanceof Deno.errors.BrokenPipe && file === undefined) return 0;
      throw e;
    } finally {
      file?.close();
      if (!ok && partial !== undefined) await Deno.remove(partial).catch(() => {});
    }
    progress.finish(fraction(instances), progressCounts(instances, records));
    if (partial !== undefined) {
      await Deno.rename(partial, options.out!);
      out.line(
        `exported ${plural(instances, "instance")} (${
          plural(records, "record")
        }) to ${options.out}`,
      );
    }
    if (session.encrypted) {
      out.warn("note: the export is not encrypted: keep it as safe as the key");
    }
    return 0;
  });
}

/**
 * How many instances an export will write, for the progress bar (so only on a terminal). The
 * machine index (see lib/persist/keys.ts) holds one tiny entry per instance: counting it reads
 * no snapshot.
 */
async function countForProgress(session: KvSession, machine?: string): Promise<number> {
  if (!Deno.stderr.isTerminal()) return 0;
  const prefix = machine === undefined ? ["sc", "ixm"] : ["sc", "ixm", machine];
  let n = 0;
  for await (const _ of session.store.backend.list({ prefix })) n++;
  return n;
}

/**
 * `kv import <file>`: imports a `kv export` file into the store (created when missing), all or
 * nothing. The file is read twice, a line at a time: first every record is checked (each
 * snapshot restored with its machine from `--machines`, as `kv show` will load it; nothing
 * runs), then imported. A bad line stops the import with `file:line: ...` before anything is
 * written; an import that fails while writing (the store went away) removes what it wrote, or,
 * when it cannot, names exactly the instances it left. Returns the exit code.
 */
export async function kvImportCommand(
  file: string,
  options: KvStoreOptions,
  out: KvOutput = CONSOLE,
): Promise<number> {
  let size: number;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new CliError(`${file} is not a file`);
    size = info.size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`${file}: file not found`);
    throw e;
  }
  return await withKvStore(options, out, async ({ store, machines }) => {
    const progress = new ProgressLine();
    const position: ReadPosition = { line: 0, bytesRead: 0 };
    let done = { instances: 0, records: 0 };
    let checked = false;
    try {
      // Half the bar for the check, half for the import.
      const checker = new ImportChecker(machines, () => Date.now());
      const exists = async (id: string) => (await store.backend.get(K.inst(id))).value !== null;
      const total = await checkExportFile(file, checker, exists, size, (f, records) => {
        progress.update(f / 2, `checked ${plural(records, "record")}`);
      });
      checked = true;
      const counts = await store.import(readExportRecords(file, position), (now) => {
        done = now;
        progress.update(
          0.5 + now.records / (2 * Math.max(total, 1)),
          progressCounts(now.instances, now.records),
        );
      });
      progress.finish(1, progressCounts(done.instances, done.records));
      out.line(
        `imported ${plural(counts.instances, "instance")} (${
          plural(counts.journal, "journal entry", "journal entries")
        }, ${plural(counts.checkpoints, "checkpoint")}) from ${file}`,
      );
      return 0;
    } catch (e) {
      progress.clear();
      if (e instanceof CliError || !checked) throw e;
      // The import stopped while writing: name the line it had reached, and what it left.
      const why = e instanceof Error ? e.message.replace(/^record \d+: /, "") : String(e);
      throw new CliError(`${file}:${position.line}: ${why}`);
    }
  }, { create: true });
}

async function requireInstance(store: Store, id: string): Promise<InstanceInfo> {
  const info = await store.get(id);
  if (info === null) throw new CliError(`no instance "${id}" in this store (see kv ls)`);
  return info;
}

/**
 * Pads columns to a common width (two spaces apart; the last column is not padded).
 * `right` holds the indexes of right-aligned columns.
 */
function formatTable(
  header: string[] | null,
  rows: string[][],
  right: ReadonlySet<number> = new Set(),
): string[] {
  const all = header === null ? rows : [header, ...rows];
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return all.map((row) =>
    row.map((cell, i) => {
      if (i === row.length - 1) return cell;
      return right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
    }).join("  ").trimEnd()
  );
}

function pretty(value: unknown): string {
  try {
    const json = JSON.stringify(value, null, 2);
    if (json !== undefined) return json;
  } catch {
    // Cycles, BigInt: fall back to the inspector.
  }
  return Deno.inspect(value, { depth: 6, colors: false });
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
