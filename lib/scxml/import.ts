/**
 * SCXML documents to Statecraft machines: each SCXML element becomes the corresponding
 * machine config (states, transitions, entry/exit, invoke, done data), and executable content
 * becomes actions and guards that are closures over the session's ECMAScript data model.
 *
 * @module
 */
import type {
  ActionArgs,
  EventObject,
  GuardArgs,
  InvokeConfig,
  MachineConfig,
  MachineInstance,
  MachineLike,
  Snapshot,
  StartOptions,
  StateConfig,
  TransitionConfig,
} from "../core/types.ts";
import { compiledOf, Machine } from "../core/machine.ts";
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
  BASIC_HTTP_IO,
  DataModel,
  expressionProblem,
  isIdentifier,
  SCXML_IO,
  type ScxmlEvent,
} from "./datamodel.ts";
import { basicHttpSend, ensureHttpListener, type HttpListener } from "./io_processors.ts";

/** Options for `fromSCXML`. */
export interface ScxmlOptions {
  /** Where relative `src` attributes resolve from (default: the current directory). */
  baseUrl?: string | URL;
  /** A name for the document in error messages (a file path). */
  source?: string;
}

type Args = ActionArgs<Record<string, unknown>, EventObject>;
type Exec = (s: Session, a: Args) => void;

const SCXML_TYPES = new Set([SCXML_IO, "scxml", "http://www.w3.org/TR/scxml/"]);
const HTTP_TYPES = new Set([BASIC_HTTP_IO, "basichttp"]);
const INVOKE_TYPES = new Set([
  "scxml",
  "http://www.w3.org/TR/scxml/",
  "http://www.w3.org/TR/scxml",
  SCXML_IO,
]);

// ---------------------------------------------------------------------------------------
// Sessions

const sessions = new Map<string, Session>();
const byContext = new WeakMap<object, Session>();
/** The session of the instance being started or restored (bound by its first action). */
let pending: Session | null = null;

/** The run-time state of one SCXML instance beside its engine context. */
class Session {
  readonly dm: DataModel;
  readonly doc: ScxmlDocument;
  instance: MachineInstance | null = null;
  invokeId: string | undefined;
  lateDone = new Set<string>();
  http: HttpListener | null = null;
  #sendSeq = 0;

  constructor(doc: ScxmlDocument, data: Record<string, unknown>, invokeId?: string) {
    this.doc = doc;
    const sessionid = `${crypto.randomUUID()}`;
    const io: Record<string, { location: string }> = {};
    const scxml = { location: `#_scxml_${sessionid}` };
    io[SCXML_IO] = scxml;
    io.scxml = scxml;
    this.dm = new DataModel(data, sessionid, doc.name, io);
    this.invokeId = invokeId;
    sessions.set(sessionid, this);
    if (doc.usesHttp) {
      try {
        this.http = ensureHttpListener((event) => this.deliver(event));
        io[BASIC_HTTP_IO] = { location: this.http.url };
        io.basichttp = io[BASIC_HTTP_IO];
      } catch {
        // No network permission (a sandboxed run): the processor is absent from
        // _ioprocessors, and sends through it fail with error.communication.
      }
    }
  }

  get id(): string {
    return this.dm.sessionid;
  }

  nextSendId(): string {
    return `${this.id}.send${++this.#sendSeq}`;
  }

  bind(args: { event: EventObject; matches(id: string): boolean }): void {
    this.dm.event = toScxmlEvent(args.event);
    this.dm.inState = args.matches;
  }

  deliver(event: EventObject): void {
    const inst = this.instance as unknown as { deliver?(e: EventObject): void } | null;
    if (inst === null || inst.deliver === undefined) return;
    inst.deliver(event);
  }

  close(): void {
    sessions.delete(this.id);
    this.http?.release();
    this.http = null;
  }
}

function sessionOf(context: Record<string, unknown>, doc: ScxmlDocument): Session {
  let s = byContext.get(context);
  if (s === undefined) {
    s = pending !== null && pending.doc === doc ? pending : new Session(doc, context);
    if (s === pending) pending = null;
    byContext.set(context, s);
    // The session was made before the context existed: point it at the real one.
    (s.dm as { data: Record<string, unknown> }).data = context;
  }
  return s;
}

const eventCache = new WeakMap<EventObject, ScxmlEvent>();
const META = new Set([
  "type",
  "data",
  "eventType",
  "sendid",
  "origin",
  "origintype",
  "invokeId",
  "output",
  "error",
  "source",
  "raw",
  "__http",
]);

/** The engine's event as SCXML's `_event` (frozen: system variables are read-only). */
export function toScxmlEvent(e: EventObject): ScxmlEvent | undefined {
  if (e.type === "") return undefined;
  let out = eventCache.get(e);
  if (out !== undefined) return out;
  let data: unknown = e.data;
  if (!("data" in e)) {
    if ("output" in e) data = e.output;
    else {
      const rest: Record<string, unknown> = {};
      let any = false;
      for (const [k, v] of Object.entries(e)) {
        if (!META.has(k)) {
          rest[k] = v;
          any = true;
        }
      }
      if (any) data = rest;
    }
  }
  const platform = /^(error|done)\./.test(e.type) && e.eventType === undefined;
  out = Object.freeze({
    name: e.type,
    type: (e.eventType as ScxmlEvent["type"] | undefined) ??
      (platform ? "platform" : "external"),
    sendid: e.sendid as string | undefined,
    origin: e.origin as string | undefined,
    origintype: e.origintype as string | undefined,
    invokeid: e.invokeId as string | undefined,
    data,
    raw: e.raw as string | undefined,
  });
  eventCache.set(e, out);
  return out;
}

// ---------------------------------------------------------------------------------------
// The machine

/**
 * A machine made from an SCXML document by `fromSCXML`; the same API as one made by
 * `defineMachine`.
 *
 * @example
 * ```ts
 * import { fromSCXML, ScxmlMachine } from "./import.ts";
 * const m = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="on">
 *   <state id="on"><transition event="flip" target="off"/></state>
 *   <state id="off"><transition event="flip" target="on"/></state>
 * </scxml>`);
 * m instanceof ScxmlMachine; // true
 * const i = m.start();
 * i.send("flip");
 * // i.configuration is ["off"]
 * ```
 */
export class ScxmlMachine extends Machine {
  /** @internal */
  readonly doc: ScxmlDocument;

  /** @internal Use `fromSCXML`. */
  constructor(config: MachineConfig, doc: ScxmlDocument) {
    super(config);
    this.doc = doc;
  }

  /** Starts an instance, with its SCXML session (data model, I/O processors). */
  override start(options: StartOptions = {}): MachineInstance {
    const session = new Session(this.doc, {}, options.invokeId);
    const saved = pending;
    pending = session;
    let inst: MachineInstance;
    try {
      inst = super.start({ ...options, onSend: routeSend(session, options.onSend) });
    } catch (e) {
      session.close();
      throw e;
    } finally {
      pending = saved;
    }
    return attach(session, inst, this, options.parent !== undefined);
  }

  /** Continues an instance from a snapshot, with a new SCXML session over its data. */
  override restore(snapshot: Snapshot, options: StartOptions = {}): MachineInstance {
    const session = new Session(this.doc, {}, options.invokeId);
    const saved = pending;
    pending = session;
    let inst: MachineInstance;
    try {
      inst = super.restore(snapshot, { ...options, onSend: routeSend(session, options.onSend) });
    } finally {
      pending = saved;
    }
    if (!byContext.has(inst.context as object)) {
      byContext.set(inst.context as object, session);
      (session.dm as { data: Record<string, unknown> }).data = inst.context as Record<
        string,
        unknown
      >;
    }
    return attach(session, inst, this, options.parent !== undefined);
  }
}

function attach(
  session: Session,
  inst: MachineInstance,
  machine: ScxmlMachine,
  invoked: boolean,
): MachineInstance {
  session.instance = inst;
  if (inst.status !== "active") session.close();
  else {
    const stop = inst.stop.bind(inst);
    inst.stop = () => {
      // An invoked session that its parent cancels runs its onexit handlers first (W3C
      // test250); whatever they send goes nowhere, the session is ending.
      if (invoked && inst.status === "active") runExitHandlers(machine, inst);
      stop();
      session.close();
    };
    inst.subscribe((r) => {
      if (r.kind === "macrostep" && inst.status !== "active") session.close();
    });
  }
  return inst;
}

function runExitHandlers(machine: ScxmlMachine, inst: MachineInstance): void {
  const internal = inst as unknown as { internalLog?(values: unknown[]): void };
  const ignore = () => {};
  const args: Args = {
    context: inst.context as Record<string, unknown>,
    event: { type: "cancel.invoke", eventType: "platform" },
    raise: ignore,
    send: ignore,
    cancel: ignore,
    log: (...values) => internal.internalLog?.(values),
    assign: (patch) => Object.assign(inst.context as object, patch),
    matches: (id) => inst.matches(id),
  };
  const config = inst.configuration;
  for (let i = config.length - 1; i >= 0; i--) {
    const node = compiledOf(machine).byId.get(config[i]);
    for (const fn of node?.exit ?? []) {
      try {
        fn(args);
      } catch {
        // The session is ending: an error here has nowhere to go.
      }
    }
  }
}

/** Routes sends the engine does not know: other sessions and Basic HTTP targets. */
function routeSend(
  session: Session,
  next: StartOptions["onSend"],
): StartOptions["onSend"] {
  return (target, event, from) => {
    if (target.startsWith("#_scxml_")) {
      const other = sessions.get(target.slice(8));
      if (other === undefined || other.instance?.status !== "active") {
        throw new Error(`no session "${target.slice(8)}"`);
      }
      other.deliver({ ...event });
      return;
    }
    if (/^https?:/.test(target) && event.__http === true) {
      basicHttpSend(target, event, (e) => session.deliver(e));
      return;
    }
    if (next !== undefined) return next(target, event, from);
    throw new Error("no such target");
  };
}

/** A parsed document, kept by its machines for sessions and invocations. */
export interface ScxmlDocument {
  name: string | undefined;
  baseUrl: URL;
  usesHttp: boolean;
  /** The document's text (what `toSCXML` gives back). */
  source?: string;
}

// ---------------------------------------------------------------------------------------
// Import

/**
 * Reads an SCXML document and returns its machine. State ids are the document's ids.
 * Throws `ScxmlError` (with line and column) for malformed XML, unknown elements or
 * attributes, and documents that cannot be loaded (a `<script src>` that cannot be read).
 *
 * @example
 * ```ts
 * import { fromSCXML } from "./import.ts";
 * const m = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="off">
 *   <state id="off"><transition event="flip" target="on"/></state>
 *   <state id="on"><transition event="flip" target="off"/></state>
 * </scxml>`);
 * const light = m.start();
 * light.send("flip");
 * // light.configuration is ["on"]
 * ```
 */
export function fromSCXML(xml: string, options: ScxmlOptions = {}): ScxmlMachine {
  const root = parseXml(xml, options.source);
  return fromElement(root, options, xml);
}

/** @internal A machine from an already parsed `<scxml>` element. */
export function fromElement(
  root: XmlElement,
  options: ScxmlOptions,
  text?: string,
): ScxmlMachine {
  const base = new URL(String(options.baseUrl ?? "./"), cwdUrl());
  const b = new Builder(base, options.source);
  const config = b.document(root);
  b.doc.source = text ?? serializeStandalone(root);
  return new ScxmlMachine(config, b.doc);
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

const EXECUTABLE = new Set([
  "raise",
  "if",
  "elseif",
  "else",
  "foreach",
  "log",
  "assign",
  "script",
  "send",
  "cancel",
]);

class Builder {
  readonly doc: ScxmlDocument;
  readonly #base: URL;
  readonly #source: string | undefined;
  readonly #data: DataDecl[] = [];
  #late = false;
  #anon = 0;
  #ids = new Set<string>();

  constructor(base: URL, source: string | undefined) {
    this.#base = base;
    this.#source = source;
    this.doc = { name: undefined, baseUrl: base, usesHttp: false };
  }

  fail(el: XmlElement, message: string): never {
    throw new ScxmlError(message, el.line, el.column, this.#source);
  }

  check(el: XmlElement): void {
    const allowed = ATTRS[el.name];
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
    const states: Record<string, StateConfig> = {};
    const scripts: Exec[] = [];
    for (const c of this.kids(root)) {
      this.check(c);
      if (c.name === "state" || c.name === "parallel" || c.name === "final") {
        const [key, sc] = this.state(c);
        states[key] = sc;
      } else if (c.name === "datamodel") this.datamodel(c, "");
      else if (c.name === "script") scripts.push(this.exec(c));
      else this.fail(c, `<${c.name}> cannot be a child of <scxml>`);
    }
    if (Object.keys(states).length === 0) this.fail(root, "<scxml> needs at least one state");
    const data = this.#data;
    const declared = new Set(data.map((d) => d.id));
    const late = this.#late;
    const doc = this.doc;
    const init = (args: Args) => {
      const s = sessionOf(args.context, doc);
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
      states,
    };
    if (root.attrs.initial !== undefined) {
      config.initial = this.targets(root, root.attrs.initial);
    }
    return config;
  }

  targets(el: XmlElement, attr: string): string[] {
    const ids = attr.trim().split(/\s+/).filter((x) => x !== "");
    if (ids.length === 0) this.fail(el, "an empty target");
    return ids.map((id) => `#${id}`);
  }

  state(el: XmlElement): [string, StateConfig] {
    this.check(el);
    let id = el.attrs.id;
    if (id === undefined || id === "") id = `_state${++this.#anon}`;
    else if (/[\s#]/.test(id)) this.fail(el, `state id "${id}" must not contain spaces or "#"`);
    if (this.#ids.has(id)) this.fail(el, `duplicate state id "${id}"`);
    this.#ids.add(id);
    const key = /^[^.#\s]+$/.test(id) ? id : `_k${++this.#anon}`;
    const sc: StateConfig = { id };
    const entry: ((a: Args) => void)[] = [];
    const exit: ((a: Args) => void)[] = [];
    const on: Record<string, TransitionConfig[]> = {};
    const always: TransitionConfig[] = [];
    const invokes: InvokeConfig[] = [];
    const children: Record<string, StateConfig> = {};
    let hasChildren = false;
    let initialEl: XmlElement | null = null;
    const doc = this.doc;
    const dataBefore = this.#data.length;
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
          const [k, child] = c.name === "history" ? this.history(c) : this.state(c);
          children[k] = child;
          if (c.name !== "history") hasChildren = true;
          break;
        }
        case "initial":
          if (el.name !== "state") this.fail(c, `<initial> belongs in a compound <state>`);
          initialEl = c;
          break;
        case "onentry":
          entry.push(this.block(c));
          break;
        case "onexit":
          exit.push(this.block(c));
          break;
        case "transition": {
          if (el.name === "final") this.fail(c, "a <final> state has no transitions");
          const t = this.transition(c);
          const ev = c.attrs.event;
          if (ev === undefined) always.push(t);
          else {
            // Keep document order across events: an object key is made unique by spaces,
            // which descriptor parsing ignores.
            let k = ev.trim().split(/\s+/).map((d) => (d === ".*" ? "*" : d)).join(" ");
            if (k === "") this.fail(c, "an empty event attribute");
            const lastKey = Object.keys(on).at(-1);
            if (lastKey !== undefined && lastKey.trim() === k) k = lastKey;
            else while (on[k] !== undefined) k += " ";
            (on[k] ??= []).push(t);
          }
          break;
        }
        case "invoke":
          if (el.name === "final") this.fail(c, "a <final> state cannot invoke");
          invokes.push(this.invoke(c, id, invokes.length));
          break;
        case "datamodel":
          this.datamodel(c, id);
          break;
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
    if (hasChildren || Object.keys(children).length > 0) sc.states = children;
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
          actions: [this.block(t)],
        };
      } else if (el.attrs.initial !== undefined) {
        sc.initial = this.targets(el, el.attrs.initial);
      }
    } else if (el.attrs.initial !== undefined && el.name === "state") {
      this.fail(el, `state "${id}" has an initial attribute but no child states`);
    }
    // Late binding: this state's data is evaluated on its first entry, before onentry.
    const mine = this.#data.slice(dataBefore).filter((d) => d.state === id);
    if (this.#late && mine.length > 0) {
      entry.unshift((args: Args) => {
        const s = sessionOf(args.context, doc);
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
    return [key, sc];
  }

  history(el: XmlElement): [string, StateConfig] {
    this.check(el);
    const id = el.attrs.id ?? `_history${++this.#anon}`;
    if (this.#ids.has(id)) this.fail(el, `duplicate state id "${id}"`);
    this.#ids.add(id);
    const key = /^[^.#\s]+$/.test(id) ? id : `_k${++this.#anon}`;
    const sc: StateConfig = {
      id,
      type: "history",
      history: el.attrs.type === "deep" ? "deep" : "shallow",
    };
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
      sc.target = { target: this.targets(t, t.attrs.target), actions: [this.block(t)] };
    }
    return [key, sc];
  }

  transition(el: XmlElement): TransitionConfig {
    const t: TransitionConfig = {};
    if (el.attrs.target !== undefined) t.target = this.targets(el, el.attrs.target);
    const cond = el.attrs.cond;
    const doc = this.doc;
    if (cond !== undefined) {
      t.guard = (args: GuardArgs) => {
        const s = sessionOf(args.context, doc);
        s.bind(args);
        return s.dm.cond(cond);
      };
    }
    if (
      el.attrs.type !== undefined && el.attrs.type !== "internal" && el.attrs.type !== "external"
    ) {
      this.fail(el, `transition type must be "internal" or "external", not "${el.attrs.type}"`);
    }
    t.reenter = el.attrs.type !== "internal";
    if (this.kids(el).length > 0) t.actions = [this.block(el)];
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
        value = (s) => parseContent(text, s);
      } else if (hasXml) {
        const roots = elements(d);
        value = () => toDom(roots);
      } else if (inline !== "") value = (s) => parseContent(inline, s);
      else value = () => undefined;
      this.#data.push({ id, el: d, value, state });
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
    const contentFn = content !== undefined ? this.content(content) : null;
    const paramFns = params.map((p) => this.param(p));
    return ({ context, event }) => {
      const s = sessionOf(context, doc);
      s.dm.event = toScxmlEvent(event);
      if (contentFn !== null) return contentFn(s);
      if (paramFns.length === 0) return undefined;
      const out: Record<string, unknown> = {};
      for (const p of paramFns) p(s, out);
      return out;
    };
  }

  content(el: XmlElement): (s: Session) => unknown {
    this.check(el);
    const expr = el.attrs.expr;
    if (expr !== undefined) return (s) => s.dm.eval(expr);
    const xmlKids = elements(el);
    if (xmlKids.length > 0) return () => toDom(xmlKids);
    const text = textOf(el);
    return (s) => parseContent(text, s);
  }

  param(
    el: XmlElement,
  ): (s: Session, out: Record<string, unknown>, raw?: URLSearchParams) => void {
    this.check(el);
    const name = el.attrs.name;
    if (name === undefined) this.fail(el, "<param> needs a name");
    const { expr, location } = el.attrs;
    if (expr === undefined && location === undefined) {
      this.fail(el, "<param> needs expr or location");
    }
    return (s, out, raw) => {
      if (location !== undefined && !s.dm.isDeclared(location)) {
        throw new ReferenceError(`param "${name}": "${location}" is not a declared location`);
      }
      out[name] = s.dm.eval(expr ?? location!);
      raw?.append(name, safeString(out[name]));
    };
  }

  /** A block of executable content: an error ends it and raises error.execution. */
  block(el: XmlElement): (a: Args) => void {
    const items = this.kids(el).map((c) => this.exec(c));
    const doc = this.doc;
    return (args: Args) => {
      const s = sessionOf(args.context, doc);
      s.bind(args);
      for (const item of items) if (!runGuarded(s, args, item)) return;
    };
  }

  seq(els: XmlElement[]): Exec {
    const items = els.map((c) => this.exec(c));
    return (s, a) => {
      for (const item of items) item(s, a);
    };
  }

  exec(el: XmlElement): Exec {
    this.check(el);
    if (!EXECUTABLE.has(el.name)) this.fail(el, `<${el.name}> is not executable content`);
    const at = el;
    switch (el.name) {
      case "raise": {
        const event = el.attrs.event;
        if (event === undefined) this.fail(el, "<raise> needs an event");
        return (_s, a) => a.raise({ type: event, eventType: "internal" });
      }
      case "log": {
        const { label, expr } = el.attrs;
        return (s, a) => {
          if (expr === undefined || expr.trim() === "") {
            a.log(label ?? "");
            return;
          }
          const value = s.dm.eval(expr);
          const text = typeof value === "string" ? value : safeString(value);
          a.log(label === undefined ? text : `${label}: ${text}`);
        };
      }
      case "assign": {
        const location = el.attrs.location;
        if (location === undefined) this.fail(el, "<assign> needs a location");
        const expr = el.attrs.expr;
        const content = expr === undefined
          ? this.content({ ...el, name: "content", attrs: {} })
          : null;
        return (s) => {
          const value = expr !== undefined ? s.dm.eval(expr) : content!(s);
          s.dm.assign(location, value);
        };
      }
      case "script": {
        const src = el.attrs.src;
        const code = src !== undefined ? this.load(el, src) : textOf(el);
        return (s) => s.dm.exec(code);
      }
      case "cancel": {
        const { sendid, sendidexpr } = el.attrs;
        return (s, a) => a.cancel(String(sendid ?? s.dm.eval(sendidexpr!)));
      }
      case "if": {
        const branches: { cond: string | null; body: Exec }[] = [];
        let cond: string | null = el.attrs.cond ?? "false";
        let body: XmlElement[] = [];
        for (const c of this.kids(el)) {
          if (c.name === "elseif" || c.name === "else") {
            this.check(c);
            branches.push({ cond, body: this.seq(body) });
            cond = c.name === "else" ? null : (c.attrs.cond ?? "false");
            body = [];
          } else body.push(c);
        }
        branches.push({ cond, body: this.seq(body) });
        return (s, a) => {
          for (const b of branches) {
            if (b.cond === null || s.dm.cond(b.cond)) {
              b.body(s, a);
              return;
            }
          }
        };
      }
      case "foreach": {
        const { array, item, index } = el.attrs;
        if (array === undefined || item === undefined) {
          this.fail(el, "<foreach> needs array and item");
        }
        const body = this.seq(this.kids(el));
        return (s, a) => {
          const value = s.dm.eval(array);
          if (typeof value !== "object" || value === null) {
            throw new TypeError(`foreach: "${array}" is not an array`);
          }
          if (!isIdentifier(item) || (index !== undefined && !isIdentifier(index))) {
            throw new SyntaxError(`foreach: "${item}" is not a legal variable name`);
          }
          const list = Array.isArray(value) ? value.slice() : Object.values(value);
          list.forEach((v, i) => {
            s.dm.declare(item, v);
            if (index !== undefined) s.dm.declare(index, i);
            body(s, a);
          });
        };
      }
      case "send":
        return this.send(el);
      default:
        this.fail(at, `<${el.name}> is not allowed here`);
    }
  }

  send(el: XmlElement): Exec {
    const a = el.attrs;
    const both = (x: string, y: string) => {
      if (a[x] !== undefined && a[y] !== undefined) {
        this.fail(el, `<send> has both ${x} and ${y}`);
      }
    };
    both("event", "eventexpr");
    both("target", "targetexpr");
    both("type", "typeexpr");
    both("id", "idlocation");
    both("delay", "delayexpr");
    const params = this.kids(el).filter((c) => c.name === "param").map((p) => this.param(p));
    const contentEl = this.kids(el).find((c) => c.name === "content");
    const content = contentEl !== undefined ? this.content(contentEl) : null;
    for (const c of this.kids(el)) {
      if (c.name !== "param" && c.name !== "content") {
        this.fail(c, `<${c.name}> cannot be a child of <send>`);
      }
    }
    if (content !== null && (params.length > 0 || a.namelist !== undefined)) {
      this.fail(el, "<send> has <content> together with namelist or <param>");
    }
    const namelist = a.namelist?.trim().split(/\s+/).filter((x) => x !== "") ?? [];
    // An unsupported type is an error at run time (error.execution), not a load error.
    const sendNow = (
      s: Session,
      args: Args,
      isHttp: boolean,
      sendid: string | undefined,
    ) => {
      const name = a.event ??
        (a.eventexpr !== undefined ? String(s.dm.eval(a.eventexpr)) : undefined);
      let target: string | undefined = a.target ??
        (a.targetexpr !== undefined ? String(s.dm.eval(a.targetexpr)) : undefined);
      const delayText = a.delay ??
        (a.delayexpr !== undefined ? String(s.dm.eval(a.delayexpr)) : undefined);
      let delay = 0;
      if (delayText !== undefined) {
        const ms = parseCssDuration(delayText);
        if (ms === undefined) throw new Error(`send: "${delayText}" is not a delay`);
        delay = ms;
      }
      let data: unknown = undefined;
      const raw = new URLSearchParams();
      if (name !== undefined) raw.append("_scxmleventname", name);
      if (content !== null) data = content(s);
      else if (namelist.length > 0 || params.length > 0) {
        const out: Record<string, unknown> = {};
        for (const n of namelist) {
          if (!s.dm.isDeclared(n)) throw new ReferenceError(`namelist: "${n}" is not declared`);
          out[n] = s.dm.eval(n);
          raw.append(n, safeString(out[n]));
        }
        for (const p of params) p(s, out, raw);
        data = out;
      }
      if (name === undefined && !isHttp) throw new Error("send: no event name");
      const event: EventObject = {
        type: name ?? "HTTP.POST",
        eventType: "external",
        origin: `#_scxml_${s.id}`,
        origintype: SCXML_IO,
      };
      if (sendid !== undefined) event.sendid = sendid;
      if (data !== undefined) event.data = data;
      if (content === null) event.raw = raw.toString();
      if (isHttp) {
        if (target === undefined) {
          throw Object.assign(new Error("send: a Basic HTTP send needs a target"), {
            communication: true,
          });
        }
        event.__http = true;
        const http = s.http;
        if (http !== null) event.origin = http.url;
        event.origintype = BASIC_HTTP_IO;
      } else if (target !== undefined) {
        if (target === `#_scxml_${s.id}`) target = undefined;
        else if (!target.startsWith("#_")) {
          throw new Error(`send: "${target}" is not a valid SCXML target`);
        }
      }
      if (target === "#_internal") {
        if (delay > 0) throw new Error("send: #_internal takes no delay");
        args.raise({ ...event, eventType: "internal" });
        return;
      }
      const opts: { to?: string; delay?: number; id?: string } = {};
      if (target !== undefined) opts.to = target;
      if (delay > 0) opts.delay = delay;
      opts.id = sendid ?? s.nextSendId();
      args.send(event, opts);
    };
    return (s, args) => {
      const type = a.type ?? (a.typeexpr !== undefined ? String(s.dm.eval(a.typeexpr)) : SCXML_IO);
      const isHttp = HTTP_TYPES.has(type);
      if (!SCXML_TYPES.has(type) && !isHttp) {
        throw new Error(`send: unsupported type "${type}"`);
      }
      let sendid: string | undefined = a.id;
      if (a.idlocation !== undefined) {
        sendid = s.nextSendId();
        s.dm.assign(a.idlocation, sendid);
      }
      try {
        sendNow(s, args, isHttp, sendid);
      } catch (e) {
        if (e !== null && typeof e === "object" && sendid !== undefined) {
          (e as { sendid?: string }).sendid = sendid;
        }
        throw e;
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
    const params = this.kids(el).filter((c) => c.name === "param").map((p) => this.param(p));
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
        staticChild = fromElement(inner, { baseUrl: this.#base, source: this.#source });
      } else contentExpr = contentEl.attrs.expr;
    } else if (a.src !== undefined) {
      const text = this.load(el, a.src);
      staticChild = fromSCXML(text, { baseUrl: new URL(a.src, this.#base), source: a.src });
    }
    const base = this.#base;
    const namelist = a.namelist?.trim().split(/\s+/).filter((x) => x !== "") ?? [];
    const id = a.id ?? `${stateId}.invoke${n}`;
    const doc = this.doc;
    const config: InvokeConfig = {
      id,
      src: DYNAMIC,
      autoForward: a.autoforward === "true",
      input: ({ context, event }) => {
        const s = sessionOf(context, doc);
        s.dm.event = toScxmlEvent(event);
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
          child = fromSCXML(text, { baseUrl: base });
        }
        const input: Record<string | symbol, unknown> = {};
        for (const name of namelist) {
          if (!s.dm.isDeclared(name)) throw new ReferenceError(`namelist: "${name}" undeclared`);
          input[name] = s.dm.eval(name);
        }
        for (const p of params) p(s, input as Record<string, unknown>);
        input[CHILD] = child;
        return input;
      },
    };
    if (finalizeEl !== undefined) config.finalize = [this.block(finalizeEl)];
    return config;
  }
}

const CHILD = Symbol("scxml.child");

/** The invoke `src` of every SCXML invoke: the child machine comes with the input. */
const DYNAMIC: MachineLike = {
  id: "scxml.invoke",
  start(options: StartOptions = {}): MachineInstance {
    const ctx = (options.context ?? {}) as Record<string | symbol, unknown>;
    const child = ctx[CHILD] as ScxmlMachine | undefined;
    if (child === undefined) throw new Error("invoke: no child machine");
    const context: Record<string, unknown> = {};
    for (const k of Object.keys(ctx)) context[k] = ctx[k];
    return child.start({ ...options, context });
  },
};

function initData(s: Session, args: Args, d: DataDecl): void {
  try {
    s.dm.declare(d.id, d.value(s));
  } catch (e) {
    s.dm.declare(d.id, undefined);
    raiseError(args, e);
  }
}

/** Runs one element of a block; on error raises error.execution and returns false. */
function runGuarded(s: Session, args: Args, item: Exec): boolean {
  try {
    item(s, args);
    return true;
  } catch (e) {
    raiseError(args, e);
    return false;
  }
}

function raiseError(args: Args, e: unknown): void {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const event: EventObject = {
    type: "error.execution",
    eventType: "platform",
    data: { message },
  };
  const sendid = (e as { sendid?: unknown } | null)?.sendid;
  if (typeof sendid === "string") event.sendid = sendid;
  const communication = (e as { communication?: unknown } | null)?.communication === true;
  if (communication) event.type = "error.communication";
  args.raise(event);
}

/**
 * Inline or loaded content: JSON when it parses, a DOM when it is XML, else the text with its
 * whitespace normalised.
 */
function parseContent(text: string, _s: Session): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  try {
    return JSON.parse(t);
  } catch {
    if (t.startsWith("<")) {
      try {
        return toDom([parseXml(t)]);
      } catch { /* not XML either */ }
    }
    return t.replace(/\s+/g, " ");
  }
}

function safeString(v: unknown): string {
  if (v === undefined) return "undefined";
  try {
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}

/** CSS2 durations: "1s", "1.5s", "200ms", ".5s", "0". */
export function parseCssDuration(text: string): number | undefined {
  const m = /^\s*(\d*\.?\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  const k = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return n * k;
}

export { expressionProblem, ScxmlError };
export type { MachineLike };
