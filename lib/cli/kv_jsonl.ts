/**
 * JSON lines for `kv export` and `kv import`: export records read one line at a time (a file
 * of any size is never held in memory) and checked enough to name the bad line, and lines
 * written through a buffer.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { ImportChecker } from "../persist/import_check.ts";
import { type ExportRecord, StoreError } from "../persist/store.ts";
import { CliError } from "./cli_error.ts";

/** Where a record came from, as the reader last yielded it. */
export interface ReadPosition {
  /** 1-based line of the last record yielded (0 before the first). */
  line: number;
  /** Bytes of the file read so far (for the progress bar). */
  bytesRead: number;
}

/**
 * Reads export records from a JSONL file, one per line (blank lines are skipped). A line that
 * is not JSON, or not an export record, throws a `CliError` naming `file:line`; nothing after
 * it is read. `position` is updated as lines are yielded.
 *
 * @example
 * ```ts ignore
 * import { readExportRecords } from "./kv_jsonl.ts";
 * const position = { line: 0, bytesRead: 0 };
 * for await (const record of readExportRecords("backup.jsonl", position)) {
 *   console.log(position.line, record.type);
 * }
 * ```
 */
export async function* readExportRecords(
  file: string,
  position: ReadPosition,
): AsyncGenerator<ExportRecord> {
  const stream = createReadStream(file);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      position.bytesRead = stream.bytesRead;
      if (text.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new CliError(`${file}:${n}: not valid JSON: ${(e as Error).message}`);
      }
      const problem = recordProblem(value);
      if (problem !== null) throw new CliError(`${file}:${n}: not an export record: ${problem}`);
      position.line = n;
      yield value as ExportRecord;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

/**
 * Reads a whole export file once, importing nothing, and throws a `CliError` naming
 * `file:line` at the first line `kv import` would stop at: not JSON, not an export record, a
 * record `ImportChecker` refuses (a snapshot that would not load, a bad time, a journal or
 * checkpoint record away from its instance record, an instance twice, an unknown format, a
 * machine the store was not opened with), or an instance the store already has. Checking
 * first means a bad line leaves the store untouched.
 *
 * @param checker the import's checker (it knows the machines the store can take)
 * @param exists whether the store already has an instance with this id
 * @param onProgress called per record with the fraction of the file read and records so far
 * @returns how many records the file holds
 */
export async function checkExportFile(
  file: string,
  checker: ImportChecker,
  exists: (id: string) => Promise<boolean>,
  size: number,
  onProgress?: (fraction: number, records: number) => void,
): Promise<number> {
  const position: ReadPosition = { line: 0, bytesRead: 0 };
  let records = 0;
  for await (const r of readExportRecords(file, position)) {
    const at = `${file}:${position.line}`;
    try {
      checker.check(r);
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      const hint = /which is not registered$/.test(e.message)
        ? ": pass its script with --machines"
        : "";
      throw new CliError(`${at}: ${e.message}${hint}`);
    }
    if (r.type === "instance" && await exists(r.id)) {
      throw new CliError(`${at}: instance "${r.id}" already exists in this store`);
    }
    records++;
    onProgress?.(size === 0 ? 1 : position.bytesRead / size, records);
  }
  return records;
}

/** What makes a parsed line unusable as an export record, or null when it will do. */
function recordProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "expected a JSON object";
  }
  const r = value as Record<string, unknown>;
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (typeof r.id !== "string") return `"id" must be a string`;
  switch (r.type) {
    case "instance":
      if (typeof r.machine !== "string") return `"machine" must be a string`;
      if (typeof r.seq !== "number") return `"seq" must be a number`;
      if (!isObject(r.snapshot)) return `"snapshot" must be an object`;
      return null;
    case "journal":
      if (!isObject(r.entry)) return `"entry" must be an object`;
      if (typeof (r.entry as { seq?: unknown }).seq !== "number") {
        return `"entry.seq" must be a number`;
      }
      return null;
    case "checkpoint":
      if (typeof r.seq !== "number") return `"seq" must be a number`;
      if (!isObject(r.snapshot)) return `"snapshot" must be an object`;
      return null;
    default:
      return `"type" must be "instance", "journal" or "checkpoint", not ${
        JSON.stringify(r.type) ?? "missing"
      }`;
  }
}

/** Something bytes can be written to: `Deno.stdout`, a `Deno.FsFile`. */
export interface ByteSink {
  /** Writes some of the bytes; resolves with how many. */
  write(p: Uint8Array): Promise<number>;
}

/** Writes lines through a 64 KiB buffer. */
export class LineWriter {
  readonly #sink: ByteSink;
  readonly #encoder = new TextEncoder();
  #parts: string[] = [];
  #size = 0;

  /**
   * Makes a writer.
   *
   * @param sink where the bytes go
   */
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  /** Adds a line (a newline is appended); writes when the buffer is full. */
  async line(text: string): Promise<void> {
    this.#parts.push(text, "\n");
    this.#size += text.length + 1;
    if (this.#size >= 65_536) await this.flush();
  }

  /** Writes whatever is buffered. */
  async flush(): Promise<void> {
    if (this.#parts.length === 0) return;
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    let written = 0;
    while (written < bytes.length) written += await this.#sink.write(bytes.subarray(written));
  }
}
