/**
 * The document-to-config builder: each SCXML element becomes the corresponding machine
 * config (states, transitions, entry/exit, invoke, done data); executable content is compiled
 * by `executable.ts` into actions over the session's data model. Load errors (malformed
 * structure, unknown elements or attributes, a `src` that cannot be read) throw `ScxmlError`
 * with the element's line and column.
 *
 * @module
 */
import type {
  EventObject,
  GuardArgs,
  InvokeConfig,
  MachineConfig,
  StateConfig,
  TransitionConfig,
} from "../core/types.ts";
import {
  elements,
  parseXml,
  SCXML_NS,
  ScxmlError,
  serialize,
  serializeStandalone,
  textOf,
  toDom,
} from "./parse.ts";
import type { XmlElement } from "./parse.ts";
import {
  type Args,
  type ContentReader,
  type Exec,
  ExecutableContent,
  parseContent,
  raiseError,
  runGuarded,
} from "./executable.ts";
import { type ScxmlDocument, type Session, SESSIONS } from "./session.ts";
import { DefinitionError } from "../core/errors.ts";
import { SCXML_IO } from "./datamodel.ts";
import { CHILD, SCXML_INVOKE_SRC, ScxmlMachine } from "./machine.ts";
import { getOwn, setOwn } from "./own.ts";
import { enterSite, leaveSite } from "./time_limit.ts";
import { MAX_STATE_DEPTH } from "../core/compile_context.ts";

/** Options for `fromSCXML`. */
export interface ScxmlOptions {
  /** Where relative `src` attributes resolve from (default: the current directory). */
  baseUrl?: string | URL;
  /** A name for the document in error messages (a file path). */
  source?: string;
}

const INVOKE_TYPES = new Set([
  "scxml",
  "http://www.w3.org/TR/scxml/",
  "http://www.w3.org/TR/scxml",
  SCXML_IO,
]);

/** A machine from a parsed `<scxml>` element (`text`: the document, for `toSCXML`). */
export function buildMachine(
  root: XmlElement,
  options: ScxmlOptions,
  text?: string,
): ScxmlMachine {
  const base = new URL(String(options.baseUrl ?? "./"), cwdUrl());
  const b = new Builder(base, options.source);
  const config = b.document(root);
  b.doc.source = text ?? serializeStandalone(root);
  try {
    return new ScxmlMachine(config, b.doc);
  } catch (e) {
    if (!(e instanceof DefinitionError)) throw e;
    // What the engine refuses is reported at the state it is about.
    const first = e.problems.find((p) => p.severity === "error");
    const el = b.elementAt(config, first?.path ?? []) ?? root;
    return b.fail(el, first?.message ?? e.message);
  }
}

/** The current directory as a URL; `file:///` where reading it is not permitted (a Worker). */
function cwdUrl(): URL {
  try {
    return new URL(`file://${Deno.cwd()}/`);
  } catch {
    return new URL("file:///");
  }
}

interface DataDecl {
  id: string;
  el: XmlElement;
  value: (s: Session) => unknown;
  /** Late binding: the state whose first entry evaluates it ("" for the root). */
  state: string;
  /** The element and its location, for run-time errors. */
  where: string;
}

const ATTRS: Record<string, string[]> = {
  scxml: ["initial", "name", "version", "datamodel", "binding", "exmode"],
  state: ["id", "initial"],
  parallel: ["id"],
  final: ["id"],
  history: ["id", "type"],
  initial: [],
  transition: ["event", "cond", "target", "type"],
  onentry: [],
  onexit: [],
  datamodel: [],
  data: ["id", "src", "expr"],
  donedata: [],
  content: ["expr"],
  param: ["name", "expr", "location"],
  invoke: [
    "type",
    "typeexpr",
    "src",
    "srcexpr",
    "id",
    "idlocation",
    "namelist",
    "autoforward",
  ],
  finalize: [],
  raise: ["event"],
  if: ["cond"],
  elseif: ["cond"],
  else: [],
  foreach: ["array", "item", "index"],
  log: ["label", "expr"],
  assign: ["location", "expr"],
  script: ["src"],
  send: [
    "event",
    "eventexpr",
    "target",
    "targetexpr",
    "type",
    "typeexpr",
    "id",
    "idlocation",
    "delay",
    "delayexpr",
    "namelist",
  ],
  cancel: ["sendid", "sendidexpr"],
};

class Builder implements ContentReader {
  readonly doc: ScxmlDocument;
  readonly #base: URL;
  readonly #source: string | undefined;
  readonly #x: ExecutableContent = new ExecutableContent(this);
  readonly #data: DataDecl[] = [];
  #late = false;
  #anon = 0;
  #ids = new Set<string>();
  /** Each state's element, for errors the engine finds. */
  #elements = new Map<StateConfig, XmlElement>();
  /** Targets to check once every id is known: the element that names them, and the ids. */
  #targets: { el: XmlElement; ids: string[] }[] = [];

  constructor(base: URL, source: string | undefined) {
    this.#base = base;
    this.#source = source;
    this.doc = { name: undefined, baseUrl: base, usesHttp: false };
  }

  fail(el: XmlElement, message: string): never {
    throw new ScxmlError(message, el.line, el.column, this.#source);
  }

  where(el: XmlElement): string {
    return `${this.#source ?? this.doc.name ?? "scxml"}:${el.line}:${el.column}`;
  }

  check(el: XmlElement): void {
    const allowed = getOwn(ATTRS, el.name);
    if (el.ns !== SCXML_NS) this.fail(el, `<${el.qname}> is not an SCXML element`);
    if (allowed === undefined) this.fail(el, `unknown element <${el.name}>`);
    for (const k of Object.keys(el.attrs)) {
      if (k === "xmlns" || k.includes(":")) continue;
      if (!allowed.includes(k)) this.fail(el, `unknown attribute "${k}" on <${el.name}>`);
    }
  }

  /** Elements in the SCXML namespace (others — foreign extensions — are ignored). */
  kids(el: XmlElement): XmlElement[] {
    return elements(el).filter((c) => c.ns === SCXML_NS);
  }

  document(root: XmlElement): MachineConfig {
    if (root.name !== "scxml" || root.ns !== SCXML_NS) {
      this.fail(root, `the root element must be <scxml> in ${SCXML_NS}, not <${root.qname}>`);
    }
    this.check(root);
    const dmName = root.attrs.datamodel;
    if (dmName !== undefined && dmName !== "ecmascript" && dmName !== "null") {
      this.fail(root, `datamodel "${dmName}" is not supported (only "ecmascript" and "null")`);
    }
    this.#late = root.attrs.binding === "late";
    this.doc.name = root.attrs.name;
    // The HTTP listener starts only for documents that mention the processor.
    this.doc.usesHttp = /BasicHTTPEventProcessor|basichttp/.test(serialize(root));
    const states: StateConfig[] = [];
    const scripts: Exec[] = [];
    for (const c of this.kids(root)) {
      this.check(c);
      if (c.name === "state" || c.name === "parallel" || c.name === "final") {
        states.push(this.state(c, 1));
      } else if (c.name === "datamodel") this.datamodel(c, "");
      else if (c.name === "script") scripts.push(this.#x.exec(c));
      else this.fail(c, `<${c.name}> cannot be a child of <scxml>`);
    }
    if (states.length === 0) this.fail(root, "<scxml> needs at least one state");
    const data = this.#data;
    const declared = new Set(data.map((d) => d.id));
    const late = this.#late;
    const doc = this.doc;
    const init = (args: Args) => {
      const s = SESSIONS.of(args.context, doc);
      s.bind(args);
      // Values from the invoker's params and namelist count only for declared variables.
      for (const k of Object.keys(args.context)) if (!declared.has(k)) delete args.context[k];
      for (const d of data) {
        if (Object.hasOwn(args.context, d.id)) continue; // set by the invoker's params
        if (late && d.state !== "") {
          s.dm.declare(d.id, undefined);
          continue;
        }
        initData(s, args, d);
      }
      for (const script of scripts) {
        if (!runGuarded(s, args, script)) break;
      }
    };
    const config: MachineConfig = {
      id: root.attrs.name !== undefined && /^[^\s#]+$/.test(root.attrs.name)
        ? root.attrs.name
        : "scxml",
      entry: [init],
      // The instance reached a top-level final state: its session ends.
      exit: [(args: Args) => SESSIONS.of(args.context, doc).close()],
      states: this.keyed(states),
    };
    if (root.attrs.initial !== undefined) {
      config.initial = this.targets(root, root.attrs.initial);
    }
    for (const { el, ids } of this.#targets) {
      for (const id of ids) if (!this.#ids.has(id)) this.fail(el, `unknown target state "${id}"`);
    }
    return config;
  }

  /** The element of the deepest state a config path goes through. */
  elementAt(config: MachineConfig, path: readonly string[]): XmlElement | undefined {
    let states: Record<string, StateConfig> | undefined = config.states;
    let found: XmlElement | undefined;
    for (let i = 0; i + 1 < path.length && states !== undefined; i += 2) {
      if (path[i] !== "states") break;
      const sc = getOwn(states, path[i + 1]);
      if (sc === undefined) break;
      found = this.#elements.get(sc) ?? found;
      states = sc.states;
    }
    return found;
  }

  /**
   * Sibling states by key: a state's id when the engine takes it as a key (no ".", and not
   * `__proto__`), else a made-up key that no sibling's id is.
   */
  keyed(states: StateConfig[]): Record<string, StateConfig> {
    const usable = (id: string) => /^[^.#\s]+$/.test(id) && id !== "__proto__";
    const taken = new Set(states.map((s) => s.id!).filter(usable));
    const out: Record<string, StateConfig> = {};
    for (const sc of states) {
      let key = sc.id!;
      if (!usable(key)) {
        do key = `_k${++this.#anon}`; while (taken.has(key));
        taken.add(key);
      }
      setOwn(out, key, sc);
    }
    return out;
  }

  targets(el: XmlElement, attr: string): string[] {
    const ids = attr.trim().split(/\s+/).filter((x) => x !== "");
    if (ids.length === 0) this.fail(el, "an empty target");
    this.#targets.push({ el, ids });
    return ids.map((id) => `#${id}`);
  }

  /** A state at `depth` (the document's top-level states are at 1). */
  state(el: XmlElement, depth: number): StateConfig {
    this.check(el);
    if (depth > MAX_STATE_DEPTH) {
      this.fail(el, `states nest more than ${MAX_STATE_DEPTH} levels deep here: flatten the chart`);
    }
    let id = el.attrs.id;
    if (id === undefined || id === "") id = `_state${++this.#anon}`;
    else if (/[\s#]/.test(id)) this.fail(el, `state id "${id}" must not contain spaces or "#"`);
    if (this.#ids.has(id)) this.fail(el, `duplicate state id "${id}"`);
    this.#ids.add(id);
    const sc: StateConfig = { id };
    this.#elements.set(sc, el);
    const entry: ((a: Args) => void)[] = [];
    const exit: ((a: Args) => void)[] = [];
    const on: Record<string, TransitionConfig[]> = {};
    const always: TransitionConfig[] = [];
    const invokes: InvokeConfig[] = [];
    const children: StateConfig[] = [];
    let hasChildren = false;
    let initialEl: XmlElement | null = null;
    const doc = this.doc;
    const mine: DataDecl[] = [];
    // Transitions by event, in document order: `on` keys made unique by whitespace suffixes.
    let lastEvent: string | undefined;
    let lastKey = "";
    const seen = new Map<string, number>();
    for (const c of this.kids(el)) {
      this.check(c);
      switch (c.name) {
        case "state":
        case "parallel":
        case "final":
        case "history": {
          if (el.name === "final") this.fail(c, `<final> cannot contain <${c.name}>`);
          if (el.name !== "state" && el.name !== "parallel") {
            this.fail(c, `<${el.name}> cannot contain <${c.name}>`);
          }
          children.push(c.name === "history" ? this.history(c) : this.state(c, depth + 1));
          if (c.name !== "history") hasChildren = true;
          break;
        }
        case "initial":
          if (el.name !== "state") this.fail(c, `<initial> belongs in a compound <state>`);
          initialEl = c;
          break;
        case "onentry":
          entry.push(this.#x.block(c));
          break;
        case "onexit":
          exit.push(this.#x.block(c));
          break;
        case "transition": {
          if (el.name === "final") this.fail(c, "a <final> state has no transitions");
          const t = this.transition(c);
          const ev = c.attrs.event;
          if (ev === undefined) always.push(t);
          else {
            // Keep document order across events: an object key is made unique by a suffix of
            // spaces and tabs (the count in binary), which descriptor parsing ignores.
            const k = ev.trim().split(/\s+/).map((d) => (d === ".*" ? "*" : d)).join(" ");
            if (k === "") this.fail(c, "an empty event attribute");
            if (k !== lastEvent) {
              const n = seen.get(k) ?? 0;
              seen.set(k, n + 1);
              lastKey = n === 0
                ? k
                : `${k} ${n.toString(2).replace(/0/g, " ").replace(/1/g, "\t")}`;
              lastEvent = k;
              setOwn(on, lastKey, []);
            }
            on[lastKey].push(t);
          }
          break;
        }
        case "invoke":
          if (el.name === "final") this.fail(c, "a <final> state cannot invoke");
          invokes.push(this.invoke(c, id, invokes.length));
          break;
        case "datamodel": {
          const before = this.#data.length;
          this.datamodel(c, id);
          for (let i = before; i < this.#data.length; i++) mine.push(this.#data[i]);
          break;
        }
        case "donedata":
          if (el.name !== "final") this.fail(c, "<donedata> belongs in a <final> state");
          sc.output = this.donedata(c);
          break;
        default:
          this.fail(c, `<${c.name}> cannot be a child of <${el.name}>`);
      }
    }
    if (el.name === "parallel") sc.type = "parallel";
    else if (el.name === "final") sc.type = "final";
    if (children.length > 0) sc.states = this.keyed(children);
    if (el.name === "state" && hasChildren) {
      if (initialEl !== null && el.attrs.initial !== undefined) {
        this.fail(el, "a state has either an initial attribute or an <initial> child, not both");
      }
      if (initialEl !== null) {
        const t = this.kids(initialEl).find((x) => x.name === "transition");
        if (t === undefined) this.fail(initialEl, "<initial> needs a <transition>");
        this.check(t);
        if (t.attrs.target === undefined) this.fail(t, "the <initial> transition needs a target");
        sc.initial = {
          target: this.targets(t, t.attrs.target),
          actions: [this.#x.block(t)],
        };
      } else if (el.attrs.initial !== undefined) {
        sc.initial = this.targets(el, el.attrs.initial);
      }
    } else if (el.attrs.initial !== undefined && el.name === "state") {
      this.fail(el, `state "${id}" has an initial attribute but no child states`);
    }
    // Late binding: this state's data is evaluated on its first entry, before onentry.
    if (this.#late && mine.length > 0) {
      entry.unshift((args: Args) => {
        const s = SESSIONS.of(args.context, doc);
        if (s.lateDone.has(id)) return;
        s.lateDone.add(id);
        s.bind(args);
        for (const d of mine) initData(s, args, d);
      });
    }
    if (entry.length > 0) sc.entry = entry;
    if (exit.length > 0) sc.exit = exit;
    if (Object.keys(on).length > 0) sc.on = on;
    if (always.length > 0) sc.always = always;
    if (invokes.length > 0) sc.invoke = invokes;
    return sc;
  }

  history(el: XmlElement): StateConfig {
    this.check(el);
    const id = el.attrs.id ?? `_history${++this.#anon}`;
    if (this.#ids.has(id)) this.fail(el, `duplicate state id "${id}"`);
    this.#ids.add(id);
    const sc: StateConfig = {
      id,
      type: "history",
      history: el.attrs.type === "deep" ? "deep" : "shallow",
    };
    this.#elements.set(sc, el);
    if (el.attrs.type !== undefined && el.attrs.type !== "deep" && el.attrs.type !== "shallow") {
      this.fail(el, `history type must be "deep" or "shallow", not "${el.attrs.type}"`);
    }
    const t = this.kids(el).find((x) => x.name === "transition");
    for (const c of this.kids(el)) {
      if (c.name !== "transition") this.fail(c, `<${c.name}> cannot be a child of <history>`);
    }
    if (t !== undefined) {
      this.check(t);
      if (t.attrs.target === undefined) this.fail(t, "a history transition needs a target");
      sc.target = { target: this.targets(t, t.attrs.target), actions: [this.#x.block(t)] };
    }
    return sc;
  }

  transition(el: XmlElement): TransitionConfig {
    const t: TransitionConfig = {};
    if (el.attrs.target !== undefined) t.target = this.targets(el, el.attrs.target);
    const cond = el.attrs.cond;
    const doc = this.doc;
    if (cond !== undefined) {
      t.guard = (args: GuardArgs) => {
        const s = SESSIONS.of(args.context, doc);
        s.bind(args);
        enterSite(el);
        try {
          return s.dm.cond(cond);
        } finally {
          leaveSite();
        }
      };
    }
    if (
      el.attrs.type !== undefined && el.attrs.type !== "internal" && el.attrs.type !== "external"
    ) {
      this.fail(el, `transition type must be "internal" or "external", not "${el.attrs.type}"`);
    }
    t.reenter = el.attrs.type !== "internal";
    if (this.kids(el).length > 0) t.actions = [this.#x.block(el)];
    return t;
  }

  datamodel(el: XmlElement, state: string): void {
    for (const d of this.kids(el)) {
      this.check(d);
      if (d.name !== "data") this.fail(d, `<${d.name}> cannot be a child of <datamodel>`);
      const id = d.attrs.id;
      if (id === undefined) this.fail(d, "<data> needs an id");
      const expr = d.attrs.expr;
      const src = d.attrs.src;
      const inline = textOf(d).trim();
      const hasXml = elements(d).length > 0;
      let value: (s: Session) => unknown;
      if (expr !== undefined) value = (s) => s.dm.eval(expr);
      else if (src !== undefined) {
        const text = this.load(d, src);
        value = () => parseContent(text);
      } else if (hasXml) {
        const roots = elements(d);
        value = () => toDom(roots);
      } else if (inline !== "") value = () => parseContent(inline);
      else value = () => undefined;
      this.#data.push({ id, el: d, value, state, where: `<data id="${id}"> at ${this.where(d)}` });
    }
  }

  load(el: XmlElement, src: string): string {
    try {
      const url = new URL(src, this.#base);
      if (url.protocol !== "file:") throw new Error(`only file: URLs load synchronously`);
      return Deno.readTextFileSync(url);
    } catch (e) {
      this.fail(el, `cannot load src "${src}": ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  donedata(
    el: XmlElement,
  ): (a: { context: Record<string, unknown>; event: EventObject }) => unknown {
    const content = this.kids(el).find((c) => c.name === "content");
    const params = this.kids(el).filter((c) => c.name === "param");
    for (const c of this.kids(el)) this.check(c);
    const doc = this.doc;
    const contentFn = content !== undefined ? this.#x.content(content) : null;
    const paramFns = params.map((p) => this.#x.param(p));
    return ({ context, event }) => {
      const s = SESSIONS.of(context, doc);
      s.dm.setEvent(event);
      enterSite(el);
      try {
        if (contentFn !== null) return contentFn(s);
        if (paramFns.length === 0) return undefined;
        const out: Record<string, unknown> = {};
        for (const p of paramFns) p(s, out);
        return out;
      } finally {
        leaveSite();
      }
    };
  }

  invoke(el: XmlElement, stateId: string, n: number): InvokeConfig {
    const a = el.attrs;
    if (a.id !== undefined && a.idlocation !== undefined) {
      this.fail(el, "<invoke> has both id and idlocation");
    }
    if (a.src !== undefined && a.srcexpr !== undefined) {
      this.fail(el, "<invoke> has both src and srcexpr");
    }
    const params = this.kids(el).filter((c) => c.name === "param").map((p) => this.#x.param(p));
    const contentEl = this.kids(el).find((c) => c.name === "content");
    const finalizeEl = this.kids(el).find((c) => c.name === "finalize");
    for (const c of this.kids(el)) {
      if (!["param", "content", "finalize"].includes(c.name)) {
        this.fail(c, `<${c.name}> cannot be a child of <invoke>`);
      }
    }
    // Static children are compiled now, so their errors are load errors.
    let staticChild: ScxmlMachine | null = null;
    let contentExpr: string | undefined;
    if (contentEl !== undefined) {
      this.check(contentEl);
      const inner = elements(contentEl).find((c) => c.name === "scxml");
      if (inner !== undefined) {
        staticChild = buildMachine(inner, { baseUrl: this.#base, source: this.#source });
      } else contentExpr = contentEl.attrs.expr;
    } else if (a.src !== undefined) {
      const text = this.load(el, a.src);
      staticChild = buildMachine(
        parseXml(text, a.src),
        { baseUrl: new URL(a.src, this.#base), source: a.src },
        text,
      );
    }
    const base = this.#base;
    const namelist = a.namelist?.trim().split(/\s+/).filter((x) => x !== "") ?? [];
    const id = a.id ?? `${stateId}.invoke${n}`;
    const doc = this.doc;
    const config: InvokeConfig = {
      id,
      src: SCXML_INVOKE_SRC,
      autoForward: a.autoforward === "true",
      input: (args) => {
        enterSite(el);
        try {
          return invokeInput(args);
        } finally {
          leaveSite();
        }
      },
    };
    const invokeInput = (
      { context, event }: { context: Record<string, unknown>; event: EventObject },
    ) => {
      const s = SESSIONS.of(context, doc);
      s.dm.setEvent(event);
      const type = a.type ?? (a.typeexpr !== undefined ? String(s.dm.eval(a.typeexpr)) : "scxml");
      if (!INVOKE_TYPES.has(type)) throw new Error(`invoke: unsupported type "${type}"`);
      if (a.idlocation !== undefined) s.dm.assign(a.idlocation, id);
      let child = staticChild;
      if (child === null) {
        let text: string;
        if (contentExpr !== undefined) text = String(s.dm.eval(contentExpr));
        else if (a.srcexpr !== undefined) {
          const src = String(s.dm.eval(a.srcexpr));
          text = Deno.readTextFileSync(new URL(src, base));
        } else throw new Error("invoke: nothing to invoke (no src, srcexpr or content)");
        child = buildMachine(parseXml(text), { baseUrl: base }, text);
      }
      const input: Record<string | symbol, unknown> = {};
      for (const name of namelist) {
        if (!s.dm.isDeclared(name)) throw new ReferenceError(`namelist: "${name}" undeclared`);
        setOwn(input, name, s.dm.eval(name));
      }
      for (const p of params) p(s, input as Record<string, unknown>);
      input[CHILD] = child;
      return input;
    };
    if (finalizeEl !== undefined) config.finalize = [this.#x.block(finalizeEl)];
    return config;
  }
}

function initData(s: Session, args: Args, d: DataDecl): void {
  enterSite(d.el);
  try {
    s.dm.declare(d.id, d.value(s));
  } catch (e) {
    s.dm.declare(d.id, undefined);
    raiseError(s, args, e, d.where);
  } finally {
    leaveSite();
  }
}
