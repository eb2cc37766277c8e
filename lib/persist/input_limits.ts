/**
 * What the runtime's front doors (REPL lines, HTTP bodies) accept from outside before it
 * reaches the store: JSON nested at most {@linkcode MAX_JSON_DEPTH} levels (the store's
 * serializers recurse, and overflow or fail on deeper values), an initial context of at most
 * {@linkcode MAX_CONTEXT_BYTES} as JSON (it is recorded in the journal's first entry, as an
 * event is), and names that become storage keys (instance ids, checkpoint labels) without
 * control characters or lone surrogates (a key is UTF-8, in which a lone surrogate becomes
 * U+FFFD: the name stored would not be the name given).
 *
 * Every check here is a loop, not a recursion, and runs in time linear in its input.
 *
 * @module
 */

const encoder = new TextEncoder();

/** The deepest nesting of objects and arrays accepted in a JSON value from outside. */
export const MAX_JSON_DEPTH = 100;

/** The largest initial context accepted, in bytes of JSON (as the store bounds an event). */
export const MAX_CONTEXT_BYTES = 60_000;

/**
 * The path to the first value nested deeper than `max` levels (the root object or array is
 * level 1), or null when none is. An explicit stack, never a recursion: any depth is safe.
 *
 * @example
 * ```ts
 * import { tooDeep } from "./input_limits.ts";
 * tooDeep({ a: { b: [1] } }, 2); // ["a", "b"]
 * tooDeep({ a: { b: [1] } }, 3); // null
 * ```
 */
export function tooDeep(value: unknown, max: number = MAX_JSON_DEPTH): (string | number)[] | null {
  if (typeof value !== "object" || value === null) return null;
  // Each entry: a container, its depth, and the key that led to it (from its parent entry).
  const stack: { value: object; depth: number; parent: number; key: string | number }[] = [];
  const chain: { parent: number; key: string | number }[] = [];
  stack.push({ value, depth: 1, parent: -1, key: "" });
  while (stack.length > 0) {
    const { value: node, depth, parent, key } = stack.pop()!;
    const here = chain.push({ parent, key }) - 1;
    if (depth > max) {
      const path: (string | number)[] = [];
      for (let i = here; i > 0; i = chain[i].parent) path.push(chain[i].key);
      return path.reverse();
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        const child = node[i];
        if (typeof child === "object" && child !== null) {
          stack.push({ value: child, depth: depth + 1, parent: here, key: i });
        }
      }
    } else {
      const keys = Object.keys(node);
      for (let i = keys.length - 1; i >= 0; i--) {
        const child = (node as Record<string, unknown>)[keys[i]];
        if (typeof child === "object" && child !== null) {
          stack.push({ value: child, depth: depth + 1, parent: here, key: keys[i] });
        }
      }
    }
  }
  return null;
}

/**
 * What is wrong with a name that becomes a storage key (an instance id, a checkpoint label),
 * or null: empty, longer than 256 characters, a control character, a lone surrogate.
 *
 * @example
 * ```ts
 * import { nameProblem } from "./input_limits.ts";
 * nameProblem("door-1"); // null
 * nameProblem("a\u0000b"); // "a control character (U+0000) at character 2"
 * ```
 */
export function nameProblem(name: string): string | null {
  if (name === "") return "no characters";
  if (name.length > 256) return `${name.length} characters; at most 256`;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      return `a control character (${codePoint(code)}) at character ${i + 1}`;
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      return `a lone surrogate (${codePoint(code)}) at character ${i + 1}`;
    }
  }
  return null;
}

/** The size of `value` as JSON, in UTF-8 bytes (what the store counts). */
export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value) ?? "").length;
}

/** The byte offset of the first byte that is not valid UTF-8, or -1 when all of it is. */
export function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf
      ? 1
      : b >= 0xe0 && b <= 0xef
      ? 2
      : b >= 0xf0 && b <= 0xf4
      ? 3
      : -1;
    if (n < 0 || i + n >= bytes.length) return i;
    // The second byte's range excludes overlong forms and surrogates (RFC 3629).
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k <= n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

function codePoint(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}
