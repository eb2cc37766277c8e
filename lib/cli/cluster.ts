/**
 * `statecraft cluster status`: the nodes and partitions of a store run in cluster mode, read
 * from the store itself (nothing is written; the command does not join the cluster). See
 * docs/cluster.md.
 *
 * @module
 */
import type { KvBackend } from "../persist/backend.ts";
import { isPostgresUrl, openBackend } from "../persist/open_backend.ts";
import { clusterStatus } from "../cluster/membership.ts";
import type { ClusterStatus } from "../cluster/types.ts";
import { CliError } from "./cli_error.ts";
import { DEFAULT_KV_PATH } from "./constants.ts";

/** Options of `cluster status`. */
export interface ClusterStatusCommandOptions {
  /** The store: a KV file path, a KV Connect URL or a `postgres://` URL (default `.statecraft/state.kv`). */
  kv?: string;
  /** One JSON object (`ClusterStatus` and `now`) instead of tables. */
  json?: boolean;
}

/** Where the command writes: data lines to `line` (stdout). */
export interface ClusterOutput {
  /** Receives a line for stdout. */
  line(text: string): void;
}

const CONSOLE: ClusterOutput = { line: (text) => console.log(text) };

/**
 * `cluster status`: prints the nodes (name, role, live, heartbeat age, partitions owned) and
 * the partition table (partition, owner, epoch, seconds until the lease expires), or one JSON
 * object with `--json`. Returns the exit code: 0, or a `CliError` (exit 1) when the store does
 * not exist or never ran in cluster mode.
 *
 * @example
 * ```ts ignore
 * import { clusterStatusCommand } from "./cluster.ts";
 * await clusterStatusCommand({ kv: "postgres://app@db/app", json: true });
 * ```
 */
export async function clusterStatusCommand(
  options: ClusterStatusCommandOptions,
  out: ClusterOutput = CONSOLE,
): Promise<number> {
  const path = options.kv ?? DEFAULT_KV_PATH;
  const where = redact(path);
  if (!isPostgresUrl(path) && !/^https?:\/\//i.test(path) && path !== ":memory:") {
    await requireFile(path);
  }
  let backend: KvBackend;
  try {
    backend = await openBackend(path);
  } catch (e) {
    throw new CliError(`cannot open store ${where}: ${e instanceof Error ? e.message : e}`);
  }
  try {
    const now = Date.now();
    let status: ClusterStatus | null;
    try {
      status = await clusterStatus(backend, { now: () => now });
    } catch (e) {
      throw new CliError(`cannot read store ${where}: ${e instanceof Error ? e.message : e}`);
    }
    if (status === null) {
      throw new CliError(
        `store ${where} has never run in cluster mode (no cluster config): no nodes or ` +
          `partitions to show`,
      );
    }
    if (options.json === true) {
      out.line(JSON.stringify({ now, ...status }));
      return 0;
    }
    for (const line of formatStatus(status, now, where)) out.line(line);
    return 0;
  } finally {
    await backend.close();
  }
}

/** The text of `cluster status`: a summary line, the nodes table, the partitions table. */
export function formatStatus(status: ClusterStatus, now: number, where: string): string[] {
  const live = status.nodes.filter((n) => n.live);
  const owned = status.partitionTable.filter((p) => p.owner !== null && p.expiresAt >= now);
  const lines = [
    `store ${where}: ${status.partitions} partitions, lease ${seconds(status.leaseMs)} s; ` +
    `${live.length} of ${status.nodes.length} nodes live; ${owned.length} of ` +
    `${status.partitions} partitions owned`,
    "",
  ];
  if (status.nodes.length === 0) {
    lines.push("no nodes registered");
  } else {
    const rows = status.nodes.map((n) => [
      n.node,
      n.role,
      n.live ? "yes" : "no",
      `${seconds(now - n.heartbeatAt)} s`,
      String(n.owned),
      n.host,
      String(n.pid),
      n.url ?? "",
    ]);
    lines.push(
      ...table(
        ["NODE", "ROLE", "LIVE", "HEARTBEAT AGO", "OWNED", "HOST", "PID", "URL"],
        rows,
        new Set([3, 4, 6]),
      ),
    );
  }
  lines.push("");
  const rows = status.partitionTable.map((p) => [
    String(p.partition),
    p.owner ?? "-",
    String(p.epoch),
    p.owner === null ? "-" : p.expiresAt < now ? "expired" : seconds(p.expiresAt - now),
  ]);
  lines.push(...table(["PARTITION", "OWNER", "EPOCH", "EXPIRES IN (s)"], rows, new Set([0, 2, 3])));
  return lines;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function table(header: string[], rows: string[][], right: ReadonlySet<number>): string[] {
  const all = [header, ...rows];
  const widths: number[] = [];
  for (const row of all) row.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return all.map((row) =>
    row.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ").trimEnd()
  );
}

async function requireFile(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new CliError(`store ${path} is not a file: check --kv`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`no store at ${path}: check --kv (default ${DEFAULT_KV_PATH})`);
    }
    throw e;
  }
}

/** A store location for messages: a URL's password is never printed. */
function redact(path: string): string {
  return path.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@");
}
