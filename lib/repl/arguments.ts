/**
 * The REPL's command arguments: words, then JSON; what each command accepts and the error a
 * mistake gets (`error: <message>`, never a stack).
 *
 * @module
 */
import {
  jsonBytes,
  MAX_CONTEXT_BYTES,
  MAX_JSON_DEPTH,
  nameProblem,
  tooDeep,
} from "../persist/input_limits.ts";

/** A mistake in a command line: printed as `error: <message>`, never with a stack. */
export class ReplError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "ReplError";
  }
}

/**
 * The first `count` words of `rest`, then the remainder (JSON) as one string; throws the
 * usage when fewer than `required` words are there.
 *
 * @example
 * ```ts
 * import { words } from "./arguments.ts";
 * words('front LOCK {"code":"1 2"}', 2, "send <id> <EVENT> [payload-json]");
 * // ["front", "LOCK", '{"code":"1 2"}']
 * ```
 */
export function words(rest: string, count: number, usage: string, required = count): string[] {
  const out: string[] = [];
  let remaining = rest.trim();
  for (let i = 0; i < count; i++) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(remaining);
    if (m === null) {
      out.push("");
      continue;
    }
    out.push(m[1]);
    remaining = m[2];
  }
  out.push(remaining.trim());
  if (out.slice(0, required).some((w) => w === "")) throw new ReplError(`usage: ${usage}`);
  if (count === required && count === 1 && out[1] !== "") {
    throw new ReplError(`usage: ${usage} (unexpected ${shown(out[1])})`);
  }
  return out;
}

/** Refuses words after a command that takes none (`ls foo`). */
export function noArguments(command: string, rest: string): void {
  if (rest.trim() !== "") {
    throw new ReplError(
      `usage: ${command} (it takes no arguments; unexpected ${shown(rest.trim())})`,
    );
  }
}

/**
 * `text` parsed as JSON; a `ReplError` naming `what` and the parser's complaint otherwise, or
 * where the value nests deeper than `MAX_JSON_DEPTH` levels.
 */
export function parseJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // The shell's habit: '{"a":1}' is a quoted string there, not JSON here.
    const hint = /^'[\s\S]*'$/.test(text) ? "; no quotes around JSON in the REPL" : "";
    const reason = e instanceof Error ? e.message : String(e);
    throw new ReplError(`the ${what} is not JSON: ${excerpt(text)} (${reason}${hint})`);
  }
  const path = tooDeep(value);
  if (path !== null) {
    throw new ReplError(
      `the ${what} nests deeper than ${MAX_JSON_DEPTH} levels (level ${path.length + 1} at ${
        pathText(path)
      })`,
    );
  }
  return value;
}

/**
 * `text` parsed as a JSON object (a context, an event payload); refuses arrays, strings,
 * numbers, booleans and null, which would be spread into the object key by key.
 */
export function parseObject(text: string, what: string): Record<string, unknown> {
  const value = parseJson(text, what);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new ReplError(
      `the ${what} must be a JSON object like {"code":"1234"}, not ${kind}: ${excerpt(text)}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * `spawn`'s arguments: the machine, the id (undefined: generated) and the context. A second
 * word that opens JSON (`spawn door {"code":"1"}`) is the context of an instance with a
 * generated id, not an id.
 *
 * @example
 * ```ts
 * import { spawnArguments } from "./arguments.ts";
 * spawnArguments('door front {"code":"1234"}');
 * // { machine: "door", id: "front", context: { code: "1234" } }
 * ```
 */
export function spawnArguments(
  rest: string,
): { machine: string; id?: string; context?: Record<string, unknown> } {
  const [machine, id, json] = words(rest, 2, "spawn <machine> [id] [context-json]", 1);
  if (/^['{["]/.test(id)) return { machine, context: contextOf(`${id} ${json}`.trim()) };
  if (id !== "") checkName(id, "spawn: the id");
  const context = json === "" ? undefined : contextOf(json);
  return {
    machine,
    ...(id === "" ? {} : { id }),
    ...(context === undefined ? {} : { context }),
  };
}

/** A context from JSON: an object, at most `MAX_CONTEXT_BYTES` as JSON. */
function contextOf(text: string): Record<string, unknown> {
  const context = parseObject(text, "context");
  const bytes = jsonBytes(context);
  if (bytes > MAX_CONTEXT_BYTES) {
    throw new ReplError(`the context is ${bytes} bytes as JSON; at most ${MAX_CONTEXT_BYTES}`);
  }
  return context;
}

/**
 * Refuses a name that becomes a storage key (an instance id, a checkpoint label) when it has
 * a control character or a lone surrogate, or is longer than 256 characters.
 */
export function checkName(name: string, what: string): void {
  const problem = nameProblem(name);
  if (problem !== null) throw new ReplError(`${what} ${shown(name)} has ${problem}`);
}

/**
 * What the user typed, quoted for an error message: JSON-escaped (a control character shows
 * as `\u0000`), cut to `max` characters with the count of the rest.
 *
 * @example
 * ```ts
 * import { shown } from "./arguments.ts";
 * shown("a\u0000b"); // "\"a\\u0000b\""
 * ```
 */
export function shown(text: string, max = 80): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const quoted = JSON.stringify(cut);
  return text.length > max ? `${quoted}... (${text.length - max} more characters)` : quoted;
}

/**
 * Text the user typed, as typed, for an error message: control characters and lone surrogates
 * escaped (`\u0000`), cut to `max` characters with the count of the rest.
 */
function excerpt(text: string, max = 200): string {
  const escaped = (text.length > max ? text.slice(0, max) : text).replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]|\p{Cs}/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > max ? `${escaped}... (${text.length - max} more characters)` : escaped;
}

function pathText(path: (string | number)[]): string {
  const parts = path.slice(0, 5).map((p) =>
    typeof p === "number" ? `[${p}]` : /^[\w$]{1,40}$/.test(p) ? `.${p}` : `[${shown(p, 20)}]`
  );
  return `(root)${parts.join("")}${path.length > 5 ? "..." : ""}`;
}
