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

/** The SCXML event I/O processor's type URI. */
export const SCXML_IO = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor";
/** The Basic HTTP event I/O processor's type URI. */
export const BASIC_HTTP_IO = "http://www.w3.org/TR/scxml/#BasicHTTPEventProcessor";

/** `_event` as a document sees it. */
export interface ScxmlEvent {
  name: string;
  type: "platform" | "internal" | "external";
  sendid: string | undefined;
  origin: string | undefined;
  origintype: string | undefined;
  invokeid: string | undefined;
  data: unknown;
  /** The event as the I/O processor received it (Basic HTTP: the request; SCXML: a form). */
  raw: string | undefined;
}

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
  /** The event being processed, as `_event`. */
  event: ScxmlEvent | undefined = undefined;
  /** `In(stateId)`. */
  inState: (id: string) => boolean = () => false;
  readonly #scope: object;

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
    this.#scope = new Proxy(Object.create(null), {
      has: (_t, key) => key !== PARAM_SCOPE && key !== PARAM_VALUE,
      get: (_t, key) => {
        if (typeof key !== "string") return undefined; // Symbol.unscopables and friends
        if (Object.hasOwn(this.data, key)) return this.data[key];
        const s = sys[key];
        if (s !== undefined) return s();
        if (key === "In") return inFn;
        if (BUILTINS.has(key)) return (globalThis as Record<string, unknown>)[key];
        throw new ReferenceError(`${key} is not defined`);
      },
      set: (_t, key, value) => {
        if (typeof key !== "string") return false;
        if (SYSTEM.has(key)) throw new TypeError(`${key} is a read-only system variable`);
        this.data[key] = value;
        return true;
      },
      deleteProperty: (_t, key) => {
        if (typeof key === "string" && !SYSTEM.has(key)) delete this.data[key];
        return true;
      },
    });
  }

  /** Evaluates an expression; throws what it throws (the caller raises `error.execution`). */
  eval(expr: string): unknown {
    return compileExpression(expr)(this.#scope);
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
    const root = /^\s*([A-Za-z_$][\w$]*)/.exec(location)?.[1];
    return root !== undefined && (Object.hasOwn(this.data, root) || SYSTEM.has(root));
  }

  /** `<assign location=... expr=...>`: the location must exist (SCXML 5.4). */
  assign(location: string, value: unknown): void {
    if (!this.isDeclared(location)) {
      throw new ReferenceError(`cannot assign to "${location}": it is not a declared variable`);
    }
    compile(
      assignCache,
      location,
      `with (${PARAM_SCOPE}) { (${location}) = ${PARAM_VALUE}; }`,
    )(this.#scope, value);
  }

  /** Creates or sets a variable (data declarations, foreach item/index, invoke params). */
  declare(name: string, value: unknown): void {
    if (SYSTEM.has(name)) throw new TypeError(`${name} is a read-only system variable`);
    this.data[name] = value;
  }
}
