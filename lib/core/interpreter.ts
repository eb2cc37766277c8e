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
  InvokeRetryState,
  MachineInstance,
  MonitorRecord,
  RetryPolicyState,
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
  type Invocation,
  isDescendant,
  type StateNode,
  type Transition,
} from "./compile.ts";
import { matchesAny } from "./descriptor.ts";
import { parseDuration } from "./duration.ts";
import {
  type CompiledRetry,
  isNonRetryable,
  policyFromState,
  policyState,
  policyStateProblem,
  RETRY_SEND_PREFIX,
  retryDelay,
} from "./retry.ts";
import { EventError, LivelockError, SnapshotError } from "./errors.ts";

export { LivelockError } from "./errors.ts";

interface TimerEntry {
  /** Arming order: ties of due time keep it in snapshots. */
  key: number;
  /** Pending: not fired, not cancelled. */
  live: boolean;
  sendId: string;
  event: EventObject;
  due: number;
  to: string | undefined;
  handle: unknown;
  /** Armed with no delay (or overdue): its event counts as one the instance fed itself. */
  fed: boolean;
}

interface RunningInvoke {
  id: string;
  node: StateNode;
  inv: Invocation;
  input: unknown;
  /** The attempts that failed so far (a `retry` policy runs the function again). */
  failed: number;
  /** The last failed attempt's error. */
  lastError?: { name: string; message: string };
  /** Between attempts: the retry wait (a delayed send) is pending. */
  waiting: boolean;
  /** The running attempt's `timeout` timer. */
  timeoutHandle?: unknown;
  autoForward: boolean;
  finalize: ActionFn[];
  controller: AbortController;
  // deno-lint-ignore no-explicit-any
  child: MachineInstance<any> | null;
  /** An invoked function's effect id (`InvokeArgs.effectId`). */
  effectId?: string;
  /** Its retry policy: the invoke's own, else its src's `retryPolicy()`, else the defaults. */
  retry: CompiledRetry | null;
  /** Its attempt timeout, picked like `retry`. */
  timeout: number | null;
}

/** What an invoked function may carry: the policy of its calls (`pluginAction`'s manifest). */
type PolicySource = {
  retryPolicy?: () => { retry: CompiledRetry | null; timeout: number | null } | undefined;
};

/** An invocation's retry policy and timeout: its own > its src's `retryPolicy()` > defaults. */
function invokePolicy(inv: Invocation): { retry: CompiledRetry | null; timeout: number | null } {
  const own = inv.own ?? { retry: true, timeout: true };
  const fromSrc = own.retry && own.timeout || inv.isMachine
    ? undefined
    : (inv.src as PolicySource).retryPolicy?.();
  return {
    retry: own.retry ? inv.retry : fromSrc?.retry ?? inv.retry,
    timeout: own.timeout ? inv.timeout : fromSrc?.timeout ?? inv.timeout,
  };
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
/** Macrosteps in a row on events an instance fed itself before it is a livelock. */
const DEFAULT_MAX_SELF_FED = 100_000;
/** How deep invoked machines may nest (a machine that invokes itself would never stop). */
const MAX_INVOKE_DEPTH = 100;
/** The delivery of a failed attempt that will be retried: `error.attempt.<invoke id>`. */
const ATTEMPT_FAILED = "error.attempt.";
/** How many event types a `LivelockError` names, out of the last `FED_RING` self-fed ones. */
const CYCLE_NAMES = 8;
const FED_RING = 32;
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
  /** States a large exit has left and a large entry has entered, not yet in `#config`. */
  #pending: PendingConfig | null = null;
  #status: InstanceStatus = "active";
  #done = false;
  #running = false;
  #event: EventObject = NO_EVENT;
  /** Raised events; made on the first one (its head is in the queue: idle instances stay small). */
  #internal: EventQueue | null = null;
  /** External events that wait; made on the first one. */
  #external: EventQueue | null = null;
  /** Deferred events by type, so a release looks at each type once, not at each event. */
  #defers: DeferredEvents | null = null;
  /** The pending timers by send id: a cancel touches its own timers only. */
  #timers: Map<string, TimerEntry | Set<TimerEntry>> | null = null;
  #timerSeq = 0;
  /** The last events of a run near a livelock bound, to name them in a `LivelockError`. */
  #trace: LivelockTrace | null = null;
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

  /**
   * Made on the first action or guard call: idle instances stay small. A method, not a private
   * getter (see `#cfg`): it is called for every guard and action list.
   */
  #tools(): Tools {
    return this.#toolsObject ??= new Tools(this, this.#context);
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  get configuration(): string[] {
    return this.#cfg().map((s) => s.id);
  }

  get atomicConfiguration(): string[] {
    const out: string[] = [];
    for (const s of this.#cfg()) if (s.children.length === 0) out.push(s.id);
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
    if (this.#running) {
      (this.#external ??= new EventQueue()).push(event);
      return;
    }
    // Idle with nothing queued (the usual case): process it without a push and a shift.
    let error: Error | null;
    if (this.#queued() === 0) error = this.#drainOne(event);
    else {
      this.#external!.push(event);
      error = this.#drain(undefined, this.#queued());
    }
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
    for (const s of this.#cfg()) visit(s);
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
      for (const t of this.#allTimers()) {
        const timer: SnapshotTimer = { sendId: t.sendId, event: json(t.event), due: t.due };
        if (t.to !== undefined) timer.to = t.to;
        timers.push(timer);
      }
      timers.sort((a, b) => a.due - b.due);
    }
    const children: Record<string, Snapshot> = {};
    let retries: Record<string, InvokeRetryState> | undefined;
    if (this.#invokes !== null) {
      for (const inv of this.#invokes.values()) {
        if (inv.child !== null) {
          children[inv.id] = (inv.child as unknown as Instance).internalSnapshot(copy);
        }
        if (inv.failed > 0) {
          const state: InvokeRetryState = { attempt: inv.failed, error: { ...inv.lastError! } };
          // The policy in force goes with the attempts: a restore waits and retries under it.
          if (inv.retry !== null) state.policy = policyState(inv.retry, inv.timeout);
          (retries ??= {})[inv.id] = state;
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
      queue: this.#queuedEvents().map((e) => json(e)),
      deferred: this.#deferredEvents().map((e) => json(e)),
      when: this.#whenTrue === null ? [] : [...this.#whenTrue].map((t) => t.id).sort(),
      children,
      stats: this.stats,
      nextId: this.#nextId,
      time: this.#clock.now(),
    };
    if (this.#machine.version !== undefined) snap.version = this.#machine.version;
    if (this.#output !== undefined) snap.output = json(this.#output, "output");
    if (retries !== undefined) snap.retries = retries;
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
    if (this.#queued() > 0) {
      // Sent by the machine itself while starting: none of it came from outside.
      const e = this.#drain(undefined, 0);
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
    if (snap.deferred.length > 0) {
      for (const e of snap.deferred) this.#defer({ ...e });
      // Released (if no longer deferred) after the first event processed, as if just exited.
      this.#defers!.checked = -1;
    }
    if (snap.queue.length > 0) {
      this.#external = new EventQueue();
      for (const e of snap.queue) this.#external.push({ ...e });
    }
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
      for (const s of restart) this.#startInvokes(s, snap.children, snap.retries);
    } finally {
      this.#running = false;
    }
    if (this.#queued() > 0) {
      const e = this.#drain();
      if (e !== null) throw e;
    }
    return this;
  }

  // ---------------------------------------------------------------------------------------
  // Entry points used by Tools, timers, invocations and child machines

  /** @internal */
  internalRaise(event: EventObject): void {
    (this.#internal ??= new EventQueue()).push(event);
  }

  #hasInternal(): boolean {
    return this.#internal !== null && this.#internal.size() > 0;
  }

  /** The next raised event. */
  #takeInternal(): EventObject {
    return this.#internal!.take();
  }

  /** How many external events wait. */
  #queued(): number {
    return this.#external === null ? 0 : this.#external.size();
  }

  /** The waiting external events, in order (a copy). */
  #queuedEvents(): EventObject[] {
    return this.#external === null ? [] : this.#external.toArray();
  }

  /** The next external event. */
  #takeExternal(): EventObject {
    return this.#external!.take();
  }

  /**
   * Puts events back at the front of the external queue, in order: into the room the head left
   * when there is enough, else into a new array with as much room again at its front, so a run
   * of releases costs O(released) each, amortised.
   */
  #putBackExternal(events: EventObject[]): void {
    if (events.length > 0) (this.#external ??= new EventQueue()).putBack(events);
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
    const found = this.#timers?.get(sendId);
    if (found === undefined) return;
    this.#timers!.delete(sendId);
    if (found instanceof Set) {
      for (const t of found) this.#cancelTimer(t);
    } else this.#cancelTimer(found);
  }

  #cancelTimer(t: TimerEntry): void {
    t.live = false;
    this.#clock.clearTimer(t.handle);
  }

  /** Every pending timer, in arming order. */
  #allTimers(): TimerEntry[] {
    const out: TimerEntry[] = [];
    for (const v of this.#timers!.values()) {
      if (v instanceof Set) { for (const t of v) out.push(t); }
      else out.push(v);
    }
    return out.sort((a, b) => a.key - b.key);
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

  /**
   * @internal An event from outside the current call (timer, invocation, parent, child).
   * `fed`: the instance sent it to itself (a zero-delay timer), so it does not count as an event
   * from outside for livelock detection. A livelock is reported to listeners where it is found.
   */
  deliver(event: EventObject, fed = false): void {
    if (this.#status !== "active") return;
    (this.#external ??= new EventQueue()).push(event);
    if (this.#running) return;
    this.#drain(undefined, fed ? this.#queued() - 1 : this.#queued());
  }

  // ---------------------------------------------------------------------------------------
  // The event loop (SCXML mainEventLoop), made synchronous: a send runs until the external
  // queue is empty; delayed events and invocation results arrive later through deliver().

  /**
   * Runs macrosteps until the external queue is empty. Livelock detection: the first `outside`
   * events taken came from outside (a caller's `send`, a restored queue, a delivery that was not
   * fed); deferred events put back at the front are neither; every other event was queued
   * during the run by the instance itself, its parent or its children. An event from outside
   * starts the count (`#trace.selfFed`) again; each self-fed one adds a macrostep, and past the
   * bound the run is cut short with a `LivelockError` (returned, and reported to listeners).
   */
  #drain(first?: EventObject, outside = this.#queued(), released = 0): Error | null {
    this.#running = true;
    // `released`: released deferred events at the front of the queue, before the `outside` ones.
    /** Whether the event being processed was fed by the instance itself. */
    let processingFed = false;
    try {
      let next = first;
      while (this.#status === "active" && (next !== undefined || this.#queued() > 0)) {
        let event: EventObject;
        if (next !== undefined) {
          event = next;
          next = undefined;
        } else event = this.#takeExternal();
        let fromOutside = false;
        let fed = false;
        if (released > 0) released--;
        else if (outside > 0) {
          outside--;
          fromOutside = true;
        } else fed = true;
        if (this.#m.hasDefer && this.#isDeferred(event)) {
          this.#defer(event);
          continue;
        }
        if (fromOutside) {
          if (this.#trace !== null) this.#trace = null;
        } else if (fed) {
          const limit = this.#options.maxSelfFedMacrosteps ?? DEFAULT_MAX_SELF_FED;
          const trace = (this.#trace ??= newTrace());
          if (++trace.selfFed > limit) {
            // Keep what came from outside; drop what the instance queued for itself.
            const keep = this.#queuedEvents().slice(0, released + outside);
            this.#external = new EventQueue();
            for (const e of keep) this.#external.push(e);
            throw this.#selfFedLivelock(event, limit);
          }
          this.#noteFed(event.type);
        }
        processingFed = fed;
        this.#processExternalEvent(event);
        if (this.#defers !== null && this.#defers.checked !== this.#defers.exits) {
          released += this.#releaseDeferred();
        }
      }
      return null;
    } catch (e) {
      if (e instanceof LivelockError) {
        // A macrostep on an event the instance fed itself ended in a microstep livelock: the
        // instance loops on its own at both levels (say, an eventless cycle entered by a
        // zero-delay timer). The next event it feeds itself ends the chain, instead of
        // another `maxSelfFedMacrosteps` macrosteps of `maxMicrosteps` each.
        if (processingFed && e.details?.kind === "microsteps" && this.#trace !== null) {
          this.#trace.selfFed = this.#options.maxSelfFedMacrosteps ?? DEFAULT_MAX_SELF_FED;
        }
        return e;
      }
      throw e;
    } finally {
      this.#running = false;
    }
  }

  /**
   * `#drain(event, 1)` for the usual case: an idle instance with nothing queued, sent one
   * event from outside. The same steps without the loop's bookkeeping of where each
   * event came from (which cost the traffic-light bench about 10 %); what the event made the
   * instance queue for itself (all self-fed) goes on in `#drain`.
   */
  #drainOne(event: EventObject): Error | null {
    let released = 0;
    this.#running = true;
    try {
      if (this.#m.hasDefer && this.#isDeferred(event)) this.#defer(event);
      else {
        if (this.#trace !== null) this.#trace = null;
        this.#processExternalEvent(event);
        if (this.#defers !== null && this.#defers.checked !== this.#defers.exits) {
          released = this.#releaseDeferred();
        }
      }
    } catch (e) {
      if (e instanceof LivelockError) return e;
      throw e;
    } finally {
      this.#running = false;
    }
    return this.#queued() === 0 ? null : this.#drain(undefined, 0, released);
  }

  /** Remembers the type of a self-fed event: the last `FED_RING` ones, for the error. */
  #noteFed(type: string): void {
    const trace = (this.#trace ??= newTrace());
    trace.fed[trace.fedPos++ % FED_RING] = type;
  }

  #selfFedLivelock(event: EventObject, limit: number): LivelockError {
    this.#noteFed(event.type);
    const { fed: ring, fedPos } = this.#trace!;
    const order: string[] = [];
    for (let k = fedPos - ring.length; k < fedPos; k++) order.push(ring[k % FED_RING]);
    this.#trace = null;
    const events = lastDistinct(order, CYCLE_NAMES);
    const states = this.atomicConfiguration;
    const err = new LivelockError(
      `livelock in instance "${this.id}" of machine "${this.#m.id}": more than ${limit} ` +
        `macrosteps in a row on events it fed itself (sends to itself, to and from its parent ` +
        `or invoked children, zero-delay timers) with no event from outside; the events that ` +
        `cycled: ${events.map((t) => JSON.stringify(t)).join(", ")}; in state ` +
        `${states.map((t) => JSON.stringify(t)).join(", ")}. The run was cut short and the ` +
        `events it had queued for itself were dropped (raise maxSelfFedMacrosteps if this is ` +
        `a long run on purpose).`,
      { instance: this.id, kind: "macrosteps", limit, events, states },
    );
    this.#reportError(event.type, err);
    return err;
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
        let raised = false;
        if (enabled.length === 0) {
          if (!this.#hasInternal()) break;
          event = this.#takeInternal();
          raised = true;
          this.#event = event;
          enabled = this.#selectTransitions(event);
        }
        if (enabled.length > 0) {
          if (++this.#stepCount > limit - FED_RING) {
            // Near the bound: remember what fires, to name it if the bound is passed.
            ((this.#trace ??= newTrace()).steps ??= [])[
              this.#stepCount % FED_RING
            ] = raised ? JSON.stringify(event.type) : "(eventless)";
            if (this.#stepCount > limit) throw this.#microstepLivelock(enabled, event, limit);
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
      if (!this.#hasInternal()) break;
    }
    if (this.#trace !== null) this.#trace.steps = null;
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

  #microstepLivelock(enabled: Transition[], event: EventObject, limit: number): LivelockError {
    this.#internal = null;
    const ring = this.#trace?.steps ?? [];
    const order: string[] = [];
    const end = this.#stepCount;
    for (let k = Math.max(0, end - FED_RING + 1); k <= end; k++) {
      if (ring[k % FED_RING] !== undefined) order.push(ring[k % FED_RING]);
    }
    if (this.#trace !== null) this.#trace.steps = null;
    const events = lastDistinct(order, CYCLE_NAMES);
    const sources = enabled.map((t) => JSON.stringify(t.source.id || this.#m.id)).join(", ");
    const states = this.atomicConfiguration;
    const err = new LivelockError(
      `livelock in instance "${this.id}" of machine "${this.#m.id}": more than ${limit} ` +
        `microsteps in one macrostep (transitions from ${sources} keep firing on ` +
        `${events.join(", ")}); in state ${states.map((t) => JSON.stringify(t)).join(", ")}. ` +
        `The macrostep was cut short and its raised events dropped.`,
      {
        instance: this.id,
        kind: "microsteps",
        limit,
        events: events.map((t) => t.startsWith('"') ? JSON.parse(t) : t),
        states,
      },
    );
    this.#reportError(event.type, err);
    return err;
  }

  // ---------------------------------------------------------------------------------------
  // Transition selection

  #selectEventlessTransitions(): Transition[] {
    let enabled: Transition[] = NO_TRANSITIONS;
    let seen: Set<Transition> | null = null;
    const config = this.#cfg();
    for (let i = 0; i < config.length; i++) {
      const atomic = config[i];
      if (atomic.children.length !== 0) continue;
      loop: for (let s: StateNode | null = atomic; s !== null; s = s.parent) {
        const list = s.eventless;
        for (let j = 0; j < list.length; j++) {
          const t = list[j];
          if (t.when ? this.#whenFires(t) : (t.guard === null || this.#evalGuard(t, this.#event))) {
            if (enabled === NO_TRANSITIONS) enabled = [t];
            else seen = addUnique(enabled, seen, t);
            break loop;
          }
        }
      }
    }
    return enabled.length > 1 ? this.#removeConflictingTransitions(enabled) : enabled;
  }

  #selectTransitions(event: EventObject): Transition[] {
    let enabled: Transition[] = NO_TRANSITIONS;
    let seen: Set<Transition> | null = null;
    const config = this.#cfg();
    const name = event.type;
    // A large configuration: skip the walk for names no transition of the machine can match
    // (done events of many regions would otherwise make it O(events x states)).
    if (config.length > 64 && !this.#mayMatch(name)) return NO_TRANSITIONS;
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
            else seen = addUnique(enabled, seen, t);
            break loop;
          }
        }
      }
    }
    return enabled.length > 1 ? this.#removeConflictingTransitions(enabled) : enabled;
  }

  /** Whether some eventful transition of the machine has a descriptor matching `name`. */
  #mayMatch(name: string): boolean {
    let tokens = EVENT_TOKENS.get(this.#m);
    if (tokens === undefined) {
      // Names the engine generates match exactly (see #candidates): "exact:" keys.
      tokens = new Set();
      for (const t of this.#m.transitions) {
        if (t.events === null) continue;
        if (t.generated !== null) tokens.add(`exact:${t.events[0]}`);
        else for (const token of t.events) tokens.add(`prefix:${token}`);
      }
      if (tokens.has("prefix:*")) tokens = null;
      EVENT_TOKENS.set(this.#m, tokens);
    }
    if (tokens === null || tokens.has(`exact:${name}`) || tokens.has(`prefix:${name}`)) {
      return true;
    }
    for (let dot = name.indexOf("."); dot > 0; dot = name.indexOf(".", dot + 1)) {
      if (tokens.has(`prefix:${name.slice(0, dot)}`)) return true;
    }
    return false;
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
    const tools = this.#tools();
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
    if (enabled.length > 16) return this.#removeConflictingIndexed(enabled);
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

  /**
   * The same for many transitions (wide parallel states), without comparing every pair: the
   * kept transitions are indexed by domain, and every state knows how many kept domains lie
   * strictly inside it. A transition conflicts with a kept one whose domain is its own domain
   * or an ancestor (found walking up) or lies inside its domain (looked for only when some
   * does). The outcome is the pairwise loop's: it is preempted if any conflicting kept
   * transition's source is not an ancestor of its source; otherwise it replaces them all.
   */
  #removeConflictingIndexed(enabled: Transition[]): Transition[] {
    const kept: Transition[] = [];
    const removed = new Set<Transition>();
    const byDomain = new Map<StateNode, Transition[]>();
    const inside = new Map<StateNode, number>();
    const count = (d: StateNode, by: number) => {
      for (let a = d.parent; a !== null; a = a.parent) inside.set(a, (inside.get(a) ?? 0) + by);
    };
    for (const t1 of enabled) {
      const d1 = this.#getTransitionDomain(t1);
      if (d1 === null) {
        kept.push(t1);
        continue;
      }
      const conflicts: Transition[] = [];
      if (this.#hasActiveDescendant(d1)) {
        for (let a: StateNode | null = d1; a !== null; a = a.parent) {
          const list = byDomain.get(a);
          if (list !== undefined) { for (const t2 of list) conflicts.push(t2); }
        }
      }
      if ((inside.get(d1) ?? 0) > 0) {
        for (const t2 of kept) {
          if (removed.has(t2)) continue;
          const d2 = this.#getTransitionDomain(t2);
          if (d2 !== null && d2 !== d1 && isDescendant(d2, d1) && this.#hasActiveDescendant(d2)) {
            conflicts.push(t2);
          }
        }
      }
      if (conflicts.some((t2) => !isDescendant(t1.source, t2.source))) continue;
      for (const t2 of conflicts) {
        removed.add(t2);
        const d2 = this.#getTransitionDomain(t2)!;
        const list = byDomain.get(d2)!;
        list.splice(list.indexOf(t2), 1);
        count(d2, -1);
      }
      kept.push(t1);
      const list = byDomain.get(d1);
      if (list === undefined) byDomain.set(d1, [t1]);
      else list.push(t1);
      count(d1, 1);
    }
    return removed.size === 0 ? kept : kept.filter((t) => !removed.has(t));
  }

  #exitSetsIntersect(d1: StateNode, d2: StateNode): boolean {
    let inner: StateNode;
    if (d1 === d2 || isDescendant(d2, d1)) inner = d2;
    else if (isDescendant(d1, d2)) inner = d1;
    else return false;
    return this.#hasActiveDescendant(inner);
  }

  #hasActiveDescendant(s: StateNode): boolean {
    const config = this.#cfg();
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

  /**
   * SCXML getEffectiveTargetStates: a history state stands for what it recorded, or else for
   * its default's targets (which may be history states again: walked with a stack, each
   * history state once).
   */
  #getEffectiveTargetStates(t: Transition): StateNode[] {
    const out: StateNode[] = [];
    const targets = t.targets!;
    let seen: Set<StateNode> | null = null;
    let expanded: Set<StateNode> | null = null;
    const stack: StateNode[] = [];
    for (let k = targets.length - 1; k >= 0; k--) stack.push(targets[k]);
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (s.kind === "history") {
        const recorded = this.#history?.get(s);
        if (recorded !== undefined) {
          for (const x of recorded) seen = addUnique(out, seen, x);
        } else if (!(expanded ??= new Set()).has(s)) {
          expanded.add(s);
          const dflt = s.historyDefault!.targets ?? NO_STATES;
          for (let k = dflt.length - 1; k >= 0; k--) stack.push(dflt[k]);
        }
      } else seen = addUnique(out, seen, s);
    }
    return out;
  }

  /** Active states the transitions leave, in exit order (reverse document order). */
  #computeExitSet(transitions: Transition[]): StateNode[] {
    const config = this.#cfg();
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
    // One reverse pass over the sorted configuration: exit order already, no duplicates. The
    // domains' ranges are nested or disjoint: the outermost ones, sorted, are met in turn.
    const domains: StateNode[] = [];
    for (const t of transitions) {
      const domain = this.#getTransitionDomain(t);
      if (domain !== null) domains.push(domain);
    }
    const out: StateNode[] = [];
    if (domains.length === 0) return out;
    domains.sort((a, b) => a.index - b.index);
    const outer: StateNode[] = [];
    for (const d of domains) {
      if (outer.length === 0 || d.index > outer[outer.length - 1].end) outer.push(d);
    }
    let k = outer.length - 1;
    for (let i = config.length - 1; i >= 0 && k >= 0; i--) {
      const s = config[i];
      while (k >= 0 && outer[k].index >= s.index) k--;
      if (k >= 0 && s.index <= outer[k].end) out.push(s);
    }
    return out;
  }

  #exitStates(enabled: Transition[], event: EventObject): void {
    const statesToExit = this.#computeExitSet(enabled);
    if (statesToExit.length === 0) return;
    if (this.#toInvoke !== null) {
      const exiting = statesToExit.length > 16 ? new Set(statesToExit) : statesToExit;
      this.#toInvoke = this.#toInvoke.filter((s) =>
        !(exiting instanceof Set ? exiting.has(s) : exiting.includes(s))
      );
    }
    for (const s of statesToExit) {
      if (s.histories.length === 0) continue;
      // The active descendants of `s` are one run of the sorted configuration.
      const config = this.#cfg();
      const from = this.#indexInConfig(s) + 1;
      for (const h of s.histories) {
        const recorded: StateNode[] = [];
        for (let k = from; k < config.length && config[k].index <= s.end; k++) {
          const s0 = config[k];
          if (h.deep ? s0.children.length === 0 : s0.parent === s) recorded.push(s0);
        }
        const before = this.#history?.get(h);
        if (before !== undefined && sameStates(before, recorded)) continue;
        (this.#history ??= new Map()).set(h, recorded);
        this.#historyVersion++;
      }
    }
    const batch = statesToExit.length > BATCH;
    for (const s of statesToExit) {
      if (s.defer !== null && this.#defers !== null) this.#defers.exits++;
      if (s.exit.length > 0) this.#runActions(s.exit, event);
      if (s.after.length > 0) { for (const a of s.after) this.internalCancel(a.sendId); }
      if (s.invokes.length > 0) this.#cancelInvokes(s);
      if (this.#whenTrue !== null) {
        for (const t of s.eventless) if (t.when) this.#whenTrue.delete(t);
      }
      if (batch) ((this.#pending ??= { out: null, in: null }).out ??= new Set()).add(s);
      else this.#removeFromConfig(s);
      if (this.#listeners !== null) {
        this.#emit({ kind: "exit", time: this.#clock.now(), instance: this.id, state: s.id });
      }
    }
    if (batch && this.#pending !== null) this.#flushConfig();
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
    const batch = entry.states.length > BATCH;
    for (const s of entry.states) {
      if (batch) ((this.#pending ??= { out: null, in: null }).in ??= []).push(s);
      else this.#insertIntoConfig(s);
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
            // Regions are entered in document order: the last one decides fast.
            if (this.#isInFinalState(grandparent)) {
              this.internalRaise({ type: `done.state.${grandparent.id}` });
              if (grandparent === root) this.#done = true;
            }
          }
        }
      }
    }
    if (batch && this.#pending !== null) this.#flushConfig();
  }

  /**
   * SCXML computeEntrySet for the given transitions. For one transition with no history in
   * play the result never changes, so it is cached on the transition.
   */
  #computeEntrySet(transitions: Transition[]): EntrySet {
    const set: EntrySet = { states: [], defaultEntry: new Set(), historyContent: new Map() };
    const work: EntryWork = {
      set,
      members: new Set(),
      covered: new Set(),
      history: false,
      tasks: [],
    };
    for (const t of transitions) {
      if (t.targets === null) continue;
      for (const s of t.targets) this.#addDescendantStatesToEnter(s, work);
      const ancestor = this.#getTransitionDomain(t)!;
      for (const s of this.#getEffectiveTargetStates(t)) {
        this.#addAncestorStatesToEnter(s, ancestor, work);
      }
    }
    set.states.sort((a, b) => a.index - b.index);
    if (transitions.length === 1) {
      const t = transitions[0];
      if (!work.history && !t.historyTarget) t.entryCache = set;
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

  /**
   * SCXML addDescendantStatesToEnter and addAncestorStatesToEnter, with an explicit stack of
   * tasks in place of the spec's mutual recursion (so a chart's depth is not the call stack's),
   * run in the spec's order: a task's subtasks are pushed in reverse, so they run first and in
   * order. "Is a state of this region already entered" is a set lookup (`covered` holds every
   * member and its ancestors), not a scan of the entry set.
   */
  #addDescendantStatesToEnter(state: StateNode, work: EntryWork): void {
    work.tasks.push({ kind: DESCENDANTS, state, ancestor: null });
    this.#runEntryTasks(work);
  }

  #addAncestorStatesToEnter(state: StateNode, ancestor: StateNode, work: EntryWork): void {
    work.tasks.push({ kind: ANCESTORS, state: state.parent, ancestor });
    this.#runEntryTasks(work);
  }

  #runEntryTasks(work: EntryWork): void {
    const tasks = work.tasks;
    const root = this.#m.root;
    while (tasks.length > 0) {
      const task = tasks.pop()!;
      const state = task.state;
      if (task.kind === REGION) {
        if (!work.covered.has(state!)) tasks.push({ kind: DESCENDANTS, state, ancestor: null });
        continue;
      }
      if (task.kind === ANCESTORS) {
        // One ancestor, then (after the regions it needs) the next one up.
        if (state === null || state === task.ancestor || state === root) continue;
        addEntryMember(work, state);
        tasks.push({ kind: ANCESTORS, state: state.parent, ancestor: task.ancestor });
        if (state.kind === "parallel") pushRegions(tasks, state);
        continue;
      }
      const s = state!;
      if (s.kind === "history") {
        work.history = true;
        const recorded = this.#history?.get(s);
        const parent = s.parent!;
        let targets: StateNode[];
        if (recorded !== undefined) targets = recorded;
        else {
          const dflt = s.historyDefault!;
          if (dflt.actions.length > 0) work.set.historyContent.set(parent, dflt.actions);
          targets = dflt.targets ?? NO_STATES;
        }
        pushTargets(tasks, targets, parent);
        continue;
      }
      addEntryMember(work, s);
      if (s.kind === "compound") {
        work.set.defaultEntry.add(s);
        pushTargets(tasks, s.initial!.targets!, s);
      } else if (s.kind === "parallel") pushRegions(tasks, s);
    }
  }

  /**
   * SCXML isInFinalState, with a stack for nested parallel states; regions are looked at last
   * first, so while regions are entered in document order the first look decides.
   */
  #isInFinalState(state: StateNode): boolean {
    const parallels: StateNode[] = [];
    const next: number[] = [];
    let s: StateNode | null = state;
    for (;;) {
      if (s !== null) {
        if (s.kind === "parallel") {
          parallels.push(s);
          next.push(s.children.length - 1);
        } else if (s.kind !== "compound" || !this.#hasFinalChildActive(s)) return false;
      }
      const top = parallels.length - 1;
      if (top < 0) return true;
      const k = next[top]--;
      if (k < 0) {
        parallels.pop();
        next.pop();
        s = null;
      } else s = parallels[top].children[k];
    }
  }

  #hasFinalChildActive(s: StateNode): boolean {
    for (const c of s.children) if (c.kind === "final" && this.#isActive(c)) return true;
    return false;
  }

  /** SCXML exitInterpreter: exit every active state once a top-level final state is reached. */
  #exitInterpreter(): void {
    const event = this.#event;
    const config = this.#cfg();
    for (let i = config.length - 1; i >= 0; i--) {
      const s = config[i];
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
    const tools = this.#tools();
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
      (this.#external ??= new EventQueue()).push(event);
      // Not running: a delayed send fell due (a livelock is reported where it is found).
      if (!this.#running) this.#drain();
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
    const entry: TimerEntry = {
      key,
      live: true,
      sendId,
      event,
      due,
      to,
      handle: undefined,
      fed: due <= now,
    };
    const timers = (this.#timers ??= new Map());
    const same = timers.get(sendId);
    if (same === undefined) timers.set(sendId, entry);
    else if (same instanceof Set) same.add(entry);
    else timers.set(sendId, new Set([same, entry]));
    entry.handle = this.#clock.setTimer(() => {
      if (!entry.live) return;
      this.#async("timer", event, () => this.#fireTimer(entry), sendId, due);
    }, due - now);
  }

  #fireTimer(entry: TimerEntry): boolean {
    if (!entry.live) return false; // cancelled meanwhile
    entry.live = false;
    const timers = this.#timers!;
    const same = timers.get(entry.sendId);
    if (same === entry) timers.delete(entry.sendId);
    else if (same instanceof Set) {
      same.delete(entry);
      if (same.size === 0) timers.delete(entry.sendId);
    }
    if (this.#status !== "active") return false;
    if (entry.sendId.startsWith(RETRY_SEND_PREFIX)) {
      return this.#retryDue(entry.sendId.slice(RETRY_SEND_PREFIX.length));
    }
    if (entry.to === undefined) this.deliver(entry.event, entry.fed);
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
    const path: string[] = [];
    let options = this.#options as StartOptions;
    while (options.parent !== undefined && options.invokeId !== undefined) {
      path.push(options.invokeId);
      const parent: unknown = options.parent;
      if (!(parent instanceof Instance)) break;
      options = parent.#options;
    }
    return path.reverse();
  }

  /** How many invoked machines this one is nested in. */
  #invokeDepth(): number {
    let depth = 0;
    for (let p: unknown = this.#options.parent; p !== undefined; depth++) {
      p = p instanceof Instance ? (p.#options as StartOptions).parent : undefined;
    }
    return depth;
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
      const same = sendId === undefined ? undefined : this.#timers?.get(sendId);
      if (same === undefined) return false;
      let best: TimerEntry | undefined;
      for (const t of same instanceof Set ? same : [same]) {
        if (due !== undefined && t.due !== due) continue;
        if (best === undefined || t.due < best.due) best = t;
      }
      if (best === undefined) return false;
      this.#clock.clearTimer(best.handle);
      return this.#fireTimer(best);
    }
    if (event.type.startsWith(ATTEMPT_FAILED)) return this.#attemptFailedRun(event);
    this.deliver({ ...event });
    return true;
  }

  #teardown(): void {
    if (this.#timers !== null) {
      for (const t of this.#allTimers()) this.#cancelTimer(t);
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

  #startInvokes(
    s: StateNode,
    childSnapshots: Record<string, Snapshot> | undefined,
    retries?: Record<string, InvokeRetryState>,
  ): void {
    if (!this.#isActive(s) && s !== this.#m.root) return;
    for (const inv of s.invokes) {
      if (this.#invokes?.has(inv.id)) continue;
      const running: RunningInvoke = {
        id: inv.id,
        node: s,
        inv,
        input: undefined,
        failed: 0,
        waiting: false,
        autoForward: inv.autoForward,
        finalize: inv.finalize,
        controller: new AbortController(),
        child: null,
        ...invokePolicy(inv),
      };
      try {
        running.input = typeof inv.input === "function"
          ? (inv.input as (a: unknown) => unknown)({ context: this.#context, event: this.#event })
          : inv.input;
      } catch (e) {
        this.#executionError(e, `input of invoke "${inv.id}"`);
        continue;
      }
      (this.#invokes ??= new Map()).set(inv.id, running);
      if (inv.isMachine) {
        this.#startChild(s, running, childSnapshots?.[inv.id]);
        continue;
      }
      // A restore between attempts: the failed ones count; during a retry wait (its delayed
      // send restored with the timers) the next attempt waits for it.
      const retry = retries?.[inv.id];
      if (retry !== undefined) {
        running.failed = retry.attempt;
        running.lastError = { ...retry.error };
        // The policy it ran under (snapshots before it was kept: the one looked up now).
        if (retry.policy !== undefined) Object.assign(running, policyFromState(retry.policy));
        running.waiting = this.#timers?.has(RETRY_SEND_PREFIX + inv.id) === true;
      }
      // Replaying a journal: the results are in the journal; do not run side effects again.
      if (this.#options.replay !== true) {
        running.effectId = this.#options.effectId?.(inv.id) ??
          `${this.id}:${inv.id}:${++this.#effects}`;
      }
      if (!running.waiting) this.#runAttempt(running);
    }
  }

  #startChild(s: StateNode, running: RunningInvoke, snap: Snapshot | undefined): void {
    const inv = running.inv;
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
      if (this.#invokeDepth() >= MAX_INVOKE_DEPTH) {
        throw new Error(
          `invoke "${inv.id}" of "${s.id || this.#m.id}" in instance "${this.id}": invoked ` +
            `machines nest more than ${MAX_INVOKE_DEPTH} deep (does a machine invoke itself?)`,
        );
      }
      if (snap !== undefined && machine.restore !== undefined) {
        running.child = machine.restore(snap, childOptions);
      } else {
        const input = running.input;
        if (typeof input === "object" && input !== null) {
          childOptions.context = input as Record<string, unknown>;
        }
        running.child = machine.start(childOptions);
      }
    } catch (e) {
      this.#finalFailure(running, e, 0);
    }
  }

  /** Starts attempt `failed + 1` of an invoked function (in a replay: only counts it). */
  #runAttempt(running: RunningInvoke): void {
    const inv = running.inv;
    const attempt = running.failed + 1;
    running.waiting = false;
    const controller = new AbortController();
    running.controller = controller;
    if (this.#options.replay === true) return;
    const current = () =>
      !controller.signal.aborted && this.#invokes?.get(inv.id) === running &&
      running.controller === controller;
    const fail = (e: unknown) => {
      if (!current()) return;
      this.#clearAttemptTimeout(running);
      this.#attemptFailed(running, attempt, e);
    };
    if (running.timeout !== null) {
      const ms = running.timeout;
      running.timeoutHandle = this.#clock.setTimer(() => {
        if (!current()) return;
        running.timeoutHandle = undefined;
        const e = new DOMException(
          `invoke "${inv.id}" in instance "${this.id}": attempt ${attempt} took longer than ` +
            `its timeout of ${ms} ms`,
          "TimeoutError",
        );
        fail(e);
        controller.abort(e);
      }, ms);
    }
    const effectId = running.effectId!;
    try {
      const result = (inv.src as (a: unknown) => unknown)({
        context: this.#context,
        event: this.#event,
        input: running.input,
        signal: controller.signal,
        effectId,
        attempt,
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
        if (!current()) return;
        this.#clearAttemptTimeout(running);
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

  #clearAttemptTimeout(running: RunningInvoke): void {
    if (running.timeoutHandle === undefined) return;
    this.#clock.clearTimer(running.timeoutHandle);
    running.timeoutHandle = undefined;
  }

  /**
   * Attempt `attempt` failed: with attempts left and a retryable error, an `error.attempt.<id>`
   * delivery (journaled by the store) arms the wait before the next one; otherwise the
   * invocation fails with `error.platform.<id>`.
   */
  #attemptFailed(running: RunningInvoke, attempt: number, e: unknown): void {
    const policy = running.retry;
    if (policy === null || attempt >= policy.attempts || isNonRetryable(policy, e)) {
      this.#finalFailure(running, e, policy === null ? 0 : attempt);
      return;
    }
    const event: EventObject = {
      type: `${ATTEMPT_FAILED}${running.id}`,
      invokeId: running.id,
      attempt,
      error: plainError(e),
      // Journaled with the attempt: a replay waits as this run did, wherever it runs.
      policy: policyState(policy, running.timeout),
    };
    if (running.effectId !== undefined) event.effectId = running.effectId;
    this.#async("invoke", event, () => this.#attemptFailedRun(event));
  }

  /** Applies an `error.attempt.<id>` delivery (live or replayed): the retry wait starts. */
  #attemptFailedRun(event: EventObject): boolean {
    const running = this.#invokes?.get(event.invokeId as string);
    const attempt = event.attempt as number;
    if (
      running === undefined || this.#status !== "active" || running.waiting ||
      running.failed !== attempt - 1
    ) return false;
    // The policy the attempt failed under (a replay without the plugin that gave it);
    // entries journaled before it was kept: the invocation's own.
    if (event.policy !== undefined && policyStateProblem(event.policy) === null) {
      Object.assign(running, policyFromState(event.policy as RetryPolicyState));
    }
    if (running.retry === null) return false;
    running.failed = attempt;
    running.lastError = { ...(event.error as { name: string; message: string }) };
    running.waiting = true;
    const now = this.#clock.now();
    const due = now + retryDelay(running.retry, attempt);
    const retry: EventObject = {
      type: `retry.invoke.${running.id}`,
      invokeId: running.id,
      attempt: attempt + 1,
    };
    this.#arm(RETRY_SEND_PREFIX + running.id, retry, due, undefined, now);
    return true;
  }

  /** The retry wait of invocation `invokeId` is over: its next attempt starts. */
  #retryDue(invokeId: string): boolean {
    const running = this.#invokes?.get(invokeId);
    if (running === undefined || !running.waiting) return false;
    this.#runAttempt(running);
    return true;
  }

  /** `error.platform.<id>`; `attempts` (the count, with a retry policy) is on the event. */
  #finalFailure(running: RunningInvoke, e: unknown, attempts: number): void {
    const event: EventObject = {
      type: `error.platform.${running.id}`,
      error: plainError(e),
      invokeId: running.id,
    };
    if (attempts > 0) event.attempts = attempts;
    if (running.effectId !== undefined) event.effectId = running.effectId;
    this.#async("invoke", event, () => {
      if (this.#invokes?.get(running.id) !== running || this.#status !== "active") return false;
      this.#invokes.delete(running.id);
      this.deliver(event);
      return true;
    });
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
    this.#clearAttemptTimeout(running);
    if (running.waiting) this.internalCancel(RETRY_SEND_PREFIX + running.id);
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
    for (const s of this.#cfg()) {
      if (s.defer !== null && matchesAny(s.defer, event.type)) return true;
    }
    return false;
  }

  #defer(event: EventObject): void {
    const defers = (this.#defers ??= { groups: new Map(), seq: 0, exits: 0, checked: 0 });
    let group = defers.groups.get(event.type);
    if (group === undefined) defers.groups.set(event.type, group = { events: [], seqs: [] });
    group.events.push(event);
    group.seqs.push(defers.seq++);
  }

  /**
   * Puts the deferred events no longer deferred back at the front of the queue, in the order
   * they arrived; returns how many. Only a state with `defer` exiting can release one, so the
   * caller asks only after that; the check is per event type, not per event.
   */
  #releaseDeferred(): number {
    const defers = this.#defers!;
    defers.checked = defers.exits;
    const groups = defers.groups;
    let released: DeferredGroup[] | null = null;
    for (const [type, group] of groups) {
      if (this.#isDeferred(group.events[0])) continue;
      (released ??= []).push(group);
      groups.delete(type);
    }
    if (groups.size === 0) this.#defers = null;
    if (released === null) return 0;
    const events = mergeGroups(released);
    this.#putBackExternal(events);
    return events.length;
  }

  /** Every deferred event, in the order they arrived. */
  #deferredEvents(): EventObject[] {
    return this.#defers === null ? [] : mergeGroups([...this.#defers.groups.values()]);
  }

  // ---------------------------------------------------------------------------------------
  // Configuration bookkeeping

  /** The root's initial transition; for a parallel root, one made once per machine (so its
   * entry set is computed once, like any other transition's). */
  #rootInitial(): Transition {
    const root = this.#m.root;
    if (root.kind === "compound") return root.initial!;
    let made = PARALLEL_ROOT_INITIAL.get(this.#m);
    if (made === undefined) {
      made = this.#makeRootInitial();
      PARALLEL_ROOT_INITIAL.set(this.#m, made);
    }
    return made;
  }

  #makeRootInitial(): Transition {
    const root = this.#m.root;
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
    const pending = this.#pending;
    if (pending === null) return this.#indexInConfig(s) >= 0;
    if (pending.out !== null && pending.out.has(s)) return false;
    if (this.#indexInConfig(s) >= 0) return true;
    return pending.in !== null && pendingIndex(pending.in, s) >= 0;
  }

  /**
   * The configuration, with the changes of a large exit or entry in progress applied. A
   * microstep that exits or enters many states (wide parallel states) records them as pending
   * and applies them in one merge, instead of moving the array's tail for each state; any
   * reader of the configuration in between (an action calling `matches`, a listener reading
   * `configuration`) sees exactly the states exited or entered so far. A method, not a private
   * getter: V8 calls a private accessor without inlining it, which cost the traffic-light
   * bench about 7 % (it is read on every event).
   */
  #cfg(): StateNode[] {
    if (this.#pending !== null) this.#flushConfig();
    return this.#config;
  }

  #flushConfig(): void {
    const out = this.#pending!.out;
    const add = this.#pending!.in ?? NO_STATES;
    this.#pending = null;
    const config = this.#config;
    const merged: StateNode[] = [];
    let j = 0;
    for (const s of config) {
      if (out !== null && out.has(s)) continue;
      while (j < add.length && add[j].index < s.index) merged.push(add[j++]);
      merged.push(s);
    }
    while (j < add.length) merged.push(add[j++]);
    this.#config = merged;
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

/** The initial transition of each machine whose root is parallel (see `#rootInitial`). */
const PARALLEL_ROOT_INITIAL = new WeakMap<CompiledMachine, Transition>();

/**
 * Appends `x` to `out` unless it is there: a scan while the list is short, a set once it is
 * long (returned, for the next call).
 */
function addUnique<T>(out: T[], seen: Set<T> | null, x: T): Set<T> | null {
  if (seen !== null) {
    if (!seen.has(x)) {
      seen.add(x);
      out.push(x);
    }
    return seen;
  }
  if (out.includes(x)) return null;
  out.push(x);
  return out.length > 16 ? new Set(out) : null;
}

/** Where `s` is in `sorted` (sorted by document order), or -1. */
function pendingIndex(sorted: StateNode[], s: StateNode): number {
  let lo = 0, hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = sorted[mid].index;
    if (x === s.index) return mid;
    if (x < s.index) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A microstep exiting or entering more states than this changes the configuration in one merge. */
const BATCH = 32;

/** Entry-set tasks (see `#runEntryTasks`). */
const DESCENDANTS = 0, ANCESTORS = 1, REGION = 2;

interface EntryTask {
  kind: typeof DESCENDANTS | typeof ANCESTORS | typeof REGION;
  state: StateNode | null;
  ancestor: StateNode | null;
}

/** One computeEntrySet in progress. */
interface EntryWork {
  set: EntrySet;
  members: Set<StateNode>;
  /** Every member and every ancestor of one: "a state of this region is entered". */
  covered: Set<StateNode>;
  history: boolean;
  tasks: EntryTask[];
}

function addEntryMember(work: EntryWork, s: StateNode): void {
  if (work.members.has(s)) return;
  work.members.add(s);
  work.set.states.push(s);
  for (let a: StateNode | null = s; a !== null && !work.covered.has(a); a = a.parent) {
    work.covered.add(a);
  }
}

/** Descendants of each target, then their ancestors up to `ancestor` (run in that order). */
function pushTargets(tasks: EntryTask[], targets: StateNode[], ancestor: StateNode): void {
  for (let k = targets.length - 1; k >= 0; k--) {
    tasks.push({ kind: ANCESTORS, state: targets[k].parent, ancestor });
  }
  for (let k = targets.length - 1; k >= 0; k--) {
    tasks.push({ kind: DESCENDANTS, state: targets[k], ancestor: null });
  }
}

function pushRegions(tasks: EntryTask[], parallel: StateNode): void {
  const regions = parallel.children;
  for (let k = regions.length - 1; k >= 0; k--) {
    tasks.push({ kind: REGION, state: regions[k], ancestor: null });
  }
}

/** Deferred events of one type, each with its arrival number (their order across types). */
interface DeferredGroup {
  events: EventObject[];
  seqs: number[];
}

/** An instance's deferred events, by type. */
interface DeferredEvents {
  groups: Map<string, DeferredGroup>;
  seq: number;
  /** Bumped when a state with `defer` exits: only then can a deferred event be released. */
  exits: number;
  /** `exits` when the groups were last looked at (-1: never). */
  checked: number;
}

/**
 * A FIFO queue of events whose head moves: a take is O(1), not a `shift` (O(queue)). Its head
 * lives here, not in two more fields of every instance: an instance makes its queues on first use.
 */
class EventQueue {
  items: EventObject[] = [];
  /** Items before this index were taken. */
  head = 0;

  size(): number {
    return this.items.length - this.head;
  }

  push(event: EventObject): void {
    this.items.push(event);
  }

  /** The next event; the array is emptied once every event is taken. */
  take(): EventObject {
    const q = this.items;
    const event = q[this.head];
    if (++this.head === q.length) {
      // Not `q.length = 0`: V8 takes a slow path for it, which cost a raised or self-sent event
      // 10-20 %; one event (the usual case) is popped, a longer run leaves a fresh array.
      if (q.length === 1) q.pop();
      else this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      // A queue that never empties (events added while others are taken): drop what was taken.
      q.copyWithin(0, this.head);
      q.length -= this.head;
      this.head = 0;
    } else (q as (EventObject | undefined)[])[this.head - 1] = undefined;
    return event;
  }

  /** The waiting events, in order (a copy). */
  toArray(): EventObject[] {
    return this.head === 0 ? this.items.slice() : this.items.slice(this.head);
  }

  /**
   * Puts events back at the front, in order: into the room the head left when there is enough,
   * else into a new array with as much room again at its front, so a run of put-backs costs
   * O(put back) each, amortised.
   */
  putBack(events: EventObject[]): void {
    const n = events.length;
    const q = this.items;
    if (this.head >= n) {
      this.head -= n;
      for (let k = 0; k < n; k++) q[this.head + k] = events[k];
      return;
    }
    const rest = q.length - this.head;
    const room = n + rest;
    const next = new Array<EventObject>(room + n + rest);
    for (let k = 0; k < n; k++) next[room + k] = events[k];
    for (let k = 0; k < rest; k++) next[room + n + k] = q[this.head + k];
    this.items = next;
    this.head = room;
  }
}

/** States exited and entered by a large microstep, not yet merged into the configuration. */
interface PendingConfig {
  out: Set<StateNode> | null;
  /** Sorted by document order. */
  in: StateNode[] | null;
}

/**
 * Livelock bookkeeping, made on the first self-fed event: macrosteps in a row on events the
 * instance fed itself, the types of the last of them (a ring), and of the last microsteps of a
 * macrostep near `maxMicrosteps`.
 */
interface LivelockTrace {
  selfFed: number;
  fed: string[];
  fedPos: number;
  steps: string[] | null;
}

function newTrace(): LivelockTrace {
  return { selfFed: 0, fed: [], fedPos: 0, steps: null };
}

/** Every token of each machine's descriptors ("exact:"/"prefix:"; null when one is `*`). */
const EVENT_TOKENS = new WeakMap<CompiledMachine, Set<string> | null>();

/** The events of deferred groups in the order they arrived (by arrival number). */
function mergeGroups(groups: DeferredGroup[]): EventObject[] {
  if (groups.length === 1) return groups[0].events;
  const order: [number, EventObject][] = [];
  for (const g of groups) {
    for (let k = 0; k < g.events.length; k++) order.push([g.seqs[k], g.events[k]]);
  }
  order.sort((a, b) => a[0] - b[0]);
  return order.map((x) => x[1]);
}

/** The last `n` distinct values of `list`, in the order of their last occurrence. */
function lastDistinct(list: readonly string[], n: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = list.length - 1; i >= 0 && out.length < n; i--) {
    if (seen.has(list[i])) continue;
    seen.add(list[i]);
    out.push(list[i]);
  }
  return out.reverse();
}

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
