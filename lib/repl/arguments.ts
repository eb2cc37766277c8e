/**
 * The REPL's command arguments: words, then JSON; what each command accepts and the error a
 * mistake gets (`error: <message>`, never a stack).
 *
 * @module
 */

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
    throw new ReplError(`usage: ${usage} (unexpected "${out[1]}")`);
  }
  return out;
}

/** Refuses words after a command that takes none (`ls foo`). */
export function noArguments(command: string, rest: string): void {
  if (rest.trim() !== "") {
    throw new ReplError(`usage: ${command} (it takes no arguments; unexpected "${rest.trim()}")`);
  }
}

/** `text` parsed as JSON; a `ReplError` naming `what` and the parser's complaint otherwise. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    // The shell's habit: '{"a":1}' is a quoted string there, not JSON here.
    const hint = /^'[\s\S]*'$/.test(text) ? "; no quotes around JSON in the REPL" : "";
    throw new ReplError(
      `the ${what} is not JSON: ${text} (${e instanceof Error ? e.message : String(e)}${hint})`,
    );
  }
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
      `the ${what} must be a JSON object like {"code":"1234"}, not ${kind}: ${text}`,
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
  if (/^['{["]/.test(id)) {
    return { machine, context: parseObject(`${id} ${json}`.trim(), "context") };
  }
  const context = json === "" ? undefined : parseObject(json, "context");
  return {
    machine,
    ...(id === "" ? {} : { id }),
    ...(context === undefined ? {} : { context }),
  };
}
