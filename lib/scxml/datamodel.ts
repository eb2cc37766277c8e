/**
 * The ECMAScript data model of an SCXML session: expressions, scripts and assignments
 * evaluated against the session's variables and nothing else that the evaluator can help.
 *
 * How it is scoped: each expression is compiled once with `new Function` into
 * `with (scope) { return (expr) }`, where `scope` is a Proxy whose `has` answers true for
 * every name. Every free identifier therefore resolves through the proxy: data model
 * variables, the read-only system variables (`_event`, `_sessionid`, `_name`,
 * `_ioprocessors`), `In()`, and a short list of ECMAScript built-ins (`Math`, `JSON`,
 * `Date`...). Any other name — `Deno`, `globalThis`, `fetch`, `eval`, `Function` — is a
 * `ReferenceError`, and an assignment to an undeclared name creates a data model variable,
 * never a global. This keeps honest documents away from the host's globals.
 *
 * What it cannot do: code evaluated in the same realm can still climb out through the
 * prototype chain of any value (`[].constructor.constructor("return Deno")()`), or a sloppy
 * function's `this`. Same-realm evaluation is not a security boundary. Untrusted documents
 * must run in a permission-less Worker (`statecraft run doc.scxml` does so unless `--trusted`):
 * there, a script that escapes the scope finds a global with no permissions.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import { type ScxmlEvent, toScxmlEvent } from "./event.ts";
import { compileSimple, type SimpleExpression } from "./expression.ts";
import { setOwn } from "./own.ts";

/** The SCXML event I/O processor's type URI. */
export const SCXML_IO = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor";
/** The Basic HTTP event I/O processor's type URI. */
export const BASIC_HTTP_IO = "http://www.w3.org/TR/scxml/#BasicHTTPEventProcessor";

/** Built-ins a document may use. Everything else on the host's global object is hidden. */
const BUILTINS = new Set([
  "undefined",
  "NaN",
  "Infinity",
  "Math",
  "JSON",
  "Date",
  "Array",
  "Object",
  "String",
  "Number",
  "Boolean",
  "RegExp",
  "Error",
  "TypeError",
  "RangeError",
  "SyntaxError",
  "ReferenceError",
  "Map",
  "Set",
  "parseInt",
  "parseFloat",
  "isNaN",
  "isFinite",
  "encodeURIComponent",
  "decodeURIComponent",
  "encodeURI",
  "decodeURI",
  "console",
]);

const SYSTEM = new Set(["_event", "_sessionid", "_name", "_ioprocessors", "_x"]);
/** The compiled functions' own parameter names: never routed through the scope. */
const PARAM_SCOPE = "$$scxmlScope";
const PARAM_VALUE = "$$scxmlValue";

type Compiled = (scope: object, value?: unknown) => unknown;
const expressionCache = new Map<string, Compiled>();
const scriptCache = new Map<string, Compiled>();
const assignCache = new Map<string, Compiled>();
/** Expressions on the fast path (null: not simple, use `with`). */
const simpleCache = new Map<string, SimpleExpression | null>();
/** The variable a location starts with (`a` of `a.b[0]`), "" for none. */
const locationRoots = new Map<string, string>();

function compile(cache: Map<string, Compiled>, key: string, body: string): Compiled {
  let fn = cache.get(key);
  if (fn === undefined) {
    fn = new Function(PARAM_SCOPE, PARAM_VALUE, body) as Compiled;
    if (cache.size < 10_000) cache.set(key, fn);
  }
  return fn;
}

/** Checks that an expression compiles; returns the syntax error message, if any. */
export function expressionProblem(expr: string): string | undefined {
  try {
    compileExpression(expr);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function compileExpression(expr: string): Compiled {
  const fn = expressionCache.get(expr);
  if (fn !== undefined) return fn;
  // A trailing semicolon is common in documents (`expr="new Foo();"`): it ends no statement.
  const body = expr.replace(/[;\s]+$/, "");
  return compile(expressionCache, expr, `with (${PARAM_SCOPE}) { return (${body}\n); }`);
}

/** A legal ECMAScript variable name (for `<foreach item>`, `<data id>`). */
export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][\w$]*$/.test(name) && !RESERVED.has(name);
}

const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else export extends " +
    "false finally for function if import in instanceof new null return super switch this " +
    "throw true try typeof var void while with yield let static enum await implements " +
    "package protected interface private public").split(" "),
);

/**
 * One session's data model. `data` is the instance's context: the document's variables live
 * there, so snapshots carry them.
 */
export class DataModel {
  /** The variables (the engine instance's context). */
  readonly data: Record<string, unknown>;
  readonly sessionid: string;
  readonly name: string | undefined;
  readonly ioprocessors: Record<string, { location: string }>;
  /** The engine's event being processed; made into `_event` only when an expression reads it. */
  #source: EventObject | null = null;
  #event: ScxmlEvent | undefined = undefined;
  #converted = true;
  /** `In(stateId)`. */
  inState: (id: string) => boolean = () => false;
  readonly #scope: object;
  readonly #lookup: (name: string) => unknown;

  constructor(
    data: Record<string, unknown>,
    sessionid: string,
    name: string | undefined,
    ioprocessors: Record<string, { location: string }>,
  ) {
    this.data = data;
    this.sessionid = sessionid;
    this.name = name;
    this.ioprocessors = ioprocessors;
    const sys: Record<string, () => unknown> = {
      _event: () => this.event,
      _sessionid: () => this.sessionid,
      _name: () => this.name,
      _ioprocessors: () => this.ioprocessors,
    };
    const inFn = (id: unknown) => this.inState(String(id));
    // How a free name resolves, on both paths: a variable, a system variable, In(), a
    // built-in; anything else is a ReferenceError.
    this.#lookup = (key: string) => {
      if (Object.hasOwn(this.data, key)) return this.data[key];
      if (Object.hasOwn(sys, key)) return sys[key]();
      if (key === "In") return inFn;
      if (BUILTINS.has(key)) return (globalThis as Record<string, unknown>)[key];
      throw new ReferenceError(`${key} is not defined`);
    };
    this.#scope = new Proxy(Object.create(null), {
      has: (_t, key) => key !== PARAM_SCOPE && key !== PARAM_VALUE,
      get: (_t, key) => {
        if (typeof key !== "string") return undefined; // Symbol.unscopables and friends
        return this.#lookup(key);
      },
      set: (_t, key, value) => {
        if (typeof key !== "string") return false;
        if (SYSTEM.has(key)) throw new TypeError(`${key} is a read-only system variable`);
        setOwn(this.data, key, value);
        return true;
      },
      deleteProperty: (_t, key) => {
        if (typeof key === "string" && !SYSTEM.has(key)) delete this.data[key];
        return true;
      },
    });
  }

  /** The event being processed, as `_event` (undefined before the first event). */
  get event(): ScxmlEvent | undefined {
    if (!this.#converted) {
      this.#event = toScxmlEvent(this.#source!);
      this.#converted = true;
    }
    return this.#event;
  }

  /** Sets the event being processed (converted to `_event` when first read). */
  setEvent(event: EventObject): void {
    if (this.#source === event) return;
    this.#source = event;
    this.#converted = false;
  }

  /** Evaluates an expression; throws what it throws (the caller raises `error.execution`). */
  eval(expr: string): unknown {
    let simple = simpleCache.get(expr);
    if (simple === undefined) {
      simple = compileSimple(expr) ?? null;
      if (simpleCache.size < 10_000) simpleCache.set(expr, simple);
    }
    return simple !== null ? simple(this.#lookup) : compileExpression(expr)(this.#scope);
  }

  /** Evaluates a condition: its truthiness. */
  cond(expr: string): boolean {
    return Boolean(this.eval(expr));
  }

  /** Runs a script. */
  exec(script: string): void {
    // Top-level `function f` and `var v` declarations belong to the data model, as they would
    // to the global scope: they are read back after the `with` block (where the function's
    // own bindings, not the scope, are in view).
    const fns = [...script.matchAll(/^\s*function\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
    const vars = [...script.matchAll(/^\s*var\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
    const names = [...new Set([...fns, ...vars])].filter(isIdentifier);
    const ret = names.length === 0
      ? ""
      : `return { ${names.map((n) => `${n}: typeof ${n} === "undefined" ? undefined : ${n}`)} };`;
    const out = compile(
      scriptCache,
      script,
      `with (${PARAM_SCOPE}) { ${script}\n}\n${ret}`,
    )(this.#scope) as Record<string, unknown> | undefined;
    if (out === undefined) return;
    for (const n of fns) this.declare(n, out[n]);
    for (const n of vars) if (!Object.hasOwn(this.data, n)) this.declare(n, out[n]);
  }

  /** Whether a location names a declared variable (or a property path from one). */
  isDeclared(location: string): boolean {
    let root = locationRoots.get(location);
    if (root === undefined) {
      root = /^\s*([A-Za-z_$][\w$]*)/.exec(location)?.[1] ?? "";
      if (locationRoots.size < 10_000) locationRoots.set(location, root);
    }
    return root !== "" && (Object.hasOwn(this.data, root) || SYSTEM.has(root));
  }

  /** `<assign location=... expr=...>`: the location must exist (SCXML 5.4). */
  assign(location: string, value: unknown): void {
    if (!this.isDeclared(location)) {
      throw new ReferenceError(`cannot assign to "${location}": it is not a declared variable`);
    }
    // A declared plain variable (not a system one, which `declare` never puts in `data`).
    if (locationRoots.get(location) === location && Object.hasOwn(this.data, location)) {
      setOwn(this.data, location, value);
      return;
    }
    const fn = assignCache.get(location) ??
      compile(assignCache, location, `with (${PARAM_SCOPE}) { (${location}) = ${PARAM_VALUE}; }`);
    fn(this.#scope, value);
  }

  /** Creates or sets a variable (data declarations, foreach item/index, invoke params). */
  declare(name: string, value: unknown): void {
    if (SYSTEM.has(name)) throw new TypeError(`${name} is a read-only system variable`);
    setOwn(this.data, name, value);
  }
}
