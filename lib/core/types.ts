/**
 * The shapes a user writes (machine configs) and the shapes the engine hands back
 * (instances, snapshots, monitoring records). The vocabulary is XState's; the semantics are
 * the W3C SCXML recommendation's.
 *
 * @module
 */

/** An event: a `type` (its name, dot-separated: `error.execution`) plus any payload fields. */
export interface EventObject {
  /** The event's name. */
  type: string;
  /** Payload fields: anything else the sender puts on the event (plain JSON when it is stored). */
  [key: string]: unknown;
}

/** What `send` accepts: an event name, or an event object with a payload. */
export type EventInput<E extends EventObject = EventObject> = E["type"] | E;

/** A value that is not a function (so a function beside it in a union keeps its typing). */
export type PlainValue =
  | string
  | number
  | boolean
  | null
  | readonly unknown[]
  | { readonly [key: string]: unknown };

/** Options for an event sent from an action (`send(...)`). */
export interface SendOptions {
  /** Milliseconds (number) or a CSS2 duration string (`"1.5s"`, `"200ms"`); default: now. */
  delay?: number | string;
  /** Send id, so that `cancel(id)` can withdraw a delayed send. */
  id?: string;
  /**
   * Where it goes: omitted (this instance's external queue), `"#_parent"` (the machine that
   * invoked this one), `"#_<invokeId>"` or an invoke id (a child machine), or any other target,
   * handed to the instance's `onSend` option (the runtime routes those to plugins).
   */
  to?: string;
}

/** The tools an action receives. Valid only during the call: do not keep it. */
export interface ActionArgs<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** The instance's context; actions may change it in place or through `assign`. */
  context: C;
  /** The event being processed (for entry actions: the event of the transition). */
  event: E;
  /** Puts an event on the internal queue: processed before any external event. */
  raise(event: EventInput<EventObject>): void;
  /** Sends an event to the external queue (or another target), now or after a delay. */
  send(event: EventInput<EventObject>, options?: SendOptions): void;
  /** Cancels a delayed send by its id; unknown ids are ignored, as SCXML says. */
  cancel(sendId: string): void;
  /** Records a log line (delivered to subscribers and the instance's `log` option). */
  log(...values: unknown[]): void;
  /** Shallow-merges `patch` into the context. */
  assign(patch: Partial<C>): void;
  /** Whether the state with this id is active now (SCXML `In()`). */
  matches(stateId: string): boolean;
}

/** An action: a function, or the name of one in the machine's `actions` map. */
export type Action<C = Record<string, unknown>, E extends EventObject = EventObject> =
  | ((args: ActionArgs<C, E>) => void)
  | string;

/** One action or several, run in order. */
export type Actions<C = Record<string, unknown>, E extends EventObject = EventObject> =
  | Action<C, E>
  | ReadonlyArray<Action<C, E>>;

/** What a guard receives. */
export interface GuardArgs<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** The instance's context (read it; a guard should not change it). */
  context: C;
  /** The event being tested (for eventless transitions: the event of the last macrostep). */
  event: E;
  /** Whether the state with this id is active now (SCXML `In()`). */
  matches(stateId: string): boolean;
}

/** A guard: a predicate, or the name of one in the machine's `guards` map. */
export type Guard<C = Record<string, unknown>, E extends EventObject = EventObject> =
  | ((args: GuardArgs<C, E>) => boolean)
  | string;

/** A transition as written in `on`, `always`, `after`, `onDone`... */
export interface TransitionConfig<
  C = Record<string, unknown>,
  E extends EventObject = EventObject,
> {
  /**
   * Target state(s): a sibling's key (`"open"`), a child of the source (`".child"`), a dotted
   * path from the parent (`"open.locked"`) or an id (`"#door.open"`). Several targets enter
   * several regions of a parallel state. Omitted: a targetless transition (actions only).
   */
  target?: string | readonly string[];
  /** Taken only when this returns true. */
  guard?: Guard<C, E>;
  /** Run between the exits and the entries. */
  actions?: Actions<C, E>;
  /**
   * `true`: an external transition (SCXML `type="external"`): the source is exited and
   * re-entered even when every target is its descendant. Default `false` (SCXML internal).
   */
  reenter?: boolean;
  /** Free text, shown in diagrams. */
  description?: string;
}

/** A target string, one transition, or several tried in document order. */
export type TransitionsConfig<
  C = Record<string, unknown>,
  E extends EventObject = EventObject,
> =
  | string
  | TransitionConfig<C, E>
  | ReadonlyArray<string | TransitionConfig<C, E>>;

/**
 * `on`: for a typed machine, each declared event's transitions see that event's type; the
 * platform's events (`done.*`, `error.*`, `after.*`) and wildcard or multi-event descriptors
 * take any event.
 */
export type OnConfig<C, E extends EventObject> = string extends E["type"]
  ? Record<string, TransitionsConfig<C, E>>
  :
    & { [K in E["type"]]?: TransitionsConfig<C, Extract<E, { type: K }>> }
    & {
      [
        K in
          | "*"
          | "done"
          | "error"
          | `done.${string}`
          | `error.${string}`
          | `after.${string}`
          | `${string}.*`
          | `${string} ${string}`
      ]?: TransitionsConfig<C, EventObject>;
    };

/** A change event: a transition taken once each time `condition` becomes true. */
export interface WhenConfig<C = Record<string, unknown>, E extends EventObject = EventObject>
  extends TransitionConfig<C, E> {
  /** Evaluated after every step while the state is active. */
  condition: Guard<C, E>;
}

/** What an invoked function receives. */
export interface InvokeArgs<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** The invoking instance's context when the invocation started. */
  context: C;
  /** The event whose transition entered the invoking state. */
  event: E;
  /** The invocation's input (`input` in the invoke config, evaluated at start). */
  input: unknown;
  /** Aborted when the invoking state exits or the instance stops. */
  signal: AbortSignal;
  /**
   * A stable id of this invocation (one entry of its state): the same when the invocation is
   * started again after a restore (a restart, a takeover by another node). Give it to the
   * receiver of a side effect as its idempotency key: executed at least once, the effect then
   * happens once. The result event carries it as `effectId`.
   */
  effectId: string;
  /** Sends an event to the invoking instance (its external queue). */
  sendParent(event: EventInput<EventObject>): void;
  /** Which attempt this is: 1, then 2, 3... when a `retry` policy runs it again. */
  attempt: number;
}

/**
 * When a failed invocation runs again (`invoke.retry`, the machine's `invokeDefaults.retry`).
 * Attempt n failed: the next one starts after `min(initial * factor^(n-1), max)`, on a delayed
 * send (kept in snapshots, durable in the store). `error.platform.<id>` comes only after the last
 * attempt, or at once for a `nonRetryable` error.
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included (default 3). */
  attempts?: number;
  /** The wait after the first failure: a duration (`"500ms"`, `"2s"`) or ms (default 1s). */
  initial?: string | number;
  /** Each wait is the previous one times this (default 2; 1: a constant wait). */
  factor?: number;
  /** The longest wait (default: no cap). */
  max?: string | number;
  /**
   * Errors that fail at once: matched against the error's `name`, its `code` (a
   * `PluginHostError`'s `"timeout"`, `"ENOENT"`...) and a `PluginError`'s `remoteName`.
   */
  nonRetryable?: string[];
}

/** The machine's defaults for the invoked functions that set none (`invokeDefaults`). */
export interface InvokeDefaults {
  /** The retry policy of every invoked function (an invoke's own `retry` fields win). */
  retry?: RetryPolicy;
  /** The timeout of every attempt of every invoked function. */
  timeout?: string | number;
}

/** A do-activity: an async function, or a child machine. */
export interface InvokeConfig<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** The invocation's id (default: `<stateId>:invoke<N>`); events come back as `done.invoke.<id>`. */
  id?: string;
  /** An async function (resolves: `done.invoke.<id>`, rejects: `error.platform.<id>`) or a machine. */
  // deno-lint-ignore no-explicit-any
  src: ((args: InvokeArgs<C, E>) => unknown) | MachineLike<any>;
  /** Value or function of context and event, handed to the function / the child's context. */
  input?: PlainValue | ((args: { context: C; event: E }) => unknown);
  /** Transition(s) on `done.invoke.<id>`. */
  onDone?: TransitionsConfig<C, E>;
  /** Transition(s) on `error.platform.<id>`. */
  onError?: TransitionsConfig<C, E>;
  /** Forward every external event this instance receives to the child machine. */
  autoForward?: boolean;
  /**
   * Run before this instance processes an event the child sent it (SCXML `<finalize>`): the
   * event is the child's, so these actions can copy its data into the context.
   */
  finalize?: Actions<C, E>;
  /** Run a failing function again (over the machine's `invokeDefaults.retry`); functions only. */
  retry?: RetryPolicy;
  /**
   * Most time an attempt may take (a duration or ms): then its `signal` is aborted and it fails
   * with a `TimeoutError` (retried like any failure). Functions only.
   */
  timeout?: string | number;
}

/** The kinds of state. */
export type StateType = "atomic" | "compound" | "parallel" | "final" | "history" | "choice";

/** A state. */
export interface StateConfig<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** Inferred when omitted: compound with `states`, atomic without. */
  type?: StateType;
  /** An id other than the dotted path, for `#id` targets. */
  id?: string;
  /**
   * Initial child key (default: the first child), or descendant ids for a deep initial; or
   * `{ target, actions }` for an initial transition with actions (SCXML `<initial>`), run only
   * when the state is entered by default.
   */
  initial?: string | readonly string[] | {
    target: string | readonly string[];
    actions?: Actions<C, E>;
  };
  /** Child states, in document order. */
  states?: Record<string, StateConfig<C, E>>;
  /** Transitions by event descriptor (`"OPEN"`, `"error"`, `"error.*"`, `"*"`, `"A B"`). */
  on?: OnConfig<C, E>;
  /** Compound and parallel states: transition(s) on `done.state.<id>` (a final child reached). */
  onDone?: TransitionsConfig<C, E>;
  /** Eventless transitions, taken as soon as their guard holds. */
  always?: TransitionsConfig<C, E>;
  /** Delayed transitions: key is milliseconds or a duration string (`"2s"`). */
  after?: Record<string | number, TransitionsConfig<C, E>>;
  /** Change events. */
  when?: WhenConfig<C, E> | ReadonlyArray<WhenConfig<C, E>>;
  /** Entry actions. */
  entry?: Actions<C, E>;
  /** Exit actions. */
  exit?: Actions<C, E>;
  /** Do-activities started when the state is entered, cancelled when it exits. */
  invoke?: InvokeConfig<C, E> | ReadonlyArray<InvokeConfig<C, E>>;
  /** Event descriptors kept queued while this state is active. */
  defer?: readonly string[];
  /**
   * Search tags this state gives an instance while it is active (listed by `tag=<name>` when
   * the machine declares `search: { tags: true }`; see docs/operations.md, "Search").
   */
  tags?: readonly string[];
  /** History states: `"shallow"` (default) or `"deep"`. */
  history?: "shallow" | "deep";
  /**
   * History states: the default target when no history was recorded; `{ target, actions }`
   * when the default transition has actions (SCXML).
   */
  target?: string | readonly string[] | {
    target: string | readonly string[];
    actions?: Actions<C, E>;
  };
  /** Final states: the done data (`done.state.<parent>` payload, or the machine's output). */
  output?: PlainValue | ((args: { context: C; event: E }) => unknown);
  /** Free text. */
  description?: string;
  /** Anything the user wants kept with the state. */
  meta?: Record<string, unknown>;
}

/** A Standard Schema (zod 4, valibot, arktype...): used for optional event payload checks. */
export interface StandardSchema {
  /** The Standard Schema interface: its `validate` checks an event's payload. */
  readonly "~standard": {
    validate(value: unknown): StandardResult | Promise<StandardResult>;
  };
}

/** The result of a Standard Schema validation. */
export type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<
      {
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
      }
    >;
  };

/** A machine: the root state plus what belongs to the whole machine. */
export interface MachineConfig<C = Record<string, unknown>, E extends EventObject = EventObject>
  extends Omit<StateConfig<C, E>, "type" | "history" | "target" | "output" | "defer"> {
  /** The machine's id (its name in the runtime, the REPL and diagrams). */
  id: string;
  /** `"parallel"` makes the root a parallel state; default compound. */
  type?: "compound" | "parallel";
  /** A version label, recorded in snapshots. */
  version?: string | number;
  /** The initial context (copied per instance), or a function making it. */
  context?: C | (() => C);
  /** Named guards, referenced by string. */
  guards?: Record<string, (args: GuardArgs<C, E>) => boolean>;
  /** Named actions, referenced by string. */
  actions?: Record<string, (args: ActionArgs<C, E>) => void>;
  /** Payload schemas by event type: `send` rejects a malformed event before it is processed. */
  schemas?: { events?: Record<string, StandardSchema> };
  /**
   * Snapshot migrations, keyed by the version they migrate *from*: each returns the snapshot
   * under the next version. The durable store runs the chain from a stored snapshot's version
   * to this machine's `version`.
   */
  migrations?: Record<string, (snapshot: Snapshot) => Snapshot>;
  /**
   * Searchable fields: the store indexes these context fields (strings, numbers, booleans) and,
   * with `tags: true`, the `tags` of the active states, in the same commit as each macrostep;
   * `list` filters on them (docs/operations.md, "Search").
   */
  search?: SearchConfig;
  /** Retry policy and timeout of the invoked functions that set none (see `RetryPolicy`). */
  invokeDefaults?: InvokeDefaults;
}

/** `MachineConfig.search`: which context fields and whether state tags are indexed. */
export interface SearchConfig {
  /** Top-level context fields to index (equality and range filters). */
  context?: readonly string[];
  /** Index the `tags` of the active states. */
  tags?: boolean;
}

/** The part of a machine an invoke needs; `Machine` implements it. */
export interface MachineLike<C = Record<string, unknown>> {
  /** The machine's id. */
  readonly id: string;
  /** Starts an instance. */
  start(options?: StartOptions<C>): MachineInstance<C>;
}

/** A timer source. The engine never reads the time or sets timers except through one. */
export interface Clock {
  /** Milliseconds since the epoch (or since the clock's start, for virtual clocks). */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for `clearTimer`. */
  setTimer(fn: () => void, ms: number): unknown;
  /** Cancels a timer set by `setTimer`. */
  clearTimer(handle: unknown): void;
}

/** Options for `machine.start()` and `machine.restore()`. */
export interface StartOptions<C = Record<string, unknown>> {
  /** The time source (default: a `SystemClock`). */
  clock?: Clock;
  /** Overrides (is shallow-merged into) the machine's initial context. */
  context?: Partial<C>;
  /** The instance id (default: the machine id plus a counter). */
  id?: string;
  /** Receives `send`s whose `to` is neither this instance, its parent, nor a child. */
  onSend?: (target: string, event: EventObject, from: MachineInstance<C>) => void;
  /** Subscribed before the first macrostep, so it also sees what happens during start. */
  listener?: (record: MonitorRecord) => void;
  /**
   * Coverage hooks (the testing kit's `trackCoverage`): told each transition taken and each
   * guard evaluated, from the first macrostep on. Not passed to invoked children.
   */
  probe?: ExecutionProbe;
  /** Receives `log` action output (default: none; subscribers get it as a record too). */
  log?: (instanceId: string, values: unknown[]) => void;
  /** Most events processed in one macrostep's eventless loop before it is reported as a livelock. */
  maxMicrosteps?: number;
  /**
   * Most macrosteps in a row on events the instance fed itself (sends to itself, to and from its
   * parent or invoked children, zero-delay timers) before it is reported as a livelock (default
   * 100,000). Any event from outside starts the count again: one passed to `send`, a timer that
   * waited a positive delay, an invoked function's result or message, a restored queue.
   */
  maxSelfFedMacrosteps?: number;
  /**
   * Hands every asynchronous delivery (a timer firing, an invocation's result or message) to
   * the host, which calls `delivery.run()` when it is ready (the durable store runs it in the
   * instance's mailbox and journals it). Default: run at once.
   */
  schedule?: (delivery: AsyncDelivery) => void;
  /** Journal replay: invoked functions are not called (their results come from the journal). */
  replay?: boolean;
  /**
   * Names invocations (`InvokeArgs.effectId`): called when an invoked function starts, with its
   * invoke id. Default: `<instance id>:<invoke id>:<n>` (n counts this instance's starts).
   */
  effectId?: (invokeId: string) => string;
  /** Internal: the parent instance of an invoked child. */
  parent?: MachineInstance;
  /** Internal: the invoke id under which the parent knows this instance. */
  invokeId?: string;
}

/**
 * What a coverage tool learns from an instance that monitoring records do not say: which
 * transition of the chart was taken (records name only its source and targets) and what each
 * guard returned. Calls cost nothing when no probe is set; a probe that throws is ignored.
 */
export interface ExecutionProbe {
  /**
   * A transition is taken (before its actions run). `id` is the compiled transition's id,
   * `<source state id>#<n>`: the n-th transition written on that state, in document order.
   */
  transition(id: string): void;
  /**
   * A guard (or a `when` condition) of transition `id` was evaluated while the instance ran
   * (not for `can` or `acceptedEvents`); a guard that threw counts as false.
   */
  guard(id: string, result: boolean): void;
}

/** An event arriving from outside a `send`, handed to a `schedule` hook. */
export interface AsyncDelivery {
  /** `"timer"`: a delayed send fell due; `"invoke"`: an invocation resolved, rejected or sent. */
  kind: "timer" | "invoke";
  /** The event it delivers. */
  event: EventObject;
  /** Invoke ids from the root instance down to the receiving instance (empty: the root). */
  path: string[];
  /** Timers: the send id (`SendOptions.id`, or one the engine generated). */
  sendId?: string;
  /** Timers: the clock time it was due at. */
  due?: number;
  /** Applies the delivery; false when it no longer applies (cancelled, stale, stopped). */
  run(): boolean;
}

/** `"active"` while running, `"done"` after a top-level final state, `"stopped"` after `stop()`. */
export type InstanceStatus = "active" | "done" | "stopped";

/** A monitoring record, handed to `subscribe` listeners. */
export type MonitorRecord =
  | { kind: "event"; time: number; instance: string; event: EventObject }
  | {
    kind: "transition";
    time: number;
    instance: string;
    event: string;
    source: string;
    targets: string[];
  }
  | { kind: "enter"; time: number; instance: string; state: string }
  | { kind: "exit"; time: number; instance: string; state: string }
  | { kind: "error"; time: number; instance: string; event: string; error: string }
  | { kind: "log"; time: number; instance: string; values: unknown[] }
  | { kind: "macrostep"; time: number; instance: string; configuration: string[] };

/** Counters an instance keeps from its start. */
export interface InstanceStats {
  /** External events processed (each one a macrostep). */
  events: number;
  /** Transitions taken. */
  transitions: number;
  /** Errors met while running: a throwing action or guard, a send that could not be delivered. */
  errors: number;
  /** Microsteps run. */
  microsteps: number;
}

/** A pending delayed send, as stored in a snapshot. */
export interface SnapshotTimer {
  /** The send id, for `cancel`. */
  sendId: string;
  /** The event it will send. */
  event: EventObject;
  /** Clock time at which it fires. */
  due: number;
  /** `SendOptions.to`, when not this instance. */
  to?: string;
}

/** An invoked function between attempts (`Snapshot.retries`). */
export interface InvokeRetryState {
  /** The attempts that failed so far. */
  attempt: number;
  /** The last one's error. */
  error: { name: string; message: string };
  /**
   * The retry policy and timeout in force when the invocation started (the invoke's own, its
   * plugin action's from `plugin.yaml`, or `invokeDefaults`): a restore goes on under it, even
   * where that plugin is not loaded. Absent in snapshots written before it was kept.
   */
  policy?: RetryPolicyState;
}

/**
 * A retry policy as snapshots and journal entries keep it (durations in ms): the `retry` fields
 * (`max` absent: no cap) and the attempt `timeout` (absent: no limit).
 */
export interface RetryPolicyState {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** The wait after the first failed attempt (ms). */
  initial: number;
  /** Each wait is the previous one times this. */
  factor: number;
  /** The longest wait (ms); absent: no cap. */
  max?: number;
  /** Error names or codes that fail at once. */
  nonRetryable: string[];
  /** Most ms one attempt may take; absent: no limit. */
  timeout?: number;
}

/** Everything needed to continue an instance exactly where it stopped; plain JSON. */
export interface Snapshot {
  /** The snapshot format; `restore` rejects any other. */
  format: "statecraft.snapshot/1";
  /** The id of the machine it belongs to. */
  machine: string;
  /** The definition hash the snapshot was taken under. */
  hash: string;
  /** The machine's `version` when the snapshot was taken (what migrations start from). */
  version?: string | number;
  /** The instance id. */
  id: string;
  /** The instance's status. */
  status: InstanceStatus;
  /** Active state ids, document order. */
  configuration: string[];
  /** Recorded history by history-state id. */
  history: Record<string, string[]>;
  /** A JSON copy of the context. */
  context: unknown;
  /** Delayed sends not yet fired, with their due times. */
  timers: SnapshotTimer[];
  /** External events queued but not yet processed, in order. */
  queue: EventObject[];
  /** Deferred events, in order of arrival. */
  deferred: EventObject[];
  /** Change-event memory: ids of `when` transitions whose condition was last seen true. */
  when: string[];
  /** Snapshots of invoked child machines, by invoke id. */
  children: Record<string, Snapshot>;
  /**
   * Invoked functions with failed attempts, by invoke id: how many failed and the last error.
   * Its retry wait is in `timers` (send id `statecraft.retry:<id>`); without one, attempt
   * `attempt + 1` was running and starts again.
   */
  retries?: Record<string, InvokeRetryState>;
  /** The done data, once `status` is `"done"`. */
  output?: unknown;
  /** The instance's counters. */
  stats: InstanceStats;
  /** Counter for generated send ids. */
  nextId: number;
  /** Clock time when the snapshot was taken. */
  time: number;
}

/** Options for `instance.acceptedEvents()`. */
export interface AcceptedEventsOptions {
  /** List events with a transition even when its guard is false for a payload-less event. */
  ignoreGuards?: boolean;
}

/** A running machine: the object `machine.start()` returns. */
export interface MachineInstance<
  C = Record<string, unknown>,
  E extends EventObject = EventObject,
> {
  /** The instance id (`StartOptions.id`, or the machine id plus a counter). */
  readonly id: string;
  /** The id of the machine it runs. */
  readonly machineId: string;
  /** Every active state id, in document order. */
  readonly configuration: string[];
  /** The active atomic states only, in document order. */
  readonly atomicConfiguration: string[];
  /** The live context. */
  readonly context: C;
  /** Whether it still processes events. */
  readonly status: InstanceStatus;
  /** The done data of the top-level final state, once `status` is `"done"`. */
  readonly output: unknown;
  /** Counters since it started (a restored instance continues those of its snapshot). */
  readonly stats: InstanceStats;
  /** Runs one macrostep for this event (and any it queues); synchronous. */
  send(event: EventInput<E>): void;
  /** Whether the state with this id is active. */
  matches(stateId: string): boolean;
  /** Whether this event would take a transition now (guards evaluated with it). */
  can(event: EventInput<E>): boolean;
  /** Event types that would take a transition now, sorted. */
  acceptedEvents(options?: AcceptedEventsOptions): string[];
  /** Plain JSON data to continue from with `machine.restore`. */
  snapshot(): Snapshot;
  /** Receives monitoring records; returns the unsubscribe function. */
  subscribe(listener: (record: MonitorRecord) => void): () => void;
  /** Cancels timers and invocations; no further events are processed. */
  stop(): void;
}
