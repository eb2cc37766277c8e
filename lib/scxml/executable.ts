/**
 * SCXML executable content (`<raise>`, `<log>`, `<assign>`, `<script>`, `<cancel>`, `<if>`,
 * `<foreach>`, `<send>` with `<param>` and `<content>`) compiled once into closures over a
 * session's data model. A block (`<onentry>`, `<onexit>`, a transition's body) stops at its
 * first error and raises `error.execution` (or `error.communication`), as SCXML says; the
 * error is also reported to the instance's listeners with the element and its line.
 *
 * @module
 */
import type { ActionArgs, EventObject } from "../core/types.ts";
import { parseDuration } from "../core/duration.ts";
import { elements, parseXml, textOf, toDom, type XmlElement } from "./parse.ts";
import { BASIC_HTTP_IO, isIdentifier, SCXML_IO } from "./datamodel.ts";
import { type ScxmlDocument, type Session, SESSIONS } from "./session.ts";
import { setOwn } from "./own.ts";
import { enterSite, leaveSite } from "./time_limit.ts";

/** The arguments the engine hands an action. */
export type Args = ActionArgs<Record<string, unknown>, EventObject>;
/** One compiled element of executable content. */
export type Exec = (s: Session, a: Args) => void;
/** A compiled `<param>`: adds its name and value to `out` (and to the raw form). */
export type ParamFn = (s: Session, out: Record<string, unknown>, raw?: URLSearchParams) => void;

/** What compiling content needs from the document builder. */
export interface ContentReader {
  readonly doc: ScxmlDocument;
  /** Throws an `ScxmlError` at the element. */
  fail(el: XmlElement, message: string): never;
  /** Checks the element is SCXML and its attributes are known. */
  check(el: XmlElement): void;
  /** The element's SCXML children. */
  kids(el: XmlElement): XmlElement[];
  /** Reads a `src` (at load time). */
  load(el: XmlElement, src: string): string;
  /** `file:line:column` of an element, for run-time error messages. */
  where(el: XmlElement): string;
}

const SCXML_TYPES = new Set([SCXML_IO, "scxml", "http://www.w3.org/TR/scxml/"]);
const HTTP_TYPES = new Set([BASIC_HTTP_IO, "basichttp"]);
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

/** Where an error of executable content was thrown: the innermost element's location. */
const errorSites = new WeakMap<object, string>();

/** Compiles executable content of one document. */
export class ExecutableContent {
  readonly #r: ContentReader;

  constructor(reader: ContentReader) {
    this.#r = reader;
  }

  /** A block of executable content: an error ends it and raises error.execution. */
  block(el: XmlElement): (a: Args) => void {
    const items = this.#r.kids(el).map((c) => this.exec(c));
    const doc = this.#r.doc;
    return (args: Args) => {
      const s = SESSIONS.of(args.context, doc);
      s.bind(args);
      for (const item of items) if (!runGuarded(s, args, item)) return;
    };
  }

  /** Elements run in order (an `<if>` branch, a `<foreach>` body). */
  seq(els: XmlElement[]): Exec {
    const items = els.map((c) => this.exec(c));
    return (s, a) => {
      for (const item of items) item(s, a);
    };
  }

  /** One element of executable content; its errors carry its location. */
  exec(el: XmlElement): Exec {
    const fn = this.#compile(el);
    const where = `<${el.name}> at ${this.#r.where(el)}`;
    return (s, a) => {
      enterSite(el);
      try {
        fn(s, a);
      } catch (e) {
        if (typeof e === "object" && e !== null && !errorSites.has(e)) errorSites.set(e, where);
        throw e;
      } finally {
        leaveSite();
      }
    };
  }

  #compile(el: XmlElement): Exec {
    const r: ContentReader = this.#r;
    r.check(el);
    if (!EXECUTABLE.has(el.name)) r.fail(el, `<${el.name}> is not executable content`);
    switch (el.name) {
      case "raise": {
        const event = el.attrs.event;
        if (event === undefined) r.fail(el, "<raise> needs an event");
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
        if (location === undefined) r.fail(el, "<assign> needs a location");
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
        const code = src !== undefined ? r.load(el, src) : textOf(el);
        return (s) => s.dm.exec(code);
      }
      case "cancel": {
        const { sendid, sendidexpr } = el.attrs;
        return (s, a) => a.cancel(String(sendid ?? s.dm.eval(sendidexpr!)));
      }
      case "if":
        return this.#if(el);
      case "foreach": {
        const { array, item, index } = el.attrs;
        if (array === undefined || item === undefined) {
          r.fail(el, "<foreach> needs array and item");
        }
        const body = this.seq(r.kids(el));
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
        r.fail(el, `<${el.name}> is not allowed here`);
    }
  }

  #if(el: XmlElement): Exec {
    const branches: { cond: string | null; body: Exec }[] = [];
    let cond: string | null = el.attrs.cond ?? "false";
    let body: XmlElement[] = [];
    for (const c of this.#r.kids(el)) {
      if (c.name === "elseif" || c.name === "else") {
        this.#r.check(c);
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

  /** `<send>`: SCXML and Basic HTTP targets, delays, params, namelist or content. */
  send(el: XmlElement): Exec {
    const r: ContentReader = this.#r;
    const a = el.attrs;
    const both = (x: string, y: string) => {
      if (a[x] !== undefined && a[y] !== undefined) {
        r.fail(el, `<send> has both ${x} and ${y}`);
      }
    };
    both("event", "eventexpr");
    both("target", "targetexpr");
    both("type", "typeexpr");
    both("id", "idlocation");
    both("delay", "delayexpr");
    const params = r.kids(el).filter((c) => c.name === "param").map((p) => this.param(p));
    const contentEl = r.kids(el).find((c) => c.name === "content");
    const content = contentEl !== undefined ? this.content(contentEl) : null;
    for (const c of r.kids(el)) {
      if (c.name !== "param" && c.name !== "content") {
        r.fail(c, `<${c.name}> cannot be a child of <send>`);
      }
    }
    if (content !== null && (params.length > 0 || a.namelist !== undefined)) {
      r.fail(el, "<send> has <content> together with namelist or <param>");
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
        const ms = parseDuration(delayText);
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
          setOwn(out, n, s.dm.eval(n));
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

  /** `<content>`: an expression's value, inline XML as a DOM, or inline text (JSON if it parses). */
  content(el: XmlElement): (s: Session) => unknown {
    this.#r.check(el);
    const expr = el.attrs.expr;
    if (expr !== undefined) return (s) => s.dm.eval(expr);
    const xmlKids = elements(el);
    if (xmlKids.length > 0) return () => toDom(xmlKids);
    const text = textOf(el);
    return () => parseContent(text);
  }

  /** `<param name expr|location>`. */
  param(el: XmlElement): ParamFn {
    const r: ContentReader = this.#r;
    r.check(el);
    const name = el.attrs.name;
    if (name === undefined) r.fail(el, "<param> needs a name");
    const { expr, location } = el.attrs;
    if (expr === undefined && location === undefined) {
      r.fail(el, "<param> needs expr or location");
    }
    return (s, out, raw) => {
      if (location !== undefined && !s.dm.isDeclared(location)) {
        throw new ReferenceError(`param "${name}": "${location}" is not a declared location`);
      }
      const value = s.dm.eval(expr ?? location!);
      setOwn(out, name, value);
      raw?.append(name, safeString(value));
    };
  }
}

/** Runs one element of a block; on error raises error.execution and returns false. */
export function runGuarded(s: Session, args: Args, item: Exec): boolean {
  try {
    item(s, args);
    return true;
  } catch (e) {
    raiseError(s, args, e);
    return false;
  }
}

/**
 * Raises `error.execution` (or `error.communication`) for an error of executable content,
 * and reports it, with where it was thrown, to the instance's listeners.
 */
export function raiseError(s: Session, args: Args, e: unknown, where?: string): void {
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
  const site = (typeof e === "object" && e !== null ? errorSites.get(e) : undefined) ?? where;
  s.reportError(args.event.type, site === undefined ? message : `${site}: ${message}`);
}

/**
 * Inline or loaded content: JSON when it parses, a DOM when it is XML, else the text with its
 * whitespace normalised.
 */
export function parseContent(text: string): unknown {
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

/** A value as text for a log line or a form field. */
export function safeString(v: unknown): string {
  if (v === undefined) return "undefined";
  try {
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}
