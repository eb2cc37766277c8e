/**
 * The interpreter: the W3C SCXML algorithm (Appendix D of the recommendation), procedure for
 * procedure, so a reviewer can hold this file next to the spec. Statecraft's extras sit beside
 * it: deferral, change events (`when`), delayed transitions (`after`) and invoked functions.
 *
 * Speed comes from the compiled model, not from shortcuts in the semantics: states are numbered
 * in document order, so "descendant of" is a range check and the configuration is a sorted
 * array; transition domains and entry sets are computed once per transition unless a history
 * state makes them depend on the run.
 *
 * @module
 */
import type {
  AcceptedEventsOptions,
  ActionArgs,
  AsyncDelivery,
  Clock,
  EventInput,
  EventObject,
  ExecutionProbe,
  InstanceStats,
  InstanceStatus,
  MachineInstance,
  MonitorRecord,
  SendOptions,
  Snapshot,
  SnapshotTimer,
  StandardSchema,
  StartOptions,
} from "./types.ts";
import {
  type ActionFn,
  type CompiledMachine,
  compiledOf,
  computeDomain,
  type EntrySet,
  isDescendant,
  type StateNode,
  type Transition,
} from "./compile.ts";
import { matchesAny } from "./descriptor.ts";
import { parseDuration } from "./duration.ts";
import { EventError, SnapshotError } from "./errors.ts";

/**
 * Thrown by `send` when eventless transitions or raised events never settle: more than
 * `StartOptions.maxMicrosteps` microsteps in one macrostep.
 *
 * @example
 * ```ts
 * import { LivelockError } from "./interpreter.ts";
 * import { defineMachine } from "./machine.ts";
 * const pingPong = defineMachine({
 *   id: "pingPong",
 *   initial: "idle",
 *   states: { idle: { on: { GO: "ping" } }, ping: { always: "pong" }, pong: { always: "ping" } },
 * });
 * const i = pingPong.start({ maxMicrosteps: 100 });
 * try {
 *   i.send("GO");
 * } catch (e) {
 *   if (!(e instanceof LivelockError)) throw e;
 * }
 * ```
 */
export class LivelockError extends Error {
  /**
   * Made by the engine when a macrostep exceeds `StartOptions.maxMicrosteps`.
   *
   * @param message what did not settle, and in which instance and states.
   */
  constructor(message: string) {
    super(message);
    this.name = "LivelockError";
  }
}

interface TimerEntry {
  sendId: string;
  event: EventObject;
  due: number;
  to: string | undefined;
  handle: unknown;
}

interface RunningInvoke {
  id: string;
  node: StateNode;
  autoForward: boolean;
  finalize: ActionFn[];
  controller: AbortController;
  // deno-lint-ignore no-explicit-any
  child: MachineInstance<any> | null;
  /** An invoked function's effect id (`InvokeArgs.effectId`). */
  effectId?: string;
}

/** What the interpreter needs from its machine (a `Machine`, whose compiled model it reads). */
export interface MachineHandle {
  readonly version: string | number | undefined;
  readonly schemas: Record<string, StandardSchema> | undefined;
}

const NO_TRANSITIONS: Transition[] = [];
/** The event before the first one: what entry actions of the initial states see. */
const NO_EVENT: EventObject = Object.freeze({ type: "" }) as EventObject;
const DEFAULT_MAX_MICROSTEPS = 10_000;
let instanceCounter = 0;

function plainError(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

/**
 * The tools actions and guards receive. One per instance, reused: fields are set before each
 * call, which keeps a send free of per-action allocations.
 */
class Tools implements ActionArgs<Record<string, unknown>, EventObject> {
  context: Record<string, unknown>;
  event: EventObject;
  // deno-lint-ignore no-explicit-any
  readonly #i: Instance<any, any>;
  // Actions destructure these (`({ send }) => send("X")`), so each is a bound function, made
  // on first use: an instance whose actions never raise or send pays nothing for them.
  #raise?: ActionArgs["raise"];
  #send?: ActionArgs["send"];
  #cancel?: ActionArgs["cancel"];
  #log?: ActionArgs["log"];
  #assign?: ActionArgs["assign"];
  #matches?: ActionArgs["matches"];

  // deno-lint-ignore no-explicit-any
  constructor(instance: Instance<any, any>, context: Record<string, unknown>) {
    this.#i = instance;
    this.context = context;
    this.event = NO_EVENT;
  }
  get raise(): ActionArgs["raise"] {
    return this.#raise ??= (event) => this.#i.internalRaise(toEvent(event, "raise"));
  }
  get send(): ActionArgs["send"] {
    return this.#send ??= (event, options) => this.#i.internalSend(toEvent(event, "send"), options);
  }
  get cancel(): ActionArgs["cancel"] {
    return this.#cancel ??= (sendId) => this.#i.internalCancel(sendId);
  }
  get log(): ActionArgs["log"] {
    return this.#log ??= (...values) => this.#i.internalLog(values);
  }
  get assign(): ActionArgs["assign"] {
    return this.#assign ??= (patch) => {
      if (typeof patch !== "object" || patch === null) {
        throw new TypeError("assign expects an object of context fields");
      }
      Object.assign(this.context, patch);
    };
  }
  get matches(): ActionArgs["matches"] {
    return this.#matches ??= (stateId) => this.#i.matches(stateId);
  }
}

function toEvent(input: unknown, where: string): EventObject {
  if (typeof input === "string") {
    if (input === "") throw new EventError(`${where}: an event name must not be empty`);
    return { type: input };
  }
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const type = (input as { type?: unknown }).type;
    if (typeof type === "string" && type !== "") return input as EventObject;
  }
  throw new EventError(
    `${where}: an event must be a non-empty string or an object with a string "type", got ${
      describeValue(input)
    }`,
  );
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return `an object without a string "type"`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * A running machine instance, created by `Machine.start` and `Machine.restore`. Events are
 * processed synchronously: when `send` returns, the macrostep (and any events it raised) is
 * done. Delayed sends fire through the instance's clock.
 *
 * @example
 * ```ts
 * import { defineMachine } from "./machine.ts";
 * import { VirtualClock } from "./clock.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   context: { opened: 0 },
 *   states: {
 *     closed: { on: { OPEN: { target: "open", actions: ({ context }) => context.opened++ } } },
 *     open: { after: { "30s": "closed" }, on: { CLOSE: "closed" } },
 *   },
 * });
 * const clock = new VirtualClock();
 * const d = door.start({ clock, id: "front" });
 * d.subscribe((r) => r.kind === "transition" && console.log(r.source, "->", r.targets));
 * d.can("OPEN"); // true
 * d.send("OPEN");
 * d.matches("open"); // true
 * d.acceptedEvents(); // ["CLOSE"] (the `after` event is internal)
 * clock.advance(30_000);
 * d.configuration; // ["closed"]; d.context.opened is 1
 * const saved = d.snapshot(); // plain JSON, for `door.restore(saved)`
 * d.stop();
 * ```
 */
export class Instance<C = Record<string, unknown>, E extends EventObject = EventObject>
  implements MachineInstance<C, E> {
  readonly id: string;
  readonly machineId: string;
  readonly #machine: MachineHandle;
  readonly #m: CompiledMachine;
  readonly #clock: Clock;
  readonly #options: StartOptions<C>;
  #toolsObject: Tools | null = null;
  #context: Record<string, unknown>;
  /** The configuration: active states (root excluded), sorted by document order. */
  #config: StateNode[] = [];
  #status: InstanceStatus = "active";
  #done = false;
  #running = false;
  #event: EventObject = NO_EVENT;
  #internal: EventObject[] | null = null;
  #external: EventObject[] | null = null;
  #deferred: EventObject[] | null = null;
  #timers: Map<number, TimerEntry> | null = null;
  #timerSeq = 0;
  #invokes: Map<string, RunningInvoke> | null = null;
  /** Invoked functions started, for default effect ids. */
  #effects = 0;
  #history: Map<StateNode, StateNode[]> | null = null;
  /** Bumped whenever a recorded history changes: the key of #historyCache entries. */
  #historyVersion = 0;
  /** Entry set and domain of each history-target transition, for one history version. */
  #historyCache: Map<Transition, HistoryCacheEntry> | null = null;
  #whenTrue: Set<Transition> | null = null;
  #toInvoke: StateNode[] | null = null;
  #listeners: ((record: MonitorRecord) => void)[] | null = null;
  /** Coverage hooks (`StartOptions.probe`); null when unused: each call site is one check. */
  #probe: ExecutionProbe | null = null;
  #output: unknown = undefined;
  #nextId = 0;
  #dry = false;
  #stepCount = 0;
  #events = 0;
  #transitions = 0;
  #errors = 0;
  #microsteps = 0;

  /** @internal Use `machine.start()` or `machine.restore()`. */
  constructor(machine: MachineHandle, options: StartOptions<C>, clock: Clock) {
    this.#machine = machine;
    this.#m = compiledOf(machine);
    this.machineId = this.#m.id;
    this.id = options.id ?? `${this.#m.id}-${++instanceCounter}`;
    this.#clock = clock;
    this.#options = options;
    this.#context = {};
    if (options.listener !== undefined) this.#listeners = [options.listener];
    if (options.probe !== undefined) this.#probe = options.probe;
  }

  /** Made on the first action or guard call: idle instances stay small. */
  get #tools(): Tools {
    return this.#toolsObject ??= new Tools(this, this.#context);
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  get configuration(): string[] {
    return this.#config.map((s) => s.id);
  }

  get atomicConfiguration(): string[] {
    const out: string[] = [];
    for (const s of this.#config) if (s.children.length === 0) out.push(s.id);
    return out;
  }

  get context(): C {
    return this.#context as C;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  get output(): unknown {
    return this.#output;
  }

  get stats(): InstanceStats {
    return {
      events: this.#events,
      transitions: this.#transitions,
      errors: this.#errors,
      microsteps: this.#microsteps,
    };
  }

  send(input: EventInput<E>): void {
    const event = toEvent(input, "send");
    if (this.#status !== "active") {
      throw new EventError(
        `instance "${this.id}" is ${this.#status}: event "${event.type}" was not processed`,
      );
    }
    const schema = this.#machine.schemas?.[event.type];
    if (schema !== undefined) checkPayload(schema, event);
    const queue = (this.#external ??= []);
    if (this.#running) {
      queue.push(event);
      return;
    }
    // Idle with nothing queued (the usual case): process it without a push and a shift.
    if (queue.length > 0) queue.push(event);
    const error = this.#drain(queue.length > 0 ? undefined : event);
    if (error !== null) throw error;
  }

  matches(stateId: string): boolean {
    const node = this.#m.byId.get(stateId);
    if (node === undefined) return false;
    return node === this.#m.root || this.#isActive(node);
  }

  can(input: EventInput<E>): boolean {
    if (this.#status !== "active") return false;
    const event = toEvent(input, "can");
    if (this.#isDeferred(event)) return false;
    this.#dry = true;
    try {
      return this.#selectTransitions(event).length > 0;
    } finally {
      this.#dry = false;
    }
  }

  acceptedEvents(options: AcceptedEventsOptions = {}): string[] {
    if (this.#status !== "active") return [];
    const found = new Set<string>();
    const visit = (state: StateNode) => {
      for (const t of state.eventful) {
        if (t.generated !== null) continue;
        for (const token of t.events!) {
          if (token === "*" || found.has(token)) continue;
          const event = { type: token };
          if (this.#isDeferred(event)) continue;
          if (!options.ignoreGuards && t.guard !== null) {
            this.#dry = true;
            try {
              if (!this.#evalGuard(t, event)) continue;
            } finally {
              this.#dry = false;
            }
          }
          found.add(token);
        }
      }
    };
    visit(this.#m.root);
    for (const s of this.#config) visit(s);
    return [...found].sort();
  }

  /** @internal Sets (or, with null, removes) the coverage hooks of a running instance. */
  internalProbe(probe: ExecutionProbe | null): void {
    this.#probe = probe;
  }

  subscribe(listener: (record: MonitorRecord) => void): () => void {
    (this.#listeners ??= []).push(listener);
    return () => {
      if (this.#listeners === null) return;
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
      if (this.#listeners.length === 0) this.#listeners = null;
    };
  }

  stop(): void {
    if (this.#status === "stopped") return;
    this.#status = "stopped";
    this.#teardown();
  }

  snapshot(): Snapshot {
    return this.internalSnapshot(true);
  }

  /**
   * @internal The snapshot; with `copy` false, context and events are the live objects, for a
   * caller that serialises it at once (the store: it saves a deep copy per event).
   */
  internalSnapshot(copy: boolean): Snapshot {
    const json = copy ? toJson : identity;
    const history: Record<string, string[]> = {};
    if (this.#history !== null) {
      for (const [h, states] of this.#history) history[h.id] = states.map((s) => s.id);
    }
    const timers: SnapshotTimer[] = [];
    if (this.#timers !== null) {
      for (const t of this.#timers.values()) {
        const timer: SnapshotTimer = { sendId: t.sendId, event: json(t.event), due: t.due };
        if (t.to !== undefined) timer.to = t.to;
        timers.push(timer);
      }
      timers.sort((a, b) => a.due - b.due);
    }
    const children: Record<string, Snapshot> = {};
    if (this.#invokes !== null) {
      for (const inv of this.#invokes.values()) {
        if (inv.child !== null) {
          children[inv.id] = (inv.child as unknown as Instance).internalSnapshot(copy);
        }
      }
    }
    const snap: Snapshot = {
      format: "statecraft.snapshot/1",
      machine: this.#m.id,
      hash: this.#m.hash,
      id: this.id,
      status: this.#status,
      configuration: this.configuration,
      history,
      context: json(this.#context, "context"),
      timers,
      queue: (this.#external ?? []).map((e) => json(e)),
      deferred: (this.#deferred ?? []).map((e) => json(e)),
      when: this.#whenTrue === null ? [] : [...this.#whenTrue].map((t) => t.id).sort(),
      children,
      stats: this.stats,
      nextId: this.#nextId,
      time: this.#clock.now(),
    };
    if (this.#machine.version !== undefined) snap.version = this.#machine.version;
    if (this.#output !== undefined) snap.output = json(this.#output, "output");
    return snap;
  }

  // ---------------------------------------------------------------------------------------
  // Start and restore

  /** @internal Enters the initial configuration and runs the first macrostep. */
  start(context: Record<string, unknown>): this {
    this.#context = context;
    if (this.#toolsObject !== null) this.#toolsObject.context = context;
    const root = this.#m.root;
    this.#running = true;
    let error: Error | null = null;
    try {
      this.#runActions(root.entry, this.#event);
      this.#scheduleAfter(root);
      if (root.invokes.length > 0) (this.#toInvoke ??= []).push(root);
      const initial = this.#rootInitial();
      this.#enterStates([initial], this.#event);
      this.#macrostep();
    } catch (e) {
      error = e as Error;
    } finally {
      this.#running = false;
    }
    if (error !== null) throw error;
    if (this.#external !== null && this.#external.length > 0) {
      const e = this.#drain();
      if (e !== null) throw e;
    }
    // Pushes left spare capacity in the configuration; an idle instance keeps it exact.
    this.#config = this.#config.slice();
    return this;
  }

  /** @internal Continues from a snapshot (already checked against the machine's hash). */
  restoreFrom(snap: Snapshot): this {
    const m = this.#m;
    const nodes: StateNode[] = [];
    for (const id of snap.configuration) {
      const node = m.byId.get(id);
      if (node === undefined || node === m.root) {
        throw new SnapshotError(`snapshot of "${snap.id}": unknown state "${id}" in configuration`);
      }
      nodes.push(node);
    }
    nodes.sort((a, b) => a.index - b.index);
    checkLegalConfiguration(m, nodes, snap.id, snap.status);
    this.#config = nodes;
    this.#status = snap.status;
    this.#context = snap.context as Record<string, unknown>;
    if (this.#toolsObject !== null) this.#toolsObject.context = this.#context;
    for (const [hid, ids] of Object.entries(snap.history)) {
      const h = m.byId.get(hid);
      if (h === undefined || h.kind !== "history") {
        throw new SnapshotError(`snapshot of "${snap.id}": unknown history state "${hid}"`);
      }
      const states = ids.map((id) => {
        const s = m.byId.get(id);
        if (s === undefined || !isDescendant(s, h.parent!)) {
          throw new SnapshotError(
            `snapshot of "${snap.id}": history "${hid}" holds "${id}", which is not inside it`,
          );
        }
        return s;
      });
      (this.#history ??= new Map()).set(h, states);
    }
    if (snap.when.length > 0) {
      const byId = new Map(m.transitions.map((t) => [t.id, t]));
      for (const id of snap.when) {
        const t = byId.get(id);
        if (t !== undefined && t.when) (this.#whenTrue ??= new Set()).add(t);
      }
    }
    this.#output = snap.output;
    this.#nextId = snap.nextId;
    this.#events = snap.stats.events;
    this.#transitions = snap.stats.transitions;
    this.#errors = snap.stats.errors;
    this.#microsteps = snap.stats.microsteps;
    if (snap.deferred.length > 0) this.#deferred = snap.deferred.map((e) => ({ ...e }));
    if (snap.queue.length > 0) this.#external = snap.queue.map((e) => ({ ...e }));
    if (this.#status !== "active") return this;
    // Timers fire in due order; overdue ones fire as soon as the clock lets them.
    const now = this.#clock.now();
    for (const t of snap.timers) this.#arm(t.sendId, { ...t.event }, t.due, t.to, now);
    // Invocations of active states run again (child machines continue from their snapshot).
    const restart: StateNode[] = [];
    if (m.root.invokes.length > 0) restart.push(m.root);
    for (const s of nodes) if (s.invokes.length > 0) restart.push(s);
    this.#running = true;
    try {
      for (const s of restart) this.#startInvokes(s, snap.children);
    } finally {
      this.#running = false;
    }
    if (this.#external !== null && this.#external.length > 0) {
      const e = this.#drain();
      if (e !== null) throw e;
    }
    return this;
  }

  // ---------------------------------------------------------------------------------------
  // Entry points used by Tools, timers, invocations and child machines

  /** @internal */
  internalRaise(event: EventObject): void {
    (this.#internal ??= []).push(event);
  }

  /** @internal */
  internalSend(event: EventObject, options: SendOptions | undefined): void {
    const to = options?.to;
    let delay = 0;
    if (options?.delay !== undefined) {
      const ms = parseDuration(options.delay);
      if (ms === undefined) {
        throw new EventError(`send: "${String(options.delay)}" is not a delay`);
      }
      delay = ms;
    }
    const sendId = options?.id ?? `send.${++this.#nextId}`;
    if (delay > 0) {
      const now = this.#clock.now();
      this.#arm(sendId, event, now + delay, to, now);
      return;
    }
    this.#dispatch(event, to);
  }

  /** @internal */
  internalCancel(sendId: string): void {
    if (this.#timers === null) return;
    for (const [key, t] of this.#timers) {
      if (t.sendId === sendId) {
        this.#clock.clearTimer(t.handle);
        this.#timers.delete(key);
      }
    }
  }

  /** @internal */
  internalLog(values: unknown[]): void {
    this.#options.log?.(this.id, values);
    this.#emit({ kind: "log", time: this.#clock.now(), instance: this.id, values });
  }

  /**
   * @internal An error of executable content that its caller handled (an SCXML block raises
   * its own `error.execution`): counted and reported to listeners as a throwing action is.
   */
  internalReportError(event: string, message: string): void {
    this.#reportError(event, new Error(message));
  }

  /** @internal An event from outside the current call (timer, invocation, parent, child). */
  deliver(event: EventObject): void {
    if (this.#status !== "active") return;
    (this.#external ??= []).push(event);
    if (this.#running) return;
    const error = this.#drain();
    if (error !== null) this.#reportError("(delivery)", error);
  }

  // ---------------------------------------------------------------------------------------
  // The event loop (SCXML mainEventLoop), made synchronous: a send runs until the external
  // queue is empty; delayed events and invocation results arrive later through deliver().

  #drain(first?: EventObject): Error | null {
    this.#running = true;
    try {
      const queue = (this.#external ??= []);
      let next = first;
      while (this.#status === "active" && (next !== undefined || queue.length > 0)) {
        const event = next ?? queue.shift()!;
        next = undefined;
        if (this.#m.hasDefer && this.#isDeferred(event)) {
          (this.#deferred ??= []).push(event);
          continue;
        }
        this.#processExternalEvent(event);
        if (this.#deferred !== null && this.#deferred.length > 0) this.#releaseDeferred(queue);
      }
      return null;
    } catch (e) {
      if (e instanceof LivelockError) return e;
      throw e;
    } finally {
      this.#running = false;
    }
  }

  #processExternalEvent(event: EventObject): void {
    this.#events++;
    if (this.#listeners !== null) {
      this.#emit({ kind: "event", time: this.#clock.now(), instance: this.id, event });
    }
    this.#event = event;
    if (this.#invokes !== null) {
      for (const inv of this.#invokes.values()) {
        if (inv.finalize.length > 0 && event.invokeId === inv.id) {
          this.#runActions(inv.finalize, event);
        }
        if (inv.autoForward && inv.child !== null) {
          (inv.child as unknown as Instance).deliver({ ...event });
        }
      }
    }
    const enabled = this.#selectTransitions(event);
    this.#stepCount = 0;
    if (enabled.length > 0) this.#microstep(enabled, event);
    this.#macrostep();
  }

  /** The inner loop of mainEventLoop: eventless transitions and internal events until stable. */
  #macrostep(): void {
    const limit = this.#options.maxMicrosteps ?? DEFAULT_MAX_MICROSTEPS;
    for (;;) {
      while (!this.#done) {
        let enabled = this.#m.hasEventless ? this.#selectEventlessTransitions() : NO_TRANSITIONS;
        let event = this.#event;
        if (enabled.length === 0) {
          if (this.#internal === null || this.#internal.length === 0) break;
          event = this.#internal.shift()!;
          this.#event = event;
          enabled = this.#selectTransitions(event);
        }
        if (enabled.length > 0) {
          if (++this.#stepCount > limit) {
            this.#internal = null;
            const states = enabled.map((t) => t.source.id).join(", ");
            const err = new LivelockError(
              `instance "${this.id}": more than ${limit} microsteps in one macrostep ` +
                `(transitions from ${states} keep firing); the macrostep was cut short`,
            );
            this.#reportError(event.type, err);
            throw err;
          }
          this.#microstep(enabled, event);
        }
      }
      if (this.#done) break;
      if (this.#toInvoke !== null && this.#toInvoke.length > 0) {
        const states = this.#toInvoke.sort((a, b) => a.index - b.index);
        this.#toInvoke = null;
        for (const s of states) this.#startInvokes(s, undefined);
      }
      if (this.#internal === null || this.#internal.length === 0) break;
    }
    if (this.#done) this.#exitInterpreter();
    if (this.#listeners !== null) {
      this.#emit({
        kind: "macrostep",
        time: this.#clock.now(),
        instance: this.id,
        configuration: this.configuration,
      });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Transition selection

  #selectEventlessTransitions(): Transition[] {
    let enabled: Transition[] = NO_TRANSITIONS;
    const config = this.#config;
    for (let i = 0; i < config.length; i++) {
      const atomic = config[i];
      if (atomic.children.length !== 0) continue;
      loop: for (let s: StateNode | null = atomic; s !== null; s = s.parent) {
        const list = s.eventless;
        for (let j = 0; j < list.length; j++) {
          const t = list[j];
          if (t.when ? this.#whenFires(t) : (t.guard === null || this.#evalGuard(t, this.#event))) {
            if (enabled === NO_TRANSITIONS) enabled = [t];
            else if (!enabled.includes(t)) enabled.push(t);
            break loop;
          }
        }
      }
    }
    return enabled.length > 1 ? this.#removeConflictingTransitions(enabled) : enabled;
  }

  #selectTransitions(event: EventObject): Transition[] {
    let enabled: Transition[] = NO_TRANSITIONS;
    const config = this.#config;
    const name = event.type;
    for (let i = 0; i < config.length; i++) {
      const atomic = config[i];
      if (atomic.children.length !== 0) continue;
      loop: for (let s: StateNode | null = atomic; s !== null; s = s.parent) {
        if (s.eventful.length === 0) continue;
        let candidates = s.candidates.get(name);
        if (candidates === undefined) candidates = this.#candidates(s, name);
        for (let j = 0; j < candidates.length; j++) {
          const t = candidates[j];
          if (t.guard === null || this.#evalGuard(t, event)) {
            if (enabled === NO_TRANSITIONS) enabled = [t];
            else if (!enabled.includes(t)) enabled.push(t);
            break loop;
          }
        }
      }
    }
    return enabled.length > 1 ? this.#removeConflictingTransitions(enabled) : enabled;
  }

  /** The eventful transitions of a state matching an event name; cached per name (bounded). */
  #candidates(s: StateNode, name: string): Transition[] {
    const list: Transition[] = [];
    for (const t of s.eventful) {
      // Names the engine generates (onDone, after, invoke results) are exact: a state's id is
      // a prefix of its descendants' ids, so SCXML prefix matching would let
      // "done.state.p" fire on "done.state.p.region". Descriptors users write match by prefix.
      if (t.generated !== null ? t.events![0] === name : matchesAny(t.events!, name)) list.push(t);
    }
    if (s.candidates.size < 1024) s.candidates.set(name, list);
    return list;
  }

  #evalGuard(t: Transition, event: EventObject): boolean {
    const tools = this.#tools;
    tools.event = event;
    let result: boolean;
    try {
      result = t.guard!(tools) === true;
    } catch (e) {
      if (!this.#dry) this.#executionError(e, `guard of ${describeTransition(t)}`);
      result = false;
    }
    if (this.#probe !== null && !this.#dry) this.#probeGuard(t, result);
    return result;
  }

  #probeGuard(t: Transition, result: boolean): void {
    try {
      this.#probe!.guard(t.id, result);
    } catch {
      // Like a listener's: a probe's failure must not change the machine's behaviour.
    }
  }

  #probeTransition(t: Transition): void {
    try {
      this.#probe!.transition(t.id);
    } catch {
      // Like a listener's: a probe's failure must not change the machine's behaviour.
    }
  }

  /** A change event fires when its condition is true now and was not at the last look. */
  #whenFires(t: Transition): boolean {
    if (this.#dry) return false;
    const now = this.#evalGuard(t, this.#event);
    const memory = this.#whenTrue;
    const before = memory !== null && memory.has(t);
    if (now && !before) (this.#whenTrue ??= new Set()).add(t);
    else if (!now && before) memory!.delete(t);
    return now && !before;
  }

  /**
   * SCXML removeConflictingTransitions. Two transitions conflict when their exit sets
   * intersect; an exit set is the active part of the domain's document-order range, and
   * ranges of a tree are nested or disjoint, so they intersect exactly when one domain
   * contains the other and the inner one has an active descendant. That makes each test O(1)
   * instead of building and intersecting two sets.
   */
  #removeConflictingTransitions(enabled: Transition[]): Transition[] {
    const filtered: Transition[] = [];
    for (const t1 of enabled) {
      let preempted = false;
      let toRemove: Transition[] | null = null;
      const d1 = this.#getTransitionDomain(t1);
      if (d1 !== null) {
        for (const t2 of filtered) {
          const d2 = this.#getTransitionDomain(t2);
          if (d2 === null || !this.#exitSetsIntersect(d1, d2)) continue;
          if (isDescendant(t1.source, t2.source)) (toRemove ??= []).push(t2);
          else {
            preempted = true;
            break;
          }
        }
      }
      if (!preempted) {
        if (toRemove !== null) {
          for (const t3 of toRemove) filtered.splice(filtered.indexOf(t3), 1);
        }
        filtered.push(t1);
      }
    }
    return filtered;
  }

  #exitSetsIntersect(d1: StateNode, d2: StateNode): boolean {
    let inner: StateNode;
    if (d1 === d2 || isDescendant(d2, d1)) inner = d2;
    else if (isDescendant(d1, d2)) inner = d1;
    else return false;
    return this.#hasActiveDescendant(inner);
  }

  #hasActiveDescendant(s: StateNode): boolean {
    const config = this.#config;
    let lo = 0, hi = config.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (config[mid].index <= s.index) lo = mid + 1;
      else hi = mid;
    }
    return lo < config.length && config[lo].index <= s.end;
  }

  // ---------------------------------------------------------------------------------------
  // microstep: exitStates, executeTransitionContent, enterStates

  #microstep(enabled: Transition[], event: EventObject): void {
    this.#microsteps++;
    this.#exitStates(enabled, event);
    this.#executeTransitionContent(enabled, event);
    this.#enterStates(enabled, event);
  }

  #getTransitionDomain(t: Transition): StateNode | null {
    if (t.targets === null) return null;
    if (!t.historyTarget) return t.domain;
    const cached = this.#historyCache?.get(t);
    if (cached !== undefined && cached.version === this.#historyVersion) return cached.domain;
    const targets = this.#getEffectiveTargetStates(t);
    if (targets.length === 0) return null;
    return computeDomain(t, targets, this.#m.root);
  }

  #getEffectiveTargetStates(t: Transition): StateNode[] {
    const out: StateNode[] = [];
    for (const s of t.targets!) {
      if (s.kind === "history") {
        const recorded = this.#history?.get(s);
        const list = recorded ?? this.#getEffectiveTargetStates(s.historyDefault!);
        for (const x of list) if (!out.includes(x)) out.push(x);
      } else if (!out.includes(s)) out.push(s);
    }
    return out;
  }

  /** Active states the transitions leave, in exit order (reverse document order). */
  #computeExitSet(transitions: Transition[]): StateNode[] {
    const config = this.#config;
    if (transitions.length === 1) {
      const domain = this.#getTransitionDomain(transitions[0]);
      if (domain === null) return NO_STATES;
      const out: StateNode[] = [];
      for (let i = config.length - 1; i >= 0; i--) {
        const s = config[i];
        if (s.index > domain.index && s.index <= domain.end) out.push(s);
      }
      return out;
    }
    // One reverse pass over the sorted configuration: exit order already, no duplicates.
    const domains: StateNode[] = [];
    for (const t of transitions) {
      const domain = this.#getTransitionDomain(t);
      if (domain !== null) domains.push(domain);
    }
    const out: StateNode[] = [];
    if (domains.length === 0) return out;
    for (let i = config.length - 1; i >= 0; i--) {
      const s = config[i];
      for (let k = 0; k < domains.length; k++) {
        if (s.index > domains[k].index && s.index <= domains[k].end) {
          out.push(s);
          break;
        }
      }
    }
    return out;
  }

  #exitStates(enabled: Transition[], event: EventObject): void {
    const statesToExit = this.#computeExitSet(enabled);
    if (statesToExit.length === 0) return;
    if (this.#toInvoke !== null) {
      this.#toInvoke = this.#toInvoke.filter((s) => !statesToExit.includes(s));
    }
    for (const s of statesToExit) {
      for (const h of s.histories) {
        const recorded: StateNode[] = [];
        for (const s0 of this.#config) {
          if (h.deep ? s0.children.length === 0 && isDescendant(s0, s) : s0.parent === s) {
            recorded.push(s0);
          }
        }
        const before = this.#history?.get(h);
        if (before !== undefined && sameStates(before, recorded)) continue;
        (this.#history ??= new Map()).set(h, recorded);
        this.#historyVersion++;
      }
    }
    for (const s of statesToExit) {
      if (s.exit.length > 0) this.#runActions(s.exit, event);
      if (s.after.length > 0) { for (const a of s.after) this.internalCancel(a.sendId); }
      if (s.invokes.length > 0) this.#cancelInvokes(s);
      if (this.#whenTrue !== null) {
        for (const t of s.eventless) if (t.when) this.#whenTrue.delete(t);
      }
      this.#removeFromConfig(s);
      if (this.#listeners !== null) {
        this.#emit({ kind: "exit", time: this.#clock.now(), instance: this.id, state: s.id });
      }
    }
  }

  #executeTransitionContent(enabled: Transition[], event: EventObject): void {
    for (const t of enabled) {
      this.#transitions++;
      if (this.#listeners !== null) {
        this.#emit({
          kind: "transition",
          time: this.#clock.now(),
          instance: this.id,
          event: event.type,
          source: t.source.id,
          targets: t.targets?.map((s) => s.id) ?? [],
        });
      }
      if (this.#probe !== null) this.#probeTransition(t);
      if (t.actions.length > 0) this.#runActions(t.actions, event);
    }
  }

  #enterStates(enabled: Transition[], event: EventObject): void {
    let entry: EntrySet;
    if (enabled.length === 1) {
      const t = enabled[0];
      if (t.targets === null) return;
      entry = t.entryCache ?? this.#cachedHistoryEntry(t) ?? this.#computeEntrySet(enabled);
    } else entry = this.#mergeEntrySets(enabled);
    const root = this.#m.root;
    for (const s of entry.states) {
      this.#insertIntoConfig(s);
      if (s.invokes.length > 0) (this.#toInvoke ??= []).push(s);
      if (this.#listeners !== null) {
        this.#emit({ kind: "enter", time: this.#clock.now(), instance: this.id, state: s.id });
      }
      if (s.entry.length > 0) this.#runActions(s.entry, event);
      if (s.initial !== null && s.initial.actions.length > 0 && entry.defaultEntry.has(s)) {
        this.#runActions(s.initial.actions, event);
      }
      if (entry.historyContent.size > 0) {
        const historyContent = entry.historyContent.get(s);
        if (historyContent !== undefined) this.#runActions(historyContent, event);
      }
      if (s.after.length > 0) this.#scheduleAfter(s);
      if (s.kind === "final") {
        const parent = s.parent!;
        if (parent === root) {
          this.#output = this.#evalOutput(s, event);
          this.#done = true;
        } else {
          const output = this.#evalOutput(s, event);
          const done: EventObject = { type: `done.state.${parent.id}` };
          if (output !== undefined) done.output = output;
          this.internalRaise(done);
          const grandparent = parent.parent!;
          if (grandparent.kind === "parallel") {
            if (grandparent.children.every((c) => this.#isInFinalState(c))) {
              this.internalRaise({ type: `done.state.${grandparent.id}` });
              if (grandparent === root) this.#done = true;
            }
          }
        }
      }
    }
  }

  /**
   * SCXML computeEntrySet for the given transitions. For one transition with no history in
   * play the result never changes, so it is cached on the transition.
   */
  #computeEntrySet(transitions: Transition[]): EntrySet {
    const set: EntrySet = { states: [], defaultEntry: new Set(), historyContent: new Map() };
    const used = { history: false };
    for (const t of transitions) {
      if (t.targets === null) continue;
      for (const s of t.targets) this.#addDescendantStatesToEnter(s, set, used);
      const ancestor = this.#getTransitionDomain(t)!;
      for (const s of this.#getEffectiveTargetStates(t)) {
        this.#addAncestorStatesToEnter(s, ancestor, set, used);
      }
    }
    set.states.sort((a, b) => a.index - b.index);
    if (transitions.length === 1) {
      const t = transitions[0];
      if (!used.history && !t.historyTarget) t.entryCache = set;
      else {
        // It depends on recorded histories only: valid until one of them changes.
        const domain = this.#getTransitionDomain(t);
        (this.#historyCache ??= new Map()).set(t, { version: this.#historyVersion, set, domain });
      }
    }
    return set;
  }

  #cachedHistoryEntry(t: Transition): EntrySet | null {
    if (!t.historyTarget || this.#historyCache === null) return null;
    const cached = this.#historyCache.get(t);
    return cached !== undefined && cached.version === this.#historyVersion ? cached.set : null;
  }

  /**
   * The entry set of several transitions taken together. Transitions left after
   * removeConflictingTransitions have disjoint domains, and computeEntrySet only adds states
   * inside a transition's domain, so the joint entry set is the union of each one's: the
   * cached sets merge instead of being recomputed.
   */
  #mergeEntrySets(enabled: Transition[]): EntrySet {
    const states: StateNode[] = [];
    let defaultEntry: Set<StateNode> | null = null;
    let historyContent: Map<StateNode, ActionFn[]> | null = null;
    for (const t of enabled) {
      if (t.targets === null) continue;
      const one = t.entryCache ?? this.#cachedHistoryEntry(t) ?? this.#computeEntrySet([t]);
      for (const s of one.states) states.push(s);
      if (one.defaultEntry.size > 0) {
        defaultEntry ??= new Set();
        for (const s of one.defaultEntry) defaultEntry.add(s);
      }
      if (one.historyContent.size > 0) {
        historyContent ??= new Map();
        for (const [k, v] of one.historyContent) historyContent.set(k, v);
      }
    }
    states.sort((a, b) => a.index - b.index);
    return {
      states,
      defaultEntry: defaultEntry ?? EMPTY_SET,
      historyContent: historyContent ?? EMPTY_MAP,
    };
  }

  #addDescendantStatesToEnter(state: StateNode, set: EntrySet, used: { history: boolean }): void {
    if (state.kind === "history") {
      used.history = true;
      const recorded = this.#history?.get(state);
      const parent = state.parent!;
      if (recorded !== undefined) {
        for (const s of recorded) this.#addDescendantStatesToEnter(s, set, used);
        for (const s of recorded) this.#addAncestorStatesToEnter(s, parent, set, used);
      } else {
        const dflt = state.historyDefault!;
        if (dflt.actions.length > 0) set.historyContent.set(parent, dflt.actions);
        for (const s of dflt.targets ?? []) this.#addDescendantStatesToEnter(s, set, used);
        for (const s of dflt.targets ?? []) this.#addAncestorStatesToEnter(s, parent, set, used);
      }
      return;
    }
    if (!set.states.includes(state)) set.states.push(state);
    if (state.kind === "compound") {
      set.defaultEntry.add(state);
      const targets = state.initial!.targets!;
      for (const s of targets) this.#addDescendantStatesToEnter(s, set, used);
      for (const s of targets) this.#addAncestorStatesToEnter(s, state, set, used);
    } else if (state.kind === "parallel") {
      for (const child of state.children) {
        if (!set.states.some((s) => s === child || isDescendant(s, child))) {
          this.#addDescendantStatesToEnter(child, set, used);
        }
      }
    }
  }

  #addAncestorStatesToEnter(
    state: StateNode,
    ancestor: StateNode,
    set: EntrySet,
    used: { history: boolean },
  ): void {
    for (let anc = state.parent; anc !== null && anc !== ancestor; anc = anc.parent) {
      if (anc === this.#m.root) break;
      if (!set.states.includes(anc)) set.states.push(anc);
      if (anc.kind === "parallel") {
        for (const child of anc.children) {
          if (!set.states.some((s) => s === child || isDescendant(s, child))) {
            this.#addDescendantStatesToEnter(child, set, used);
          }
        }
      }
    }
  }

  #isInFinalState(s: StateNode): boolean {
    if (s.kind === "compound") {
      for (const c of s.children) if (c.kind === "final" && this.#isActive(c)) return true;
      return false;
    }
    if (s.kind === "parallel") return s.children.every((c) => this.#isInFinalState(c));
    return false;
  }

  /** SCXML exitInterpreter: exit every active state once a top-level final state is reached. */
  #exitInterpreter(): void {
    const event = this.#event;
    for (let i = this.#config.length - 1; i >= 0; i--) {
      const s = this.#config[i];
      if (s.exit.length > 0) this.#runActions(s.exit, event);
      if (s.invokes.length > 0) this.#cancelInvokes(s);
    }
    const root = this.#m.root;
    if (root.exit.length > 0) this.#runActions(root.exit, event);
    this.#status = "done";
    this.#teardown();
    const parent = this.#options.parent as Instance | undefined;
    if (parent !== undefined && this.#options.invokeId !== undefined) {
      const done: EventObject = { type: `done.invoke.${this.#options.invokeId}` };
      if (this.#output !== undefined) done.output = this.#output;
      done.invokeId = this.#options.invokeId;
      parent.deliver(done);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Executable content

  #runActions(actions: ActionFn[], event: EventObject): void {
    const tools = this.#tools;
    for (let i = 0; i < actions.length; i++) {
      tools.event = event;
      try {
        actions[i](tools);
      } catch (e) {
        // SCXML: an error in executable content raises error.execution and ends the block.
        this.#executionError(e, "an action");
        return;
      }
    }
  }

  #executionError(e: unknown, where: string): void {
    const error = plainError(e);
    this.#errors++;
    this.internalRaise({ type: "error.execution", error, source: where });
    if (this.#listeners !== null) {
      this.#emit({
        kind: "error",
        time: this.#clock.now(),
        instance: this.id,
        event: this.#event.type,
        error: `${where}: ${error.message}`,
      });
    }
  }

  #reportError(event: string, e: Error): void {
    this.#errors++;
    this.#emit({
      kind: "error",
      time: this.#clock.now(),
      instance: this.id,
      event,
      error: e.message,
    });
  }

  #evalOutput(s: StateNode, event: EventObject): unknown {
    if (!s.hasOutput) return undefined;
    if (typeof s.output !== "function") return s.output;
    try {
      return (s.output as (a: { context: unknown; event: EventObject }) => unknown)({
        context: this.#context,
        event,
      });
    } catch (e) {
      this.#executionError(e, `output of "${s.id}"`);
      return undefined;
    }
  }

  /** Routes an event sent with no delay. */
  #dispatch(event: EventObject, to: string | undefined): void {
    if (to === undefined || to === "#_external") {
      (this.#external ??= []).push(event);
      if (!this.#running) {
        const e = this.#drain();
        if (e !== null) this.#reportError(event.type, e);
      }
      return;
    }
    if (to === "#_internal") {
      this.internalRaise(event);
      return;
    }
    if (to === "#_parent") {
      const parent = this.#options.parent as Instance | undefined;
      if (parent === undefined) {
        this.#communicationError(event, to, "this instance has no parent");
        return;
      }
      const forwarded = { ...event };
      if (this.#options.invokeId !== undefined) forwarded.invokeId = this.#options.invokeId;
      parent.deliver(forwarded);
      return;
    }
    const invokeId = to.startsWith("#_") ? to.slice(2) : to;
    const child = this.#invokes?.get(invokeId)?.child;
    if (child !== undefined && child !== null) {
      (child as unknown as Instance).deliver({ ...event });
      return;
    }
    if (this.#options.onSend !== undefined) {
      try {
        this.#options.onSend(to, event, this as unknown as MachineInstance<C>);
      } catch (e) {
        this.#communicationError(event, to, plainError(e).message);
      }
      return;
    }
    this.#communicationError(event, to, "no such target");
  }

  #communicationError(event: EventObject, to: string, why: string): void {
    this.#errors++;
    const error = {
      name: "CommunicationError",
      message: `cannot send "${event.type}" to "${to}": ${why}`,
    };
    this.internalRaise({ type: "error.communication", error });
    if (!this.#running) {
      // Raised from a timer: run a macrostep for it now.
      this.#running = true;
      try {
        this.#macrostep();
      } catch (e) {
        if (!(e instanceof LivelockError)) throw e;
      } finally {
        this.#running = false;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Timers

  #scheduleAfter(s: StateNode): void {
    const now = this.#clock.now();
    for (const a of s.after) this.#arm(a.sendId, { type: a.event }, now + a.delay, undefined, now);
  }

  #arm(sendId: string, event: EventObject, due: number, to: string | undefined, now: number): void {
    const key = ++this.#timerSeq;
    const entry: TimerEntry = { sendId, event, due, to, handle: undefined };
    (this.#timers ??= new Map()).set(key, entry);
    entry.handle = this.#clock.setTimer(() => {
      if (this.#timers?.get(key) !== entry) return;
      this.#async("timer", event, () => this.#fireTimer(key, entry), sendId, due);
    }, due - now);
  }

  #fireTimer(key: number, entry: TimerEntry): boolean {
    if (this.#timers?.get(key) !== entry) return false; // cancelled meanwhile
    this.#timers.delete(key);
    if (this.#status !== "active") return false;
    if (entry.to === undefined) this.deliver(entry.event);
    else this.#dispatch(entry.event, entry.to);
    return true;
  }

  /**
   * Every event that arrives from outside a send (a timer, an invocation's result or message)
   * goes through here: straight in, or, when the host gave a `schedule` hook (the durable
   * store), handed to the host to run in its own order and record.
   */
  #async(
    kind: AsyncDelivery["kind"],
    event: EventObject,
    run: () => boolean,
    sendId?: string,
    due?: number,
  ): void {
    const hook = this.#options.schedule;
    if (hook === undefined) {
      run();
      return;
    }
    const delivery: AsyncDelivery = { kind, event, path: this.internalPath(), run };
    if (sendId !== undefined) delivery.sendId = sendId;
    if (due !== undefined) delivery.due = due;
    hook(delivery);
  }

  /** @internal Invoke ids from the root instance down to this one. */
  internalPath(): string[] {
    const parent = this.#options.parent as Instance | undefined;
    if (parent === undefined || this.#options.invokeId === undefined) return [];
    return [...parent.internalPath(), this.#options.invokeId];
  }

  /**
   * Replays a recorded asynchronous delivery (journal replay): a timer is fired by its send id
   * (removed from the pending timers, as when it fired live); anything else is delivered.
   * Returns false when the path or the timer no longer exists.
   */
  replayDelivery(
    path: readonly string[],
    kind: AsyncDelivery["kind"],
    event: EventObject,
    sendId?: string,
    due?: number,
  ): boolean {
    if (path.length > 0) {
      const child = this.#invokes?.get(path[0])?.child as Instance | undefined | null;
      if (child === undefined || child === null) return false;
      return child.replayDelivery(path.slice(1), kind, event, sendId, due);
    }
    if (kind === "timer") {
      // A timer fires only if this very timer (send id and, when known, due time) is pending:
      // a timer re-armed since (same id, later due) must not fire early.
      if (sendId === undefined || this.#timers === null) return false;
      let best: [number, TimerEntry] | undefined;
      for (const [key, t] of this.#timers) {
        if (t.sendId !== sendId || (due !== undefined && t.due !== due)) continue;
        if (best === undefined || t.due < best[1].due) best = [key, t];
      }
      if (best === undefined) return false;
      this.#clock.clearTimer(best[1].handle);
      return this.#fireTimer(best[0], best[1]);
    }
    this.deliver({ ...event });
    return true;
  }

  #teardown(): void {
    if (this.#timers !== null) {
      for (const t of this.#timers.values()) this.#clock.clearTimer(t.handle);
      this.#timers = null;
    }
    if (this.#invokes !== null) {
      for (const inv of [...this.#invokes.values()]) this.#stopInvoke(inv);
      this.#invokes = null;
    }
    this.#toInvoke = null;
  }

  // ---------------------------------------------------------------------------------------
  // Invocations

  #startInvokes(s: StateNode, childSnapshots: Record<string, Snapshot> | undefined): void {
    if (!this.#isActive(s) && s !== this.#m.root) return;
    for (const inv of s.invokes) {
      if (this.#invokes?.has(inv.id)) continue;
      const controller = new AbortController();
      const running: RunningInvoke = {
        id: inv.id,
        node: s,
        autoForward: inv.autoForward,
        finalize: inv.finalize,
        controller,
        child: null,
      };
      let input: unknown;
      try {
        input = typeof inv.input === "function"
          ? (inv.input as (a: unknown) => unknown)({ context: this.#context, event: this.#event })
          : inv.input;
      } catch (e) {
        this.#executionError(e, `input of invoke "${inv.id}"`);
        continue;
      }
      (this.#invokes ??= new Map()).set(inv.id, running);
      const fail = (e: unknown) => {
        if (controller.signal.aborted || this.#invokes?.get(inv.id) !== running) return;
        const event: EventObject = {
          type: `error.platform.${inv.id}`,
          error: plainError(e),
          invokeId: inv.id,
        };
        if (running.effectId !== undefined) event.effectId = running.effectId;
        this.#async("invoke", event, () => {
          if (this.#invokes?.get(inv.id) !== running || this.#status !== "active") return false;
          this.#invokes.delete(inv.id);
          this.deliver(event);
          return true;
        });
      };
      if (inv.isMachine) {
        const machine = inv.src as {
          start(o: StartOptions): MachineInstance;
          restore?(snap: Snapshot, o: StartOptions): MachineInstance;
        };
        const childOptions: StartOptions = {
          clock: this.#clock,
          parent: this as unknown as MachineInstance,
          invokeId: inv.id,
          onSend: this.#options.onSend as StartOptions["onSend"],
          log: this.#options.log,
          id: `${this.id}/${inv.id}`,
          schedule: this.#options.schedule,
          replay: this.#options.replay,
        };
        try {
          const snap = childSnapshots?.[inv.id];
          if (snap !== undefined && machine.restore !== undefined) {
            running.child = machine.restore(snap, childOptions);
          } else {
            if (typeof input === "object" && input !== null) {
              childOptions.context = input as Record<string, unknown>;
            }
            running.child = machine.start(childOptions);
          }
        } catch (e) {
          fail(e);
        }
        continue;
      }
      // Replaying a journal: the results are in the journal; do not run side effects again.
      if (this.#options.replay === true) continue;
      const effectId = this.#options.effectId?.(inv.id) ??
        `${this.id}:${inv.id}:${++this.#effects}`;
      running.effectId = effectId;
      try {
        const result = (inv.src as (a: unknown) => unknown)({
          context: this.#context,
          event: this.#event,
          input,
          signal: controller.signal,
          effectId,
          sendParent: (ev: EventInput<EventObject>) => {
            if (controller.signal.aborted) return;
            const event = toEvent(ev, "sendParent");
            this.#async("invoke", event, () => {
              if (controller.signal.aborted || this.#status !== "active") return false;
              this.deliver(event);
              return true;
            });
          },
        });
        Promise.resolve(result).then((output) => {
          if (controller.signal.aborted || this.#invokes?.get(inv.id) !== running) return;
          const done: EventObject = { type: `done.invoke.${inv.id}`, invokeId: inv.id, effectId };
          if (output !== undefined) done.output = output;
          this.#async("invoke", done, () => {
            if (this.#invokes?.get(inv.id) !== running || this.#status !== "active") return false;
            this.#invokes.delete(inv.id);
            this.deliver(done);
            return true;
          });
        }, fail);
      } catch (e) {
        // A synchronous throw fails the invocation like a rejection does.
        Promise.resolve().then(() => fail(e));
      }
    }
  }

  #cancelInvokes(s: StateNode): void {
    if (this.#invokes === null) return;
    for (const inv of s.invokes) {
      const running = this.#invokes.get(inv.id);
      if (running !== undefined && running.node === s) this.#stopInvoke(running);
    }
  }

  #stopInvoke(running: RunningInvoke): void {
    this.#invokes?.delete(running.id);
    running.controller.abort(new DOMException(`state "${running.node.id}" exited`, "AbortError"));
    if (running.child !== null && running.child.status === "active") running.child.stop();
  }

  // ---------------------------------------------------------------------------------------
  // Deferral (UML): an event matched by a `defer` of an active state waits in the deferred
  // list; after each macrostep, those no longer deferred go back to the front of the queue.

  #isDeferred(event: EventObject): boolean {
    if (!this.#m.hasDefer) return false;
    const root = this.#m.root;
    if (root.defer !== null && matchesAny(root.defer, event.type)) return true;
    for (const s of this.#config) {
      if (s.defer !== null && matchesAny(s.defer, event.type)) return true;
    }
    return false;
  }

  #releaseDeferred(queue: EventObject[]): void {
    const still: EventObject[] = [];
    const released: EventObject[] = [];
    for (const e of this.#deferred!) (this.#isDeferred(e) ? still : released).push(e);
    if (released.length === 0) return;
    this.#deferred = still.length > 0 ? still : null;
    queue.unshift(...released);
  }

  // ---------------------------------------------------------------------------------------
  // Configuration bookkeeping

  #rootInitial(): Transition {
    const root = this.#m.root;
    if (root.kind === "compound") return root.initial!;
    return {
      ...root.initial!,
      id: `${root.id}#initial`,
      source: root,
      targets: root.children,
      internal: true,
      domain: root,
      historyTarget: false,
      entryCache: null,
      actions: [],
    };
  }

  #indexInConfig(s: StateNode): number {
    const config = this.#config;
    let lo = 0, hi = config.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = config[mid].index;
      if (x === s.index) return mid;
      if (x < s.index) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #isActive(s: StateNode): boolean {
    return this.#indexInConfig(s) >= 0;
  }

  /** Push, then move down to its place: `splice` would allocate a result array each time. */
  #insertIntoConfig(s: StateNode): void {
    const config = this.#config;
    let i = config.length;
    config.push(s);
    while (i > 0 && config[i - 1].index > s.index) {
      config[i] = config[i - 1];
      i--;
    }
    config[i] = s;
  }

  /** Shift down over it, then pop (no `splice`, no `length =`: both are slow paths). */
  #removeFromConfig(s: StateNode): void {
    const config = this.#config;
    const i = this.#indexInConfig(s);
    if (i < 0) return;
    const last = config.length - 1;
    for (let j = i; j < last; j++) config[j] = config[j + 1];
    config.pop();
  }

  #emit(record: MonitorRecord): void {
    const listeners = this.#listeners;
    if (listeners === null) return;
    for (const l of listeners) {
      try {
        l(record);
      } catch {
        // A listener's failure must not change the machine's behaviour; it is the listener's.
      }
    }
  }
}

const NO_STATES: StateNode[] = [];

interface HistoryCacheEntry {
  version: number;
  set: EntrySet;
  domain: StateNode | null;
}

function sameStates(a: StateNode[], b: StateNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const EMPTY_SET: Set<StateNode> = new Set();
const EMPTY_MAP: Map<StateNode, ActionFn[]> = new Map();

function describeTransition(t: Transition): string {
  const on = t.events === null ? (t.when ? "when" : "always") : t.events.join(" ");
  return `transition "${on}" of "${t.source.id}"`;
}

function checkPayload(schema: StandardSchema, event: EventObject): void {
  const { type: _type, ...payload } = event;
  const result = schema["~standard"].validate(payload);
  if (result instanceof Promise) {
    throw new EventError(
      `event "${event.type}": its schema is asynchronous; use a synchronous one`,
    );
  }
  if (result.issues !== undefined) {
    const paths = result.issues.map((issue) =>
      (issue.path ?? []).map((p) => typeof p === "object" && p !== null ? String(p.key) : String(p))
        .join(".")
    );
    const details = result.issues.map((issue, i) =>
      paths[i] === "" ? issue.message : `${paths[i]}: ${issue.message}`
    );
    throw new EventError(
      `event "${event.type}" rejected: ${details.join("; ")}`,
      paths.find((p) => p !== ""),
    );
  }
}

function identity<T>(value: T, _what?: string): T {
  return value;
}

function toJson<T>(value: T, what = "event"): T {
  if (value === undefined) return value;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (e) {
    throw new SnapshotError(`the ${what} is not JSON-serialisable: ${plainError(e).message}`);
  }
}

function checkLegalConfiguration(
  m: CompiledMachine,
  nodes: StateNode[],
  id: string,
  status: InstanceStatus,
): void {
  const active = new Set(nodes);
  const bad = (why: string) => {
    throw new SnapshotError(`snapshot of "${id}": illegal configuration: ${why}`);
  };
  if (nodes.length === 0) {
    if (status === "active") bad("no active state");
    return;
  }
  const check = (s: StateNode) => {
    if (s.kind === "compound") {
      const n = s.children.filter((c) => active.has(c)).length;
      if (n !== 1) bad(`"${s.id || m.id}" has ${n} active children, needs exactly 1`);
    } else if (s.kind === "parallel") {
      for (const c of s.children) {
        if (!active.has(c)) bad(`region "${c.id}" of parallel "${s.id || m.id}" is not active`);
      }
    }
  };
  check(m.root);
  for (const s of nodes) {
    if (s.parent !== m.root && !active.has(s.parent!)) {
      bad(`"${s.id}" is active but its parent "${s.parent!.id}" is not`);
    }
    check(s);
  }
}
