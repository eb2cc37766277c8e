/**
 * `statecraft schedule add|ls|pause|resume|rm`: the store's schedules (docs/operations.md,
 * "Schedules"), written to the store itself; running nodes see a change within a second
 * (their schedulers read the schedules again every second).
 *
 * @module
 */
import type { KvBackend } from "../persist/backend.ts";
import { importKey, StoreDataError } from "../persist/codec.ts";
import { checkFormat } from "../persist/format.ts";
import { isPostgresUrl, openBackend } from "../persist/open_backend.ts";
import { Records } from "../persist/records.ts";
import { ScheduleError, Schedules } from "../persist/schedules.ts";
import { StoreError } from "../persist/types.ts";
import { formatSchedules } from "../runtime/schedules.ts";
import { CliError } from "./cli_error.ts";
import { DEFAULT_KEY_ENV, DEFAULT_KV_PATH } from "./constants.ts";

/** Where the commands write: data lines to `line` (stdout). */
export interface ScheduleOutput {
  /** Receives a line for stdout. */
  line(text: string): void;
}

const CONSOLE: ScheduleOutput = { line: (text) => console.log(text) };

/** Options every `schedule` command takes. */
export interface ScheduleStoreOptions {
  /** The store: a KV file path, a KV Connect URL or a `postgres://` URL. */
  kv?: string;
  /**
   * The environment variable holding an encrypted store's key (default `STATECRAFT_KEY`):
   * schedule records are encrypted with it, like snapshots and journals.
   */
  keyEnv?: string;
}

/** Options of `schedule add`. */
export interface ScheduleAddOptions extends ScheduleStoreOptions {
  cron: string;
  timezone?: string;
  create?: string;
  id?: string;
  context?: string;
  send?: string;
  event?: string;
  overlap?: string;
  catchUp?: string;
  maxCatchUp?: number;
  maxQueued?: number;
  graceMs?: number;
  paused?: boolean;
}

/** The flag that sets each field of a definition, for messages. */
const FLAGS: Record<string, string> = {
  cron: "--cron",
  timezone: "--timezone",
  create: "--create",
  "create.machine": "--create",
  "create.id": "--id",
  "create.context": "--context",
  send: "--send",
  "send.instance": "--send",
  "send.event": "--event",
  "send.event.type": "--event",
  overlap: "--overlap",
  catchUp: "--catch-up",
  maxCatchUp: "--max-catch-up",
  maxQueued: "--max-queued",
  graceMs: "--grace-ms",
  name: "<name>",
};

/**
 * `schedule add <name>`: adds a schedule that creates an instance (`--create <machine>`) or
 * sends an event (`--send <instance> --event <TYPE|json>`) on each tick of `--cron`.
 *
 * @example
 * ```ts ignore
 * import { scheduleAddCommand } from "./schedule.ts";
 * await scheduleAddCommand("nightly", { cron: "0 2 * * *", create: "report" });
 * ```
 */
export async function scheduleAddCommand(
  name: string,
  options: ScheduleAddOptions,
  out: ScheduleOutput = CONSOLE,
): Promise<number> {
  const spec: Record<string, unknown> = { name, cron: options.cron };
  if (options.timezone !== undefined) spec.timezone = options.timezone;
  if (options.create !== undefined) {
    spec.create = {
      machine: options.create,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.context === undefined ? {} : { context: json(options.context, "--context") }),
    };
  } else if (options.id !== undefined || options.context !== undefined) {
    throw new CliError("schedule add: --id and --context go with --create");
  }
  if (options.send !== undefined) {
    if (options.event === undefined) throw new CliError("schedule add: --send needs --event");
    const e = options.event.trim();
    spec.send = { instance: options.send, event: e.startsWith("{") ? json(e, "--event") : e };
  } else if (options.event !== undefined) {
    throw new CliError("schedule add: --event goes with --send <instance>");
  }
  for (const k of ["overlap", "catchUp", "maxCatchUp", "maxQueued", "graceMs"] as const) {
    if (options[k] !== undefined) spec[k] = options[k];
  }
  return await withSchedules(options, async (schedules) => {
    try {
      const made = await schedules.add(spec, { paused: options.paused === true });
      const next = made.next === null ? "never" : new Date(made.next).toISOString();
      out.line(`schedule "${made.name}" added${made.paused ? " (paused)" : ""}; next tick ${next}`);
      return 0;
    } catch (e) {
      if (e instanceof ScheduleError) {
        const flag = FLAGS[e.where];
        const message = e.message.slice(e.where.length + 2);
        throw new CliError(`schedule add: ${flag ?? e.where}: ${message}`);
      }
      throw e;
    }
  });
}

/** `schedule ls`: the schedules as a table, or one JSON object per line with `--json`. */
export async function scheduleListCommand(
  options: ScheduleStoreOptions & { json?: boolean },
  out: ScheduleOutput = CONSOLE,
): Promise<number> {
  return await withSchedules(options, async (schedules) => {
    const list = await schedules.list();
    if (options.json === true) { for (const s of list) out.line(JSON.stringify(s)); }
    else for (const line of formatSchedules(list)) out.line(line);
    return 0;
  });
}

/** `schedule pause|resume|rm <name>`. */
export async function scheduleChangeCommand(
  action: "pause" | "resume" | "rm",
  name: string,
  options: ScheduleStoreOptions,
  out: ScheduleOutput = CONSOLE,
): Promise<number> {
  return await withSchedules(options, async (schedules) => {
    if (action === "rm") {
      if (!(await schedules.remove(name))) throw new CliError(`schedule rm: no schedule "${name}"`);
      out.line(`schedule "${name}" removed`);
      return 0;
    }
    const s = action === "pause" ? await schedules.pause(name) : await schedules.resume(name);
    const next = s.paused || s.next === null ? "" : `; next tick ${new Date(s.next).toISOString()}`;
    out.line(`schedule "${name}" ${s.paused ? "paused" : "active"}${next}`);
    return 0;
  });
}

async function withSchedules(
  options: ScheduleStoreOptions,
  fn: (schedules: Schedules) => Promise<number>,
): Promise<number> {
  const path = options.kv ?? DEFAULT_KV_PATH;
  const where = path.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@");
  if (!isPostgresUrl(path) && !/^https?:\/\//i.test(path) && path !== ":memory:") {
    try {
      await Deno.stat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new CliError(`no store at ${path}: check --kv (default ${DEFAULT_KV_PATH})`);
      }
      throw e;
    }
  }
  const backend: KvBackend = await openBackend(path).catch((e) => {
    throw new CliError(`cannot open store ${where}: ${e instanceof Error ? e.message : e}`);
  });
  try {
    const keyEnv = options.keyEnv ?? DEFAULT_KEY_ENV;
    const secret = readKey(keyEnv);
    let key: CryptoKey | null = null;
    try {
      key = secret.value === undefined ? null : await importKey(secret.value);
      await checkFormat(backend, key, where);
    } catch (e) {
      if (!(e instanceof StoreDataError)) throw e;
      const m = e.message;
      if (/is encrypted; open it with its encryption key$/.test(m)) {
        const why = secret.unreadable
          ? `$${keyEnv} could not be read: run with --allow-env`
          : `set $${keyEnv} (or name another variable with --key-env)`;
        throw new CliError(`${m.replace(/; open it with its encryption key$/, "")}: ${why}`);
      }
      if (/is not encrypted/.test(m)) {
        throw new CliError(`${m.replace(/; .*$/, "")}: unset $${keyEnv}`);
      }
      throw new CliError(`${m} (the key comes from $${keyEnv})`);
    }
    const sealer = key === null ? null : new Records(backend, key);
    return await fn(new Schedules({ backend, sealer }, { source: "cli" }));
  } catch (e) {
    if (e instanceof StoreError) throw new CliError(e.message);
    if (e instanceof StoreDataError) throw new CliError(`unreadable data: ${e.message}`);
    throw e;
  } finally {
    await backend.close();
  }
}

/** The encryption key from the environment: unset, empty or not readable is no key. */
function readKey(name: string): { value?: string; unreadable: boolean } {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  if (state !== "granted") return { unreadable: true };
  const value = Deno.env.get(name);
  return { value: value === "" ? undefined : value, unreadable: false };
}

function json(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`schedule add: ${flag}: not JSON (${e instanceof Error ? e.message : e})`);
  }
}
