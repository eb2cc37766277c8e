/**
 * Evaluation of the REPL's code lines: JavaScript with top-level `await`, in a scope that
 * holds `runtime`, a handle per instance and the session's own variables; TypeScript when
 * the line is not JavaScript.
 *
 * A line runs in an async function, inside `with (scope)`: names the scope knows (bindings,
 * variables) resolve there, globals (`console`, `Deno`, `JSON`) resolve as usual, and any
 * other name is a `ReferenceError` on read and a new session variable on write. Top-level
 * `const`/`let`/`var`, `function` and `class` declarations become assignments, so they
 * outlive the line. The value of an expression line is returned (and awaited when it is a
 * promise).
 *
 * TypeScript: a line that does not parse as JavaScript has its types stripped by the
 * runtime's own stripper (`stripTypeScriptTypes` of `node:module`, which Deno implements
 * with its built-in TypeScript parser: nothing to download, no permission), then runs as
 * JavaScript. Type annotations, `as`, `satisfies`, generics, interfaces and type aliases are
 * erased; enums and namespaces are transformed. Types are not checked. The stripper's parser
 * recurses in native code, where running out of stack aborts the process: only lines of at
 * most {@linkcode STRIP_MAX_CHARS} characters, nesting brackets at most
 * {@linkcode STRIP_MAX_NESTING} deep, go through it; longer ones run as JavaScript only.
 * JavaScript's own parser reports a line nested too deeply as a `SyntaxError`.
 *
 * @module
 */

/** What a line produced. */
export interface Evaluation {
  /** The value of an expression line (awaited). */
  value: unknown;
  /** False for statement lines (declarations, loops...): nothing to print. */
  hasValue: boolean;
  /** Whether types were stripped. */
  typescript: boolean;
}

// deno-lint-ignore no-explicit-any
type AsyncFn = (scope: object) => Promise<any>;
const AsyncFunction = (async function () {}).constructor as new (
  param: string,
  body: string,
) => AsyncFn;

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** The longest line the TypeScript stripper is given (its parser recurses natively). */
export const STRIP_MAX_CHARS = 1_000;

/** The deepest bracket nesting the TypeScript stripper is given. */
export const STRIP_MAX_NESTING = 64;

/** Words that cannot be bindings in the scope (reserved words, `runtime` excepted). */
const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if import in instanceof new null return super switch this " +
    "throw true try typeof var void while with yield let static implements interface package " +
    "private protected public await async of undefined NaN Infinity eval arguments").split(" "),
);

/**
 * Whether a string can name a binding in code lines: an identifier, not a reserved word,
 * not a global (`Deno`, `console`).
 */
export function isBindableName(name: string): boolean {
  return IDENT.test(name) && !RESERVED.has(name) && !(name in globalThis);
}

/**
 * Evaluates code lines against bindings supplied on each line (`runtime`, instance handles)
 * and variables kept across lines.
 *
 * @example
 * ```ts
 * import { Evaluator } from "./evaluate.ts";
 * const ev = new Evaluator(() => new Map([["answer", 42]]));
 * await ev.evaluate("const x: number = answer + 1");
 * const { value } = await ev.evaluate("x * 2");
 * // value is 86
 * ```
 */
export class Evaluator {
  /** Variables the lines declared or assigned (and `_`, the last value). */
  readonly vars: Map<string, unknown> = new Map();
  readonly #bindings: () => Map<string, unknown>;

  /** `bindings` is called for each line: names it returns are readable, not assignable. */
  constructor(bindings: () => Map<string, unknown>) {
    this.#bindings = bindings;
  }

  /** Runs one line; throws what it throws (a `SyntaxError` when neither JS nor TS). */
  async evaluate(code: string): Promise<Evaluation> {
    let source = code;
    let typescript = false;
    if (compileError(statements(source)) !== null) {
      const stripped = await stripTypes(source);
      if (stripped !== null && compileError(statements(stripped)) === null) {
        source = stripped;
        typescript = true;
      }
    }
    const { code: rewritten, declared } = hoistDeclarations(source);
    for (const name of declared) if (!this.vars.has(name)) this.vars.set(name, undefined);
    // A declaration alone prints nothing; `let x = 1; x + 1` prints its last expression.
    const last = lastExpression(rewritten);
    let hasValue = declared.length === 0 || last !== null;
    let fn: AsyncFn;
    try {
      if (declared.length > 0 && last !== null) throw new SyntaxError("declaration first");
      fn = compile(expression(rewritten));
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      if (last !== null && compileError(last) === null) fn = compile(last);
      else {
        hasValue = false;
        fn = await compileOrExplain(statements(rewritten), code);
      }
    }
    const value = await fn(this.#scope(this.#bindings()));
    if (hasValue) this.vars.set("_", value);
    return { value, hasValue, typescript };
  }

  #scope(bindings: Map<string, unknown>): object {
    const vars = this.vars;
    return new Proxy({}, {
      has: (_t, key) =>
        typeof key === "string" &&
        (vars.has(key) || bindings.has(key) || (!(key in globalThis) && key !== "__scope")),
      get: (_t, key) => {
        if (typeof key !== "string") return undefined;
        if (vars.has(key)) return vars.get(key);
        if (bindings.has(key)) return bindings.get(key);
        throw new ReferenceError(`${key} is not defined`);
      },
      set: (_t, key, value) => {
        if (typeof key !== "string") return false;
        if (bindings.has(key) && !vars.has(key)) {
          throw new TypeError(
            `"${key}" is an instance handle or the runtime: it cannot be assigned`,
          );
        }
        vars.set(key, value);
        return true;
      },
      deleteProperty: (_t, key) => typeof key === "string" && vars.delete(key),
    });
  }
}

function expression(code: string): string {
  return `with (__scope) { return (\n${code.replace(/;\s*$/, "")}\n); }`;
}

function statements(code: string): string {
  return `with (__scope) {\n${code}\n}`;
}

/**
 * `body` compiled; a `SyntaxError` when it does not parse, or nests too deeply for the parser
 * (which then runs out of stack: a `RangeError`, said here in the user's terms).
 */
function compile(body: string): AsyncFn {
  try {
    return new AsyncFunction("__scope", body);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new SyntaxError("the line nests too deeply for JavaScript's parser");
    }
    throw e;
  }
}

function compileError(body: string): SyntaxError | null {
  try {
    compile(body);
    return null;
  } catch (e) {
    if (e instanceof SyntaxError) return e;
    throw e;
  }
}

/** `a; b; c` as `with (__scope) { a; b; return (c); }`, or null when there is one statement. */
function lastExpression(code: string): string | null {
  const trimmed = code.trimEnd().replace(/;$/, "");
  const cut = trimmed.lastIndexOf(";");
  if (cut < 0) return null;
  const tail = trimmed.slice(cut + 1);
  if (tail.trim() === "") return null;
  return `with (__scope) {\n${trimmed.slice(0, cut + 1)}\nreturn (\n${tail}\n);\n}`;
}

/**
 * Top-level declarations made assignments, so that they land in the session's variables;
 * returns the names declared (to define before the line runs: `let x;`, enums).
 */
function hoistDeclarations(code: string): { code: string; declared: string[] } {
  const declared: string[] = [];
  const destructure = /^\s*(?:const|let|var)\s+([{[][\s\S]*?);?\s*$/.exec(code);
  if (destructure !== null) {
    for (const m of destructure[1].split("=")[0].matchAll(/[A-Za-z_$][\w$]*/g)) declared.push(m[0]);
    return { code: `(${destructure[1]})`, declared };
  }
  const fn = /^\s*((?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)|class\s+([A-Za-z_$][\w$]*))/
    .exec(code);
  if (fn !== null) {
    const name = fn[2] ?? fn[3];
    const end = code.trimEnd();
    return { code: `${name} = ${end.endsWith(";") ? end.slice(0, -1) : end}`, declared: [name] };
  }
  const re = /(^|[;\n])(\s*)(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g;
  for (const m of code.matchAll(re)) declared.push(m[3]);
  return { code: code.replace(re, "$1$2$3"), declared };
}

/**
 * Compiles `body`, or throws a `SyntaxError` about `typed`, the line as the user typed it:
 * V8's own message names the wrapper's tokens (`Unexpected token '}'` for `1 +`), so the
 * message and column come from parsing the typed line by itself.
 */
async function compileOrExplain(body: string, typed: string): Promise<AsyncFn> {
  try {
    return compile(body);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    if (!strippable(typed)) {
      throw new SyntaxError(
        `${e.message} (read as JavaScript only: TypeScript is taken from lines of at most ` +
          `${STRIP_MAX_CHARS} characters, brackets nested at most ${STRIP_MAX_NESTING} deep)`,
      );
    }
    throw await explainSyntaxError(typed) ?? e;
  }
}

/**
 * The first syntax error in `code` as `<message> at column <n>` (`at line <l>, column <n>`
 * when the code has several lines), with the line and a caret under the column; null when
 * the parser finds none.
 */
export async function explainSyntaxError(code: string): Promise<SyntaxError | null> {
  await stripTypes("");
  if (stripper === null || stripper === undefined || !strippable(code)) return null;
  try {
    stripper(code, { mode: "transform" });
    return null;
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    const at = /:(\d+):(\d+)\s*$/.exec(text.trimEnd());
    const message = text.split("\n")[0].replace(/^SyntaxError:\s*/, "").trim();
    if (at === null) return new SyntaxError(message);
    const line = Number(at[1]);
    const column = Number(at[2]);
    const lines = code.split("\n");
    const where = lines.length === 1 ? `column ${column}` : `line ${line}, column ${column}`;
    // A long line is shown around the column, at most 100 characters of it.
    const full = lines[line - 1] ?? "";
    const from = Math.max(0, Math.min(column - 50, full.length - 100));
    const head = from > 0 ? "..." : "";
    const shown = head + full.slice(from, from + 100) + (from + 100 < full.length ? "..." : "");
    const caret = " ".repeat(Math.max(0, column - 1 - from + head.length));
    return new SyntaxError(`${message} at ${where}\n  ${shown}\n  ${caret}^`);
  }
}

type Stripper = (code: string, options?: { mode?: "strip" | "transform" }) => string;
let stripper: Stripper | null | undefined;

/** Types stripped by the runtime's own stripper (loaded on first use), or null. */
async function stripTypes(code: string): Promise<string | null> {
  if (stripper === undefined) {
    try {
      const mod = await import("node:module") as unknown as { stripTypeScriptTypes?: Stripper };
      stripper = mod.stripTypeScriptTypes ?? null;
    } catch {
      stripper = null;
    }
  }
  if (stripper === null || !strippable(code)) return null;
  try {
    return stripper(code, { mode: "transform" });
  } catch {
    try {
      return stripper(code);
    } catch {
      return null;
    }
  }
}

/**
 * Whether `code` is small enough for the stripper: at most `STRIP_MAX_CHARS` characters and
 * brackets nested at most `STRIP_MAX_NESTING` deep (counted over the raw text, strings
 * included: an overcount only sends a line to JavaScript alone).
 */
function strippable(code: string): boolean {
  if (code.length > STRIP_MAX_CHARS) return false;
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    // ( [ { <   and   ) ] } >
    if (c === 40 || c === 91 || c === 123 || c === 60) {
      if (++depth > STRIP_MAX_NESTING) return false;
    } else if ((c === 41 || c === 93 || c === 125 || c === 62) && depth > 0) depth--;
  }
  return true;
}
