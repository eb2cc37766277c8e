/**
 * The events `statecraft run` feeds a machine: from `--events A,wait:2s,B` or from a JSONL
 * file whose lines are event objects (`{"type":"X","n":1}`), event names (`"X"`) or waits
 * (`{"wait": 1000}`, `{"wait": "2s"}`).
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import { parseDuration } from "../core/duration.ts";
import { CliError } from "./cli_error.ts";

/** One step of an event script: send an event, or let time pass. */
export type ScriptStep =
  | {
    kind: "event";
    event: EventObject;
    /** Where it was written, for messages: `--events item 2` or `events.jsonl:3`. */
    origin: string;
  }
  | { kind: "wait"; ms: number; origin: string };

/**
 * Parses `--events`: comma-separated event names, and `wait:<duration>` tokens.
 * Throws a `CliError` naming the bad item.
 *
 * @example
 * ```ts
 * import { parseEventList } from "./event_script.ts";
 * const steps = parseEventList("OPEN,wait:2s,CLOSE");
 * // steps[1] is { kind: "wait", ms: 2000, origin: "--events item 2" }
 * ```
 */
export function parseEventList(list: string): ScriptStep[] {
  const items = list.split(",").map((s) => s.trim());
  if (items.length === 1 && items[0] === "") return [];
  return items.map((item, i): ScriptStep => {
    const origin = `--events item ${i + 1}`;
    if (item === "") {
      throw new CliError(`${origin} is empty: write event names separated by commas ("A,B,C")`);
    }
    if (item.startsWith("wait:")) {
      const ms = parseDuration(item.slice(5));
      if (ms === undefined) {
        throw new CliError(
          `${origin}: "${item}" is not a wait: write wait:<duration> (wait:500ms, wait:2s, wait:1m)`,
        );
      }
      return { kind: "wait", ms, origin };
    }
    return { kind: "event", event: { type: item }, origin };
  });
}

/**
 * Parses the text of a JSONL events file. Blank lines are skipped; a malformed line throws a
 * `CliError` naming the file and line number.
 *
 * @param text the file's content
 * @param file the file's name, for messages
 *
 * @example
 * ```ts
 * import { parseEventLines } from "./event_script.ts";
 * const steps = parseEventLines('"OPEN"\n{"wait": 1000}\n{"type": "CLOSE", "force": true}\n', "e.jsonl");
 * // steps[2] is { kind: "event", event: { type: "CLOSE", force: true }, origin: "e.jsonl:3" }
 * ```
 */
export function parseEventLines(text: string, file: string): ScriptStep[] {
  const steps: ScriptStep[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const origin = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new CliError(`${origin}: not valid JSON (${(e as Error).message})`);
    }
    steps.push(stepOf(value, origin));
  });
  return steps;
}

/** Reads and parses a JSONL events file; a missing file is a `CliError`. */
export async function readEventFile(file: string): Promise<ScriptStep[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`events file not found: ${file}`);
    throw new CliError(`cannot read events file ${file}: ${(e as Error).message}`);
  }
  return parseEventLines(text, file);
}

const SHAPES = `an event object {"type": "NAME", ...}, an event name "NAME", or {"wait": 1000}`;

function stepOf(value: unknown, origin: string): ScriptStep {
  if (typeof value === "string") {
    if (value === "") throw new CliError(`${origin}: an event name must not be empty`);
    return { kind: "event", event: { type: value }, origin };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError(`${origin}: expected ${SHAPES}, got ${JSON.stringify(value)}`);
  }
  const record = value as Record<string, unknown>;
  if ("wait" in record) {
    const ms = parseDuration(record.wait);
    if (ms === undefined || Object.keys(record).length !== 1) {
      throw new CliError(
        `${origin}: a wait is {"wait": <milliseconds or duration like "2s">} and nothing else`,
      );
    }
    return { kind: "wait", ms, origin };
  }
  if (typeof record.type !== "string" || record.type === "") {
    throw new CliError(`${origin}: expected ${SHAPES}; this object has no string "type"`);
  }
  return { kind: "event", event: record as EventObject, origin };
}
