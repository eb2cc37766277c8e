/**
 * Finds where in a machine script a config path (`["states", "open", "on", "CLOSE", "target"]`)
 * was written, so that a definition problem can be reported as `file.ts:12:3`.
 *
 * A heuristic, not a parser: it walks object and array literals key by key with a small
 * scanner that knows strings, template literals and comments. Where a value is not a literal
 * (a variable, a call), it looks for `const name = {` in the same file, and failing that falls
 * back to searching the remaining state and event keys in order, each search starting after
 * the previous match. The answer is the position of the deepest segment found.
 *
 * @module
 */

/** A 1-based line and column in a source text. */
export interface SourcePosition {
  /** 1-based line. */
  line: number;
  /** 1-based column (UTF-16 code units). */
  col: number;
}

/**
 * The position in `source` of the deepest segment of `path` that can be found, or `undefined`
 * when not even the machine's definition can be found.
 *
 * @param source the script's text
 * @param path a `DefinitionProblem` path: keys from the machine config's root
 * @param machineId the machine's id, to find its definition among several in one file
 *
 * @example
 * ```ts
 * import { locateConfigPath } from "./source_location.ts";
 * const source = `defineMachine({\n  id: "door",\n  states: {\n    open: { on: { CLOSE: "nope" } },\n  },\n});`;
 * const at = locateConfigPath(source, ["states", "open", "on", "CLOSE", "target"], "door");
 * // at is { line: 4, col: 19 }
 * ```
 */
export function locateConfigPath(
  source: string,
  path: readonly string[],
  machineId?: string,
): SourcePosition | undefined {
  const root = findMachineRoot(source, machineId);
  if (root === undefined) return undefined;
  const offset = walk(source, root, path);
  return offset === undefined ? undefined : toPosition(source, offset);
}

/** Turns a 0-based offset into a 1-based line and column. */
export function toPosition(source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

// ---------------------------------------------------------------------------------------------
// Finding the machine's config object

/** The offset of the `{` opening the machine's config, or undefined. */
function findMachineRoot(source: string, machineId: string | undefined): number | undefined {
  if (machineId !== undefined && machineId !== "") {
    const idPattern = new RegExp(
      String.raw`(^|[\s{,])(["']?)id\2\s*:\s*(["'\`])${escapeRegExp(machineId)}\3`,
      "g",
    );
    for (const m of source.matchAll(idPattern)) {
      const at = m.index + m[1].length;
      if (isCode(source, at)) {
        const open = enclosingBrace(source, at);
        if (open !== undefined) return open;
      }
    }
  }
  // No id (or not found): the first defineMachine(...) call's argument.
  for (const m of source.matchAll(/\bdefineMachine\s*(?:<[^>()]*>\s*)?\(\s*/g)) {
    const at = m.index + m[0].length;
    if (!isCode(source, m.index)) continue;
    const value = resolveValue(source, at);
    if (value !== undefined && source[value] === "{") return value;
  }
  return undefined;
}

/** The `{` whose object contains `offset` directly or deeper, found by scanning from the start. */
function enclosingBrace(source: string, offset: number): number | undefined {
  const stack: number[] = [];
  let i = 0;
  while (i < offset) {
    const skip = skipNonCode(source, i);
    if (skip !== i) {
      i = skip;
      continue;
    }
    const c = source[i];
    if (c === "{" || c === "[" || c === "(") stack.push(i);
    else if (c === "}" || c === "]" || c === ")") stack.pop();
    i++;
  }
  for (let k = stack.length - 1; k >= 0; k--) if (source[stack[k]] === "{") return stack[k];
  return undefined;
}

/** Whether `offset` is in code (not inside a string or comment). */
function isCode(source: string, offset: number): boolean {
  let i = 0;
  while (i < offset) {
    const skip = skipNonCode(source, i);
    if (skip !== i) {
      if (skip > offset) return false;
      i = skip;
      continue;
    }
    i++;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Walking a path through object and array literals

/** Keys under which the next segment names a state, an event, a delay or a named function. */
const NAMING_KEYS = new Set(["states", "on", "after", "guards", "actions", "events"]);

function walk(source: string, root: number, path: readonly string[]): number | undefined {
  let container: number | undefined = root;
  let best: number = root;
  for (let k = 0; k < path.length; k++) {
    const segment = path[k];
    if (container === undefined) {
      // The value is not a literal we can enter: search the remaining naming segments.
      return searchOnward(source, best, path, k);
    }
    if (source[container] === "[") {
      if (!/^\d+$/.test(segment)) return best;
      const element = arrayElement(source, container, Number(segment));
      if (element === undefined) return best;
      best = element;
      container = resolveValue(source, element);
      continue;
    }
    if (/^\d+$/.test(segment) && findKey(source, container, segment) === undefined) {
      // A single transition reported with an index: it is not in an array here.
      continue;
    }
    const found = findKey(source, container, segment);
    if (found === undefined) return best;
    best = found.key;
    container = resolveValue(source, found.value);
  }
  return best;
}

/** The brief's fallback: search each later naming segment in order, after the last match. */
function searchOnward(
  source: string,
  from: number,
  path: readonly string[],
  start: number,
): number {
  let best = from;
  let cursor = from;
  for (let k = start; k < path.length; k++) {
    if (k === 0 || !NAMING_KEYS.has(path[k - 1])) continue;
    const pattern = new RegExp(
      String.raw`(^|[\s{,])((["'\`]?)${escapeRegExp(path[k])}\3\s*:)`,
      "g",
    );
    pattern.lastIndex = cursor;
    let m: RegExpExecArray | null;
    let found: number | undefined;
    while ((m = pattern.exec(source)) !== null) {
      const at = m.index + m[1].length;
      if (isCode(source, at)) {
        found = at;
        break;
      }
    }
    if (found === undefined) break;
    best = found;
    cursor = found + 1;
  }
  return best;
}

/**
 * Where the value starting at `offset` is an object or array literal, its opening bracket;
 * where it is a plain identifier declared as `const name = {...}` in the same file, that
 * literal's bracket; otherwise undefined.
 */
function resolveValue(source: string, offset: number): number | undefined {
  const at = skipSpace(source, offset);
  const c = source[at];
  if (c === "{" || c === "[") return at;
  const ident = /^[A-Za-z_$][\w$]*/.exec(source.slice(at, at + 200));
  if (ident === null) return undefined;
  const after = skipSpace(source, at + ident[0].length);
  if (!/^[,}\])]/.test(source[after] ?? "")) return undefined;
  const decl = new RegExp(
    String.raw`\b(?:const|let|var)\s+${escapeRegExp(ident[0])}\b[^=;]*=\s*`,
    "g",
  );
  for (const m of source.matchAll(decl)) {
    const value = skipSpace(source, m.index + m[0].length);
    if ((source[value] === "{" || source[value] === "[") && isCode(source, m.index)) return value;
  }
  return undefined;
}

/** Finds `key` among the direct properties of the object literal opening at `open`. */
function findKey(
  source: string,
  open: number,
  key: string,
): { key: number; value: number } | undefined {
  let i = open + 1;
  let expectKey = true;
  let depth = 0;
  while (i < source.length) {
    const skip = skipNonCode(source, i);
    if (skip !== i && !(depth === 0 && expectKey && isQuote(source[i]))) {
      i = skip;
      continue;
    }
    const c = source[i];
    if (depth === 0) {
      if (c === "}") return undefined;
      if (c === ",") {
        expectKey = true;
        i++;
        continue;
      }
      if (expectKey && !/\s/.test(c)) {
        expectKey = false;
        const parsed = readKey(source, i);
        if (parsed !== undefined) {
          const colon = skipSpace(source, parsed.end);
          if (source[colon] === ":" && parsed.name === key) return { key: i, value: colon + 1 };
          i = parsed.end;
          continue;
        }
      }
    }
    if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth--;
    i++;
  }
  return undefined;
}

/** The start of element `n` of the array literal opening at `open`. */
function arrayElement(source: string, open: number, n: number): number | undefined {
  let i = open + 1;
  let depth = 0;
  let index = 0;
  let elementStart: number | undefined = undefined;
  while (i < source.length) {
    const skip = skipNonCode(source, i);
    if (skip !== i) {
      if (depth === 0 && elementStart === undefined && isQuote(source[i])) elementStart = i;
      i = skip;
      continue;
    }
    const c = source[i];
    if (depth === 0) {
      if (c === "]") return index === n ? elementStart : undefined;
      if (c === ",") {
        if (index === n) return elementStart;
        index++;
        elementStart = undefined;
        i++;
        continue;
      }
      if (elementStart === undefined && !/\s/.test(c)) elementStart = i;
    }
    if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth--;
    i++;
  }
  return undefined;
}

/** Reads a property key (identifier, number or quoted string) at `at`. */
function readKey(source: string, at: number): { name: string; end: number } | undefined {
  const c = source[at];
  if (c === '"' || c === "'") {
    const end = skipNonCode(source, at);
    const raw = source.slice(at + 1, end - 1);
    return { name: raw.replace(/\\(.)/g, "$1"), end };
  }
  const m = /^(?:[A-Za-z_$][\w$]*|\d+(?:\.\d+)?)/.exec(source.slice(at, at + 200));
  if (m === null) return undefined;
  return { name: m[0], end: at + m[0].length };
}

// ---------------------------------------------------------------------------------------------
// Scanning helpers

function isQuote(c: string | undefined): boolean {
  return c === '"' || c === "'" || c === "`";
}

function skipSpace(source: string, i: number): number {
  for (;;) {
    while (i < source.length && /\s/.test(source[i])) i++;
    const skip = source[i] === "/" ? skipNonCode(source, i) : i;
    if (skip === i) return i;
    i = skip;
  }
}

/**
 * If a string, template literal or comment starts at `i`, the offset just after it;
 * otherwise `i`. Template literal substitutions are skipped with their braces balanced.
 */
function skipNonCode(source: string, i: number): number {
  const c = source[i];
  if (c === '"' || c === "'") {
    let j = i + 1;
    while (j < source.length && source[j] !== c && source[j] !== "\n") {
      j += source[j] === "\\" ? 2 : 1;
    }
    return Math.min(j + 1, source.length);
  }
  if (c === "`") {
    let j = i + 1;
    while (j < source.length && source[j] !== "`") {
      if (source[j] === "\\") j += 2;
      else if (source[j] === "$" && source[j + 1] === "{") {
        let depth = 1;
        j += 2;
        while (j < source.length && depth > 0) {
          const skip = skipNonCode(source, j);
          if (skip !== j) {
            j = skip;
            continue;
          }
          if (source[j] === "{") depth++;
          else if (source[j] === "}") depth--;
          j++;
        }
      } else j++;
    }
    return Math.min(j + 1, source.length);
  }
  if (c === "/" && source[i + 1] === "/") {
    const end = source.indexOf("\n", i);
    return end < 0 ? source.length : end;
  }
  if (c === "/" && source[i + 1] === "*") {
    const end = source.indexOf("*/", i + 2);
    return end < 0 ? source.length : end + 2;
  }
  return i;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
