/**
 * What the compiler's passes share: the problems found so far, the states and transitions made
 * so far, the transitions whose targets wait for every state to exist, and what was lost to an
 * error (so that later passes do not report its consequences as problems of their own).
 *
 * @module
 */
import type { StateConfig } from "./types.ts";
import type { DefinitionProblem } from "./errors.ts";
import type { CompiledRetry, NodeKind, StateNode, Transition } from "./compiled_types.ts";

/** A transition whose target names are resolved once every state exists. */
export interface PendingTransition {
  t: Transition;
  targets: readonly string[] | null;
  /** The state that relative targets resolve from (the source, or a history's parent). */
  base: StateNode;
  isInitial: boolean;
}

/**
 * Where a transition (or an initial, or a history default) lost to an error may have led: any
 * state inside `scope` (`null`: the whole machine). Reachability counts those states as entered
 * from `source`, so one mistake is one problem, not a warning for every state behind it.
 */
export interface LostTransition {
  source: StateNode;
  scope: StateNode | null;
}

/** The shared state of one compilation. */
export class CompileContext {
  /** Every problem, in the order found. */
  readonly problems: DefinitionProblem[] = [];
  /** Every state, indexed by document order. */
  readonly states: StateNode[] = [];
  readonly byId: Map<string, StateNode> = new Map();
  /** Every transition written in the config (not initials or history defaults), in order. */
  readonly transitions: Transition[] = [];
  readonly pending: PendingTransition[] = [];
  readonly lost: LostTransition[] = [];
  /** Stand-ins for child states that are not objects (reported once, where they are written). */
  readonly placeholders: Set<StateNode> = new Set();
  /**
   * The machine's named guards and actions: own properties only, so that a name such as
   * `"toString"` never resolves through `Object.prototype` (empty when the section is not an
   * object).
   */
  guards: Map<string, unknown> = new Map();
  actions: Map<string, unknown> = new Map();
  /** Whether the `guards` / `actions` section itself is malformed (reported once). */
  guardsBroken = false;
  actionsBroken = false;
  machineId = "";
  hasDefer = false;
  hasWhen = false;
  /** The machine's `invokeDefaults` (lib/core/retry.ts), read before the states. */
  invokeDefaults: { retry: CompiledRetry | null; timeout: number | null } = {
    retry: null,
    timeout: null,
  };

  /** Records an error at `path` (in the config). */
  error(path: string[], message: string): void {
    this.problems.push({ severity: "error", path, message });
  }

  /** Records a warning at `path` (in the config). */
  warn(path: string[], message: string): void {
    this.problems.push({ severity: "warning", path, message });
  }

  /** Records that a transition of `source` was lost to an error; it may have led into `scope`. */
  lose(source: StateNode, scope: StateNode | null = null): void {
    this.lost.push({ source, scope });
  }
}

/**
 * How deep states may nest (the root is level 0). Deeper charts are refused where they cross the
 * limit: the compiler, the interpreter, the diagrams and the SCXML exporter walk the tree, and
 * no hand-written chart comes near it.
 */
export const MAX_STATE_DEPTH = 500;

/**
 * A value as a problem message shows it: strings quoted, other values as JSON (cut short), or
 * their kind when they have no JSON form. Never `[object Object]`.
 */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol" || typeof v === "bigint") return `a ${typeof v}`;
  if (v === undefined) return "undefined";
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    json = undefined;
  }
  if (json === undefined) return Array.isArray(v) ? "an array" : `a ${typeof v}`;
  return json.length > 60 ? `${json.slice(0, 60)}...` : json;
}

/** A plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A state with nothing in it yet. */
export function makeNode(
  index: number,
  key: string,
  id: string,
  kind: NodeKind,
  parent: StateNode | null,
  path: string[],
  config: StateConfig,
): StateNode {
  return {
    index,
    end: index,
    key,
    id,
    pathId: id,
    kind,
    choice: false,
    parent,
    children: [],
    histories: [],
    depth: parent === null ? 0 : parent.depth + 1,
    initial: null,
    eventful: [],
    eventless: [],
    entry: [],
    exit: [],
    after: [],
    invokes: [],
    defer: null,
    deep: false,
    historyDefault: null,
    output: undefined,
    hasOutput: false,
    candidates: new Map(),
    config,
    path,
  };
}
