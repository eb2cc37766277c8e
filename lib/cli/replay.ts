/**
 * `statecraft replay --kv <store> <new-machine-file> [--machine id]`: a deploy gate. Replays
 * every stored journal of the file's machines (or of one) under the definitions in the file and
 * prints the first difference of each instance: its seq, the event, the configuration recorded
 * and the one the new definition reaches; or the migration a stored state needs and the file
 * does not declare. Exit 0 when every instance matches, 1 otherwise (and on bad input).
 *
 * @module
 */
import type { Machine } from "../core/machine.ts";
import { type ReplayDifference, replayJournals } from "../testing/replay.ts";
import { CliError } from "./cli_error.ts";
import { formatStates, type KvOutput, type KvStoreOptions, withKvStore } from "./kv_store.ts";
import { loadScriptOrThrow } from "./load.ts";

/** Options of `statecraft replay`. */
export interface ReplayCommandOptions {
  /** The store: a KV file path, a KV Connect URL or a PostgreSQL URL (default the project's). */
  kv?: string;
  /** Only this machine's instances (an id, or the name it is exported under). */
  machine?: string;
  /** At most this many instances per machine. */
  limit?: number;
  /** The environment variable holding the encryption key (default `STATECRAFT_KEY`). */
  keyEnv?: string;
}

/**
 * Replays the store's journals under the machines of `file`; returns the exit code (0: all
 * match, 1: a difference). Bad input (no such file, a store that cannot open, no such
 * machine) is a `CliError`.
 *
 * @example
 * ```ts ignore
 * import { replayCommand } from "./replay.ts";
 * const code = await replayCommand("machines/order.ts", { kv: ".statecraft/state.kv" });
 * ```
 */
export async function replayCommand(
  file: string,
  options: ReplayCommandOptions,
  out: KvOutput = { line: (t) => console.log(t), warn: (t) => console.error(t) },
): Promise<number> {
  const machines = await machinesOf(file, options.machine);
  const storeOptions: KvStoreOptions = { kv: options.kv, machines: [file], keyEnv: options.keyEnv };
  const report = await withKvStore(
    storeOptions,
    out,
    ({ store }) => replayJournals({ store, machine: machines, limit: options.limit }),
  );
  for (const d of report.differences) for (const line of describe(d)) out.line(line);
  const ids = report.machines.map((id) => `"${id}"`).join(", ");
  const verdict = report.ok
    ? "every instance matches"
    : `${plural(report.differences.length, "instance")} differ${
      report.differences.length === 1 ? "s" : ""
    }`;
  out.line(
    `replayed ${plural(report.instances, "instance")} of ${ids} ` +
      `(${plural(report.events, "journal entry", "journal entries")}) under ${file}: ${verdict}`,
  );
  return report.ok ? 0 : 1;
}

/** The machines of the file to replay under: all of them, or the one `id` names. */
async function machinesOf(file: string, id: string | undefined): Promise<Machine[]> {
  const script = await loadScriptOrThrow(file);
  const all = script.machines;
  if (all.length === 0) {
    throw new CliError(`${file} exports no machine: export the result of defineMachine(...)`);
  }
  if (id === undefined) return all.map((m) => m.machine);
  const found = all.find((m) => m.machine.id === id || m.exportNames.includes(id));
  if (found === undefined) {
    const list = all.map((m) => `"${m.machine.id}"`).join(", ");
    throw new CliError(`${file} has no machine "${id}"; it exports ${list}`);
  }
  return [found.machine];
}

/** The lines that tell one difference. */
function describe(d: ReplayDifference): string[] {
  const where = `instance "${d.instance}" (machine "${d.machine}") at seq ${d.seq}`;
  switch (d.kind) {
    case "configuration":
      return [
        `differs: ${where}, ${d.event !== undefined ? `event ${d.event.type}` : d.entry}`,
        `  expected: ${formatStates(d.expected)}`,
        `  actual:   ${formatStates(d.actual)}`,
      ];
    case "migration":
      return [`missing migration: ${where}: ${d.message}`];
    case "error":
      return [`cannot replay: ${where}: ${d.message}`];
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
