/**
 * The run-time side of an SCXML machine: `ScxmlMachine` (a `Machine` whose instances each get
 * an SCXML session), the routing of sends the engine does not know (other sessions, Basic
 * HTTP), and the invoke source that starts a document's child machines.
 *
 * @module
 */
import { setOwn } from "./own.ts";
import type {
  MachineConfig,
  MachineInstance,
  MachineLike,
  Snapshot,
  StartOptions,
} from "../core/types.ts";
import { compiledOf, Machine } from "../core/machine.ts";
import { basicHttpSend } from "./io_processors.ts";
import type { Args } from "./executable.ts";
import { type ScxmlDocument, Session, SESSIONS } from "./session.ts";

/**
 * A machine made from an SCXML document by `fromSCXML`; the same API as one made by
 * `defineMachine`.
 *
 * @example
 * ```ts
 * import { fromSCXML, ScxmlMachine } from "./mod.ts";
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
    const session = new Session(SESSIONS, this.doc, {}, options.invokeId);
    let inst: MachineInstance;
    try {
      inst = SESSIONS.starting(
        session,
        () => super.start({ ...options, onSend: routeSend(session, options.onSend) }),
      );
    } catch (e) {
      session.close();
      throw e;
    }
    return attach(session, inst, this, options.parent !== undefined);
  }

  /** Continues an instance from a snapshot, with a new SCXML session over its data. */
  override restore(snapshot: Snapshot, options: StartOptions = {}): MachineInstance {
    const session = new Session(SESSIONS, this.doc, {}, options.invokeId);
    let inst: MachineInstance;
    try {
      inst = SESSIONS.starting(
        session,
        () => super.restore(snapshot, { ...options, onSend: routeSend(session, options.onSend) }),
      );
    } catch (e) {
      session.close();
      throw e;
    }
    SESSIONS.bindContext(inst.context as object, session);
    return attach(session, inst, this, options.parent !== undefined);
  }
}

/**
 * Ties a session to its started instance. The session closes when the instance stops (here)
 * or reaches a top-level final state (the document root's exit action, made by the builder):
 * no listener is subscribed, so an instance nobody watches builds no monitoring records.
 */
function attach(
  session: Session,
  inst: MachineInstance,
  machine: ScxmlMachine,
  invoked: boolean,
): MachineInstance {
  session.instance = inst;
  const early = session.earlyErrors;
  if (early !== null) {
    session.earlyErrors = null;
    for (const { event, message } of early) session.reportError(event, message);
  }
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
      const other = SESSIONS.get(target.slice(8));
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

/** The key under which an invoke's input carries the child machine to start. */
export const CHILD: unique symbol = Symbol("scxml.child");

/** The invoke `src` of every SCXML invoke: the child machine comes with the input. */
export const SCXML_INVOKE_SRC: MachineLike = {
  id: "scxml.invoke",
  start(options: StartOptions = {}): MachineInstance {
    const ctx = (options.context ?? {}) as Record<string | symbol, unknown>;
    const child = ctx[CHILD] as ScxmlMachine | undefined;
    if (child === undefined) throw new Error("invoke: no child machine");
    const context: Record<string, unknown> = {};
    for (const k of Object.keys(ctx)) setOwn(context, k, ctx[k]);
    return child.start({ ...options, context });
  },
};
