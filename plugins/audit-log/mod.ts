/**
 * audit-log: appends every `machine.*` event the runtime publishes (one JSON object per line,
 * the event as published) to `./logs/audit.jsonl` in this plugin's folder, the only place it
 * may write. A transition that arrives both as a `machine.transition` event and through the
 * `afterTransition` hook is written once.
 *
 * Actions:
 * - `tail({ n })`: the last `n` lines (default 10, at most 1000), parsed;
 * - `count()`: how many lines the log holds.
 *
 * @module
 */
import { definePlugin } from "../../lib/plugins/sdk.ts";

/** The folder of the log (plugin.yaml grants write access to it and to nothing else). */
const LOG_DIR = new URL("./logs/", import.meta.url);
/** The log file. */
const LOG_FILE = new URL("audit.jsonl", LOG_DIR);

const DEFAULT_TAIL = 10;
const MAX_TAIL = 1000;
const CHUNK = 64 * 1024;

/** A machine event as the runtime publishes it (`machine.transition` and its fields). */
interface MachineEvent {
  type: string;
  instance?: string;
  machine?: string;
  event?: unknown;
  from?: string[];
  to?: string[];
  /** The instance's journal position. */
  seq?: number;
  time?: number | string;
  [key: string]: unknown;
}

/**
 * Appends `value` as one JSON line to `file`. Used for the audit log; anywhere else the
 * plugin's permissions refuse it with `NotCapable`.
 */
export async function appendJsonLine(file: string | URL, value: unknown): Promise<void> {
  await Deno.writeTextFile(file, JSON.stringify(value) + "\n", { append: true });
}

// The last transitions written, so that the hook and the event of one transition make one line.
const recent: string[] = [];
const RECENT = 256;

function transitionKey(t: MachineEvent): string {
  return JSON.stringify([t.instance, t.machine, t.seq, t.event, t.from, t.to, t.time]);
}

async function record(entry: MachineEvent): Promise<void> {
  if (entry.type === "machine.transition") {
    const key = transitionKey(entry);
    if (recent.includes(key)) return;
    recent.push(key);
    if (recent.length > RECENT) recent.shift();
  }
  await appendJsonLine(LOG_FILE, entry);
}

/** The last `n` lines of the log, read backwards in chunks (the log may be large). */
async function lastLines(n: number): Promise<string[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(LOG_FILE, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  try {
    let end = (await file.stat()).size;
    let bytes = new Uint8Array(0);
    let newlines = 0;
    // Bytes, not text, are gathered: a chunk boundary may split a character.
    while (end > 0 && newlines <= n) {
      const start = Math.max(0, end - CHUNK);
      const chunk = new Uint8Array(end - start);
      await file.seek(start, Deno.SeekMode.Start);
      for (let read = 0; read < chunk.length;) {
        const got = await file.read(chunk.subarray(read));
        if (got === null) break;
        read += got;
      }
      for (const b of chunk) if (b === 0x0a) newlines++;
      const joined = new Uint8Array(chunk.length + bytes.length);
      joined.set(chunk);
      joined.set(bytes, chunk.length);
      bytes = joined;
      end = start;
    }
    const lines = new TextDecoder().decode(bytes).split("\n").filter((line) => line !== "");
    return lines.slice(-n);
  } finally {
    file.close();
  }
}

/** The number of lines of the log, counted as it streams by. */
async function lineCount(): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(LOG_FILE, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
  let count = 0;
  for await (const chunk of file.readable) {
    for (const b of chunk) if (b === 0x0a) count++;
  }
  return count;
}

function tailSize(payload: unknown): number {
  const n = typeof payload === "number"
    ? payload
    : (payload as { n?: unknown } | null | undefined)?.n ?? DEFAULT_TAIL;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_TAIL) {
    throw new RangeError(`tail: n must be a whole number from 1 to ${MAX_TAIL}, not ${String(n)}`);
  }
  return n;
}

export default definePlugin({
  actions: {
    tail: async (payload) => {
      const lines = await lastLines(tailSize(payload));
      return lines.map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return { unparsed: line };
        }
      });
    },
    count: () => lineCount(),
  },
  events: {
    "machine.*": (event) => record(event as MachineEvent),
  },
  hooks: {
    afterTransition: (data) =>
      record({ ...(data as Record<string, unknown>), type: "machine.transition" }),
  },
  async onLoad(ctx) {
    await Deno.mkdir(LOG_DIR, { recursive: true });
    ctx.log.debug(`appending to ${decodeURIComponent(LOG_FILE.pathname)}`);
  },
});
