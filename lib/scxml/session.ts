/**
 * SCXML sessions: the run-time state of one SCXML instance beside its engine context (its
 * data model, session id, I/O processors, send ids), and the registry that finds a session by
 * its id (for `#_scxml_<sessionid>` targets) or by its engine context (for the document's
 * actions and guards, which the engine hands only the context).
 *
 * @module
 */
import type { EventObject, MachineInstance } from "../core/types.ts";
import { BASIC_HTTP_IO, DataModel, SCXML_IO } from "./datamodel.ts";
import { ensureHttpListener, type HttpListener } from "./io_processors.ts";

/** A parsed document, kept by its machines for sessions and invocations. */
export interface ScxmlDocument {
  name: string | undefined;
  baseUrl: URL;
  usesHttp: boolean;
  /** The document's text (what `toSCXML` gives back). */
  source?: string;
}

/** The run-time state of one SCXML instance beside its engine context. */
export class Session {
  readonly dm: DataModel;
  readonly doc: ScxmlDocument;
  instance: MachineInstance | null = null;
  invokeId: string | undefined;
  lateDone: Set<string> = new Set();
  http: HttpListener | null = null;
  /** Errors of executable content caught before the instance existed (during its start). */
  earlyErrors: { event: string; message: string }[] | null = null;
  readonly #registry: SessionRegistry;
  #sendSeq = 0;

  constructor(
    registry: SessionRegistry,
    doc: ScxmlDocument,
    data: Record<string, unknown>,
    invokeId?: string,
  ) {
    this.#registry = registry;
    this.doc = doc;
    const sessionid = `${crypto.randomUUID()}`;
    const io: Record<string, { location: string }> = {};
    const scxml = { location: `#_scxml_${sessionid}` };
    io[SCXML_IO] = scxml;
    io.scxml = scxml;
    this.dm = new DataModel(data, sessionid, doc.name, io);
    this.invokeId = invokeId;
    registry.add(this);
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

  /** What the document's expressions see of the engine's call: `_event` and `In()`. */
  bind(args: { event: EventObject; matches(id: string): boolean }): void {
    this.dm.setEvent(args.event);
    this.dm.inState = args.matches;
  }

  deliver(event: EventObject): void {
    const inst = this.instance as unknown as { deliver?(e: EventObject): void } | null;
    if (inst === null || inst.deliver === undefined) return;
    inst.deliver(event);
  }

  /**
   * Reports an error of executable content (already raised as `error.execution`) to the
   * instance's listeners and error count, as the engine does for a throwing TypeScript action.
   */
  reportError(event: string, message: string): void {
    const inst = this.instance as
      | { internalReportError?(event: string, message: string): void }
      | null;
    if (inst === null) (this.earlyErrors ??= []).push({ event, message });
    else inst.internalReportError?.(event, message);
  }

  close(): void {
    this.#registry.remove(this);
    this.http?.release();
    this.http = null;
  }
}

/** Live sessions by id and by engine context. */
export class SessionRegistry {
  readonly #byId = new Map<string, Session>();
  readonly #byContext = new WeakMap<object, Session>();
  /** The session of the instance being started or restored (bound by its first action). */
  #pending: Session | null = null;
  // The last lookup: an instance's actions and guards ask with the same context in a row.
  #lastContext: object | null = null;
  #lastSession: Session | null = null;

  add(session: Session): void {
    this.#byId.set(session.id, session);
  }

  remove(session: Session): void {
    this.#byId.delete(session.id);
  }

  /** The live session with this id. */
  get(id: string): Session | undefined {
    return this.#byId.get(id);
  }

  /** Runs `fn` (an engine start or restore) with `session` waiting for its context. */
  starting<T>(session: Session, fn: () => T): T {
    const saved = this.#pending;
    this.#pending = session;
    try {
      return fn();
    } finally {
      this.#pending = saved;
    }
  }

  /** Binds a session to an engine context (a restored instance whose actions did not run). */
  bindContext(context: object, session: Session): void {
    if (this.#byContext.has(context)) return;
    this.#byContext.set(context, session);
    (session.dm as { data: Record<string, unknown> }).data = context as Record<string, unknown>;
  }

  /**
   * The session of an engine context: the one being started (bound now), or a new one for a
   * context that never had one.
   */
  of(context: Record<string, unknown>, doc: ScxmlDocument): Session {
    if (context === this.#lastContext) return this.#lastSession!;
    let s = this.#byContext.get(context);
    if (s === undefined) {
      const pending = this.#pending;
      s = pending !== null && pending.doc === doc ? pending : new Session(this, doc, context);
      if (s === pending) this.#pending = null;
      this.bindContext(context, s);
    }
    this.#lastContext = context;
    this.#lastSession = s;
    return s;
  }
}

/** The process's sessions: `#_scxml_` targets reach any session of any document. */
export const SESSIONS: SessionRegistry = new SessionRegistry();
