/**
 * The compiled model the interpreter runs: states numbered in document order (the root is 0, a
 * state precedes its descendants, `end` is the index of its last descendant), transitions with
 * resolved targets and, where it cannot change at run time, their transition domain. Made by
 * `compileMachine` (`compile.ts`); internal to Statecraft, its shape changes with the engine.
 *
 * @module
 */
import type { ActionArgs, EventObject, GuardArgs, MachineLike, StateConfig } from "./types.ts";
import type { DefinitionProblem } from "./errors.ts";

// deno-lint-ignore no-explicit-any
type AnyArgs = ActionArgs<any, EventObject>;
/** A resolved action. */
export type ActionFn = (args: AnyArgs) => void;
/** A resolved guard. */
// deno-lint-ignore no-explicit-any
export type GuardFn = (args: GuardArgs<any, EventObject>) => boolean;

/** The compiled kinds: a choice state is an atomic state with extra checks. */
export type NodeKind = "atomic" | "compound" | "parallel" | "final" | "history";

/** A compiled transition. */
export interface Transition {
  /** Position among all transitions of the machine, in document order. */
  order: number;
  /** Stable id (`<stateId>#<n>`), used for change-event memory in snapshots. */
  id: string;
  source: StateNode;
  /** Normalised descriptor tokens; `null` for eventless transitions. */
  events: string[] | null;
  /** Resolved targets; `null` for a targetless transition. */
  targets: StateNode[] | null;
  /** SCXML `type="internal"` (XState `reenter: false`). */
  internal: boolean;
  guard: GuardFn | null;
  /** The guard's name, when it was given by name (for diagrams and SCXML export). */
  guardName: string | null;
  actions: ActionFn[];
  /** A change event (`when`): taken once each time the guard becomes true. */
  when: boolean;
  /** Made by the engine from `after`, `onDone` or `onError`, not written in `on`/`always`. */
  generated: "after" | "done" | "error" | null;
  /** Whether a target is, or default-enters through, a history state. */
  historyTarget: boolean;
  /** The transition domain when it is static (no history target); computed after compile. */
  domain: StateNode | null;
  /** Cached entry set (document order) when no history is involved; filled lazily. */
  entryCache: EntrySet | null;
  /** Where it was written. */
  path: string[];
  description?: string;
}

/** What entering a transition's targets enters. */
export interface EntrySet {
  states: StateNode[];
  defaultEntry: Set<StateNode>;
  historyContent: Map<StateNode, ActionFn[]>;
}

/** A delayed transition's timer. */
export interface AfterTimer {
  delay: number;
  event: string;
  sendId: string;
}

/** A compiled invocation. */
export interface Invocation {
  id: string;
  // deno-lint-ignore no-explicit-any
  src: ((args: any) => unknown) | MachineLike<any>;
  isMachine: boolean;
  input: unknown;
  autoForward: boolean;
  /** SCXML `<finalize>`: run before the invoking instance processes an event from the child. */
  finalize: ActionFn[];
  /** Its retry policy (its own over the machine's `invokeDefaults`); null: one attempt. */
  retry: CompiledRetry | null;
  /** Most ms an attempt may take; null: no limit. */
  timeout: number | null;
  /**
   * Whether the invoke sets its own `retry` / `timeout`; when it does not, a policy its `src`
   * function gives (`retryPolicy()`, like a plugin action's) goes before `invokeDefaults`.
   */
  own?: { retry: boolean; timeout: boolean };
}

/** A compiled retry policy (`lib/core/retry.ts`): every field set. */
export interface CompiledRetry {
  /** Attempts in all, the first one included (1: no retry). */
  attempts: number;
  /** The wait after the first failed attempt, in ms. */
  initial: number;
  /** Each wait is the previous one times this. */
  factor: number;
  /** No wait is longer than this, in ms. */
  max: number;
  /** Error names or codes that fail the invocation at once. */
  nonRetryable: string[];
}

/** A compiled state. */
export interface StateNode {
  /** Document order; the root is 0. */
  index: number;
  /** Index of the last descendant (== index for a leaf). */
  end: number;
  key: string;
  id: string;
  /** The dotted path from the root (equal to `id` unless the state sets its own id). */
  pathId: string;
  kind: NodeKind;
  choice: boolean;
  parent: StateNode | null;
  /** Proper child states (history pseudo-states excluded), document order. */
  children: StateNode[];
  /** History pseudo-state children. */
  histories: StateNode[];
  depth: number;
  /** Compound: the initial transition (targets only). */
  initial: Transition | null;
  /** Event-triggered transitions, document order. */
  eventful: Transition[];
  /** Eventless (`always`, `when`) transitions, document order. */
  eventless: Transition[];
  entry: ActionFn[];
  exit: ActionFn[];
  after: AfterTimer[];
  invokes: Invocation[];
  /** Normalised deferral descriptors, or null. */
  defer: string[] | null;
  /** History pseudo-states: shallow or deep, and the default transition. */
  deep: boolean;
  historyDefault: Transition | null;
  /** Final states: done data. */
  output: unknown;
  hasOutput: boolean;
  /** Per event name: the eventful transitions whose descriptors match it (lazily filled). */
  candidates: Map<string, Transition[]>;
  config: StateConfig;
  path: string[];
  description?: string;
}

/** The result of compiling a machine config. */
export interface CompiledMachine {
  id: string;
  root: StateNode;
  /** Every state, indexed by document order. */
  states: StateNode[];
  byId: Map<string, StateNode>;
  transitions: Transition[];
  problems: DefinitionProblem[];
  /** Whether any state defers events (lets the hot path skip the check). */
  hasDefer: boolean;
  /** Whether any state has `when` transitions. */
  hasWhen: boolean;
  /** Whether any state has eventless (`always`, `when`) transitions: else selection skips them. */
  hasEventless: boolean;
  hash: string;
}
