/**
 * Turns a machine config into the compiled model the interpreter runs: states numbered in
 * document order (so "is a descendant of" is a range check), transitions with resolved targets
 * and, where it cannot change at run time, their transition domain. Every problem of the
 * definition is collected, with its path in the config, before anything runs.
 *
 * @module
 */
import type {
  ActionArgs,
  EventObject,
  GuardArgs,
  InvokeConfig,
  MachineConfig,
  MachineLike,
  StateConfig,
  TransitionConfig,
  TransitionsConfig,
  WhenConfig,
} from "./types.ts";
import type { DefinitionProblem } from "./errors.ts";
import { descriptorProblem, parseDescriptors } from "./descriptor.ts";
import { parseDuration } from "./duration.ts";

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

let readCompiled: ((machine: object) => CompiledMachine) | undefined;

/** @internal Called once by `Machine`: how to read a machine's compiled model. */
export function setCompiledReader(read: (machine: object) => CompiledMachine): void {
  readCompiled = read;
}

/**
 * The compiled model of a `Machine` (a TypeError for anything else). Internal to Statecraft:
 * not exported by `core.ts` or `mod.ts`, its shape changes with the engine.
 */
export function compiledOf(machine: object): CompiledMachine {
  return readCompiled!(machine);
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

const STATE_KEYS = new Set([
  "type",
  "id",
  "initial",
  "states",
  "on",
  "always",
  "after",
  "when",
  "entry",
  "exit",
  "invoke",
  "defer",
  "history",
  "target",
  "output",
  "onDone",
  "description",
  "meta",
]);
const ROOT_KEYS = new Set([
  ...STATE_KEYS,
  "version",
  "context",
  "guards",
  "actions",
  "schemas",
  "migrations",
]);
const TRANSITION_KEYS = new Set(["target", "guard", "actions", "reenter", "description"]);
const WHEN_KEYS = new Set([...TRANSITION_KEYS, "condition"]);
const INVOKE_KEYS = new Set([
  "id",
  "src",
  "input",
  "onDone",
  "onError",
  "autoForward",
  "finalize",
]);
const TYPES = new Set(["atomic", "compound", "parallel", "final", "history", "choice"]);

interface PendingTransition {
  t: Transition;
  targets: readonly string[] | null;
  /** The state that relative targets resolve from (the source, or a history's parent). */
  base: StateNode;
  isInitial: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Compiles a machine config; problems are returned, never thrown. */
export function compileMachine<C, E extends EventObject>(
  config: MachineConfig<C, E>,
): CompiledMachine {
  const problems: DefinitionProblem[] = [];
  const error = (path: string[], message: string) =>
    problems.push({ severity: "error", path, message });
  const warn = (path: string[], message: string) =>
    problems.push({ severity: "warning", path, message });

  const rawConfig = config as unknown;
  if (!isObject(rawConfig)) {
    error([], "a machine definition must be an object");
    const root = makeNode(0, "", "", "atomic", null, [], {} as StateConfig);
    return {
      id: "",
      root,
      states: [root],
      byId: new Map(),
      transitions: [],
      problems,
      hasDefer: false,
      hasWhen: false,
      hasEventless: false,
      hash: "0",
    };
  }
  const machineId = typeof config.id === "string" ? config.id : "";
  if (typeof config.id !== "string" || config.id.trim() === "") {
    error(["id"], "the machine needs an id (a non-empty string)");
  }
  const guards = isObject(config.guards) ? config.guards as Record<string, unknown> : {};
  const actions = isObject(config.actions) ? config.actions as Record<string, unknown> : {};
  if (config.guards !== undefined && !isObject(config.guards)) {
    error(["guards"], "guards must be an object of named guard functions");
  }
  if (config.actions !== undefined && !isObject(config.actions)) {
    error(["actions"], "actions must be an object of named action functions");
  }
  for (const [name, fn] of Object.entries(guards)) {
    if (typeof fn !== "function") error(["guards", name], "a named guard must be a function");
  }
  for (const [name, fn] of Object.entries(actions)) {
    if (typeof fn !== "function") error(["actions", name], "a named action must be a function");
  }
  if (config.context !== undefined && typeof config.context !== "function") {
    if (!isObject(config.context)) error(["context"], "context must be an object or a function");
  }
  if (config.migrations !== undefined) {
    if (!isObject(config.migrations)) {
      error(["migrations"], "migrations must be an object of from-version -> function");
    } else {
      for (const [from, fn] of Object.entries(config.migrations)) {
        if (typeof fn !== "function") {
          error(["migrations", from], "a migration must be a function (snapshot) => snapshot");
        }
      }
    }
  }
  if (config.schemas !== undefined) {
    const events = (config.schemas as { events?: unknown }).events;
    if (!isObject(config.schemas) || (events !== undefined && !isObject(events))) {
      error(["schemas"], "schemas must be { events: { EVENT_TYPE: schema } }");
    } else if (events !== undefined) {
      for (const [type, schema] of Object.entries(events)) {
        if (!isObject(schema) && typeof schema !== "function" || !("~standard" in schema)) {
          error(
            ["schemas", "events", type],
            "a payload schema must be a Standard Schema (for example a zod schema)",
          );
        }
      }
    }
  }

  const states: StateNode[] = [];
  const byId = new Map<string, StateNode>();
  const transitions: Transition[] = [];
  const pending: PendingTransition[] = [];
  let hasDefer = false;
  let hasWhen = false;

  const resolveAction = (a: unknown, path: string[]): ActionFn | null => {
    if (typeof a === "function") return a as ActionFn;
    if (typeof a === "string") {
      const fn = actions[a];
      if (typeof fn === "function") return fn as ActionFn;
      error(path, `unknown action "${a}" (named actions go in the machine's "actions")`);
      return null;
    }
    error(path, "an action must be a function or the name of one in the machine's actions");
    return null;
  };
  const resolveActions = (v: unknown, path: string[]): ActionFn[] => {
    if (v === undefined) return [];
    const list = Array.isArray(v) ? v : [v];
    const out: ActionFn[] = [];
    list.forEach((a, i) => {
      const fn = resolveAction(a, Array.isArray(v) ? [...path, String(i)] : path);
      if (fn !== null) out.push(fn);
    });
    return out;
  };
  const resolveGuard = (g: unknown, path: string[]): GuardFn | null => {
    if (g === undefined) return null;
    if (typeof g === "function") return g as GuardFn;
    if (typeof g === "string") {
      const fn = guards[g];
      if (typeof fn === "function") return fn as GuardFn;
      error(path, `unknown guard "${g}" (named guards go in the machine's "guards")`);
      return null;
    }
    error(path, "a guard must be a function or the name of one in the machine's guards");
    return null;
  };

  const addTransition = (
    source: StateNode,
    raw: unknown,
    events: string[] | null,
    path: string[],
    generated: Transition["generated"],
    when: boolean,
  ): void => {
    let tc: TransitionConfig<C, E> | WhenConfig<C, E>;
    if (typeof raw === "string") tc = { target: raw };
    else if (isObject(raw)) tc = raw as TransitionConfig<C, E>;
    else {
      error(path, "a transition must be a target string or an object { target, guard, actions }");
      return;
    }
    const allowed = when ? WHEN_KEYS : TRANSITION_KEYS;
    for (const key of Object.keys(tc)) {
      if (!allowed.has(key)) error([...path, key], `unknown transition property "${key}"`);
    }
    let targets: readonly string[] | null = null;
    if (tc.target !== undefined) {
      if (typeof tc.target === "string") targets = [tc.target];
      else if (Array.isArray(tc.target) && tc.target.every((x) => typeof x === "string")) {
        targets = tc.target.length > 0 ? tc.target : null;
      } else error([...path, "target"], "target must be a string or an array of strings");
    }
    if (tc.reenter !== undefined && typeof tc.reenter !== "boolean") {
      error([...path, "reenter"], "reenter must be true or false");
    }
    const guardSource = when ? (tc as WhenConfig<C, E>).condition : tc.guard;
    if (when && guardSource === undefined) {
      error([...path, "condition"], "a change event (when) needs a condition");
    }
    if (when && tc.guard !== undefined) {
      error([...path, "guard"], 'a change event takes its condition in "condition", not guard');
    }
    const t: Transition = {
      order: transitions.length,
      id: `${source.id}#${source.eventful.length + source.eventless.length}`,
      source,
      events,
      targets: null,
      internal: tc.reenter !== true,
      guard: resolveGuard(guardSource, [...path, when ? "condition" : "guard"]),
      guardName: typeof guardSource === "string" ? guardSource : null,
      actions: resolveActions(tc.actions, [...path, "actions"]),
      when,
      generated,
      historyTarget: false,
      domain: null,
      entryCache: null,
      path,
      description: typeof tc.description === "string" ? tc.description : undefined,
    };
    transitions.push(t);
    if (events === null) source.eventless.push(t);
    else source.eventful.push(t);
    pending.push({ t, targets, base: source, isInitial: false });
  };

  const addTransitions = (
    source: StateNode,
    raw: TransitionsConfig<C, E> | undefined,
    events: string[] | null,
    path: string[],
    generated: Transition["generated"] = null,
  ) => {
    if (raw === undefined) return;
    if (Array.isArray(raw)) {
      raw.forEach((one, i) =>
        addTransition(source, one, events, [...path, String(i)], generated, false)
      );
    } else addTransition(source, raw, events, path, generated, false);
  };

  const build = (
    raw: unknown,
    key: string,
    parent: StateNode | null,
    path: string[],
  ): StateNode | null => {
    if (!isObject(raw)) {
      error(path, "a state must be an object");
      return null;
    }
    const sc = raw as StateConfig<C, E>;
    const isRoot = parent === null;
    const allowedKeys = isRoot ? ROOT_KEYS : STATE_KEYS;
    for (const k of Object.keys(sc)) {
      if (!allowedKeys.has(k)) error([...path, k], `unknown state property "${k}"`);
    }
    if (!isRoot && (key === "" || /[.#\s]/.test(key))) {
      error(path, `state key "${key}" must be non-empty and contain no ".", "#" or spaces`);
    }
    let type = sc.type;
    if (type !== undefined && !TYPES.has(type)) {
      error([...path, "type"], `unknown state type "${type}"`);
      type = undefined;
    }
    if (isRoot && type !== undefined && type !== "compound" && type !== "parallel") {
      error([...path, "type"], `the machine's root must be compound or parallel, not "${type}"`);
      type = undefined;
    }
    const hasStates = sc.states !== undefined;
    if (hasStates && !isObject(sc.states)) error([...path, "states"], "states must be an object");
    const childEntries = isObject(sc.states) ? Object.entries(sc.states) : [];
    let kind: NodeKind;
    const choice = type === "choice";
    if (type === undefined) kind = childEntries.length > 0 ? "compound" : "atomic";
    else if (type === "choice") kind = "atomic";
    else kind = type;

    const pathId = parent === null
      ? machineId
      : parent.index === 0
      ? key
      : `${parent.pathId}.${key}`;
    let id = pathId;
    if (sc.id !== undefined) {
      if (typeof sc.id !== "string" || sc.id === "" || /[\s#]/.test(sc.id)) {
        error([...path, "id"], 'a state id must be a non-empty string with no spaces or "#"');
      } else if (!isRoot) id = sc.id;
    }
    // Children are named from the dotted path, so ids stay readable under custom ids too.
    const node = makeNode(states.length, key, id, kind, parent, path, sc as StateConfig);
    node.pathId = pathId;
    node.choice = choice;
    if (typeof sc.description === "string") node.description = sc.description;
    states.push(node);
    if (byId.has(id)) {
      error(
        path,
        `duplicate state id "${id}" (also used by ${formatConfigPath(byId.get(id)!.path)})`,
      );
    } else byId.set(id, node);
    if (!isRoot && id !== pathId && !byId.has(pathId)) byId.set(pathId, node);

    if (kind === "final" || kind === "history") {
      if (hasStates) {
        error([...path, "states"], `a ${kind} state cannot have child states`);
      }
      for (const k of ["on", "always", "after", "when", "invoke", "initial"] as const) {
        if (sc[k] !== undefined) {
          error(
            [...path, k],
            kind === "final"
              ? `a final state cannot have "${k}": no transitions or activities leave a final state`
              : `a history state cannot have "${k}"`,
          );
        }
      }
    }
    if (kind === "history") {
      for (const k of ["entry", "exit", "output", "defer"] as const) {
        if (sc[k] !== undefined) error([...path, k], `a history state cannot have "${k}"`);
      }
      if (isRoot || parent === null) error(path, "the root cannot be a history state");
      if (sc.history !== undefined && sc.history !== "shallow" && sc.history !== "deep") {
        error([...path, "history"], `history must be "shallow" or "deep", not "${sc.history}"`);
      }
      node.deep = sc.history === "deep";
    } else if (sc.history !== undefined) {
      error([...path, "history"], `"history" belongs on a state of type "history"`);
    }
    if (kind !== "history" && sc.target !== undefined) {
      error(
        [...path, "target"],
        `"target" on a state belongs to history states (a default target)`,
      );
    }
    if (kind !== "final" && sc.output !== undefined) {
      error([...path, "output"], `"output" (done data) belongs on final states`);
    }
    if (kind === "final" && sc.output !== undefined) {
      node.output = sc.output;
      node.hasOutput = true;
    }
    if ((kind === "compound" || kind === "parallel") && childEntries.length === 0) {
      error(path, `a ${kind} state needs child states`);
    }
    if (kind === "atomic" && childEntries.length > 0) {
      error(
        [...path, "states"],
        `a ${choice ? "choice" : "atomic"} state cannot have child states`,
      );
    }
    if (kind === "parallel" && sc.initial !== undefined) {
      error([...path, "initial"], "a parallel state has no initial: every region is entered");
    }

    node.entry = resolveActions(sc.entry, [...path, "entry"]);
    node.exit = resolveActions(sc.exit, [...path, "exit"]);

    if (sc.defer !== undefined) {
      if (!Array.isArray(sc.defer) || !sc.defer.every((d) => typeof d === "string")) {
        error([...path, "defer"], "defer must be an array of event descriptors");
      } else {
        const tokens: string[] = [];
        sc.defer.forEach((d, i) => {
          const p = descriptorProblem(d);
          if (p !== undefined) error([...path, "defer", String(i)], p);
          else tokens.push(...parseDescriptors(d));
        });
        if (tokens.length > 0) {
          node.defer = tokens;
          hasDefer = true;
        }
      }
    }

    // Children first (document order: a state precedes its descendants).
    const childNodes: StateNode[] = [];
    for (const [childKey, childRaw] of childEntries) {
      const child = build(childRaw, childKey, node, [...path, "states", childKey]);
      if (child === null) continue;
      childNodes.push(child);
      if (child.kind === "history") node.histories.push(child);
      else node.children.push(child);
    }
    node.end = states.length - 1;
    if (kind !== "history" && node.histories.length > 0 && node.children.length === 0) {
      error(path, "a history state needs a parent with child states to remember");
    }

    // Transitions, in document order: on, after, invoke done/error, then always and when.
    if (sc.on !== undefined) {
      if (!isObject(sc.on)) error([...path, "on"], "on must be an object of event -> transition");
      else {
        for (const [descriptor, raw] of Object.entries(sc.on)) {
          const p = descriptorProblem(descriptor);
          if (p !== undefined) {
            error([...path, "on", descriptor], p);
            continue;
          }
          addTransitions(
            node,
            raw as TransitionsConfig<C, E>,
            parseDescriptors(descriptor),
            [...path, "on", descriptor],
          );
        }
      }
    }
    if (sc.after !== undefined) {
      if (!isObject(sc.after)) {
        error([...path, "after"], "after must be an object of delay -> transition");
      } else {
        for (const [delayKey, raw] of Object.entries(sc.after)) {
          const delay = parseDuration(/^\d+(\.\d+)?$/.test(delayKey) ? Number(delayKey) : delayKey);
          if (delay === undefined) {
            error(
              [...path, "after", delayKey],
              `"${delayKey}" is not a delay (milliseconds, or a duration like "500ms", "2s", "1m")`,
            );
            continue;
          }
          const event = `after.${delayKey}.${id}`;
          node.after.push({ delay, event, sendId: `after:${id}:${delayKey}` });
          addTransitions(
            node,
            raw as TransitionsConfig<C, E>,
            [event],
            [...path, "after", delayKey],
            "after",
          );
        }
      }
    }
    if (sc.invoke !== undefined) {
      const list = Array.isArray(sc.invoke) ? sc.invoke : [sc.invoke];
      list.forEach((rawInv, i) => {
        const ipath = Array.isArray(sc.invoke)
          ? [...path, "invoke", String(i)]
          : [...path, "invoke"];
        if (!isObject(rawInv)) {
          error(ipath, "an invoke must be an object { src, id?, input?, onDone?, onError? }");
          return;
        }
        const inv = rawInv as unknown as InvokeConfig<C, E>;
        for (const k of Object.keys(inv)) {
          if (!INVOKE_KEYS.has(k)) error([...ipath, k], `unknown invoke property "${k}"`);
        }
        const src = inv.src as unknown;
        const isMachine = isObject(src) && typeof (src as { start?: unknown }).start === "function";
        if (typeof src !== "function" && !isMachine) {
          error([...ipath, "src"], "invoke src must be an async function or a machine");
        }
        if (inv.id !== undefined && (typeof inv.id !== "string" || inv.id === "")) {
          error([...ipath, "id"], "an invoke id must be a non-empty string");
        }
        const invokeId = typeof inv.id === "string" && inv.id !== "" ? inv.id : `${id}:invoke${i}`;
        node.invokes.push({
          id: invokeId,
          src: src as Invocation["src"],
          isMachine,
          input: inv.input,
          autoForward: inv.autoForward === true,
          finalize: resolveActions(inv.finalize, [...ipath, "finalize"]),
        });
        addTransitions(node, inv.onDone, [`done.invoke.${invokeId}`], [...ipath, "onDone"], "done");
        addTransitions(
          node,
          inv.onError,
          [`error.platform.${invokeId}`],
          [...ipath, "onError"],
          "error",
        );
      });
    }
    if (sc.onDone !== undefined) {
      if (kind !== "compound" && kind !== "parallel") {
        error([...path, "onDone"], "onDone belongs on compound and parallel states");
      } else {
        addTransitions(
          node,
          sc.onDone as TransitionsConfig<C, E>,
          [`done.state.${id}`],
          [...path, "onDone"],
          "done",
        );
      }
    }
    if (sc.always !== undefined) addTransitions(node, sc.always, null, [...path, "always"]);
    if (sc.when !== undefined) {
      const list = Array.isArray(sc.when) ? sc.when : [sc.when];
      list.forEach((w, i) => {
        hasWhen = true;
        addTransition(
          node,
          w,
          null,
          Array.isArray(sc.when) ? [...path, "when", String(i)] : [...path, "when"],
          null,
          true,
        );
      });
    }
    if (choice) {
      if (sc.on !== undefined || sc.after !== undefined || sc.invoke !== undefined) {
        error(path, "a choice state has only eventless (always) transitions");
      }
      if (node.eventless.length === 0) {
        error(path, "a choice state needs eventless (always) transitions to choose between");
      } else if (node.eventless.every((t) => t.guard !== null)) {
        warn(
          path,
          "every branch of this choice state is guarded: add an unguarded last branch " +
            "(an else) or the machine can get stuck here",
        );
      }
    }

    // Initial transition of a compound state.
    if (kind === "compound") {
      let initial: unknown = sc.initial;
      let initialActions: ActionFn[] = [];
      if (isObject(initial) && !Array.isArray(initial)) {
        // { target, actions }: an SCXML <initial> element with executable content.
        const o = initial as { target?: unknown; actions?: unknown };
        initialActions = resolveActions(o.actions, [...path, "initial", "actions"]);
        initial = o.target;
      }
      let targets: readonly string[] | null = null;
      if (initial === undefined) {
        if (node.children.length > 0) targets = [node.children[0].key];
      } else if (typeof initial === "string") targets = [initial];
      else if (
        Array.isArray(initial) && initial.every((x) => typeof x === "string") && initial.length > 0
      ) {
        targets = initial;
      } else {error(
          [...path, "initial"],
          "initial must be a child key or an array of descendant ids",
        );}
      if (targets !== null) {
        const t: Transition = {
          order: -1,
          id: `${id}#initial`,
          source: node,
          events: null,
          targets: null,
          internal: true,
          guard: null,
          guardName: null,
          actions: initialActions,
          when: false,
          generated: null,
          historyTarget: false,
          domain: node,
          entryCache: null,
          path: [...path, "initial"],
        };
        node.initial = t;
        pending.push({ t, targets, base: node, isInitial: true });
      }
    } else if (kind !== "parallel" && sc.initial !== undefined) {
      error([...path, "initial"], `an ${kind} state has no initial (it has no child states)`);
    }

    // History default transition.
    if (kind === "history" && parent !== null) {
      const t: Transition = {
        order: -1,
        id: `${id}#default`,
        source: node,
        events: null,
        targets: null,
        internal: true,
        guard: null,
        guardName: null,
        actions: [],
        when: false,
        generated: null,
        historyTarget: false,
        domain: null,
        entryCache: null,
        path: [...path, "target"],
      };
      node.historyDefault = t;
      let targets: readonly string[] | null = null;
      let target: unknown = sc.target;
      if (isObject(target) && !Array.isArray(target)) {
        // { target, actions }: an SCXML history <transition> with executable content.
        const o = target as { target?: unknown; actions?: unknown };
        t.actions = resolveActions(o.actions, [...path, "target", "actions"]);
        target = o.target;
      }
      if (target === undefined) {
        // Default: the parent's initial child, resolved once the parent is built.
        targets = null;
      } else if (typeof target === "string") targets = [target];
      else if (Array.isArray(target) && target.every((x) => typeof x === "string")) {
        targets = target;
      } else error([...path, "target"], "a history target must be a string or an array of strings");
      pending.push({ t, targets, base: parent, isInitial: true });
    }
    return node;
  };

  const root = build(config, machineId, null, []) ?? makeNode(0, "", "", "atomic", null, [], {});
  if (states.length === 0) states.push(root);
  // The root's id is the machine id; states below it are named from it, so do not let a
  // child claim it.
  if (root.kind === "atomic") error(["states"], "a machine needs at least one state");

  // Resolve targets now that every state exists.
  for (const { t, targets, base, isInitial } of pending) {
    if (targets === null) {
      if (t.source.kind === "history") {
        const parent = t.source.parent!;
        const first = parent.initial?.targets ??
          (parent.children.length > 0 ? [parent.children[0]] : null);
        t.targets = parent.kind === "parallel" ? [...parent.children] : first;
      }
      continue;
    }
    const resolved: StateNode[] = [];
    for (const target of targets) {
      const node = resolveTarget(target, base, t.source, isInitial, byId);
      if (node === null) {
        error(
          t.path.length > 0 && !isInitial ? [...t.path, "target"] : t.path,
          `unknown target "${target}" in state "${t.source.id || machineId}"`,
        );
        continue;
      }
      resolved.push(node);
    }
    if (resolved.length !== targets.length) continue;
    t.targets = resolved;
    checkTargets(t, isInitial, error);
  }

  // History targets make the domain dynamic.
  for (const t of transitions) {
    if (t.targets === null) continue;
    t.historyTarget = t.targets.some((s) => s.kind === "history");
    if (!t.historyTarget) t.domain = computeDomain(t, t.targets, root);
  }

  if (root.kind === "compound" || root.kind === "parallel") {
    checkReachability(root, states, warn);
  }
  return {
    id: machineId,
    root,
    states,
    byId,
    transitions,
    problems,
    hasDefer,
    hasWhen,
    hasEventless: states.some((s) => s.eventless.length > 0),
    hash: hashDefinition(states),
  };
}

function formatConfigPath(path: string[]): string {
  return path.length === 0 ? "the root" : path.join(".");
}

function makeNode(
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

/** Whether `a` is a proper descendant of `b` (document-order range check). */
export function isDescendant(a: StateNode, b: StateNode): boolean {
  return a.index > b.index && a.index <= b.end;
}

function childByPath(from: StateNode, parts: string[]): StateNode | null {
  let node: StateNode | null = from;
  for (const part of parts) {
    if (node === null) return null;
    node = node.children.find((c) => c.key === part) ??
      node.histories.find((c) => c.key === part) ?? null;
  }
  return node;
}

function resolveTarget(
  target: string,
  base: StateNode,
  source: StateNode,
  isInitial: boolean,
  byId: Map<string, StateNode>,
): StateNode | null {
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const found = byId.get(id);
    if (found !== undefined) return found;
    // XState style: "#machineId.path.to.state".
    const rootId = rootOf(base).id;
    if (id.startsWith(`${rootId}.`)) return byId.get(id.slice(rootId.length + 1)) ?? null;
    return null;
  }
  if (target.startsWith(".")) return childByPath(source, target.slice(1).split("."));
  const parts = target.split(".");
  if (isInitial) {
    // initial and history defaults name the base's children (or its descendants' ids).
    return childByPath(base, parts) ?? byId.get(target) ?? null;
  }
  const scope = source.parent ?? source;
  return childByPath(scope, parts) ?? null;
}

function rootOf(s: StateNode): StateNode {
  let n = s;
  while (n.parent !== null) n = n.parent;
  return n;
}

function checkTargets(
  t: Transition,
  isInitial: boolean,
  error: (path: string[], message: string) => void,
): void {
  const targets = t.targets!;
  const source = t.source;
  if (isInitial && source.kind !== "history") {
    for (const s of targets) {
      if (!isDescendant(s, source)) {
        error(t.path, `initial "${s.id}" is not a descendant of "${source.id}"`);
      }
    }
  }
  if (source.kind === "history") {
    const parent = source.parent!;
    for (const s of targets) {
      if (!isDescendant(s, parent)) {
        error(t.path, `history default "${s.id}" is not inside "${parent.id}"`);
      } else if (!source.deep && s.parent !== parent) {
        error(t.path, `a shallow history's default must be a child of "${parent.id}"`);
      }
    }
  }
  // Several targets must be compatible: no two in the same compound region.
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const a = targets[i], b = targets[j];
      if (a === b || isDescendant(a, b) || isDescendant(b, a)) {
        error(t.path, `targets "${a.id}" and "${b.id}" cannot both be entered`);
        continue;
      }
      const lca = lowestCommonAncestor(a, b);
      if (lca !== null && lca.kind !== "parallel") {
        error(
          t.path,
          `targets "${a.id}" and "${b.id}" are in the same region of "${lca.id || "the root"}": ` +
            "only states in different regions of a parallel state can be entered together",
        );
      }
    }
  }
}

function lowestCommonAncestor(a: StateNode, b: StateNode): StateNode | null {
  let p = a.parent;
  while (p !== null && !(isDescendant(b, p))) p = p.parent;
  return p;
}

/** SCXML `getTransitionDomain` for transitions whose targets are known. */
export function computeDomain(t: Transition, targets: StateNode[], root: StateNode): StateNode {
  if (
    t.internal && t.source.kind === "compound" && targets.every((s) => isDescendant(s, t.source))
  ) {
    return t.source;
  }
  return findLCCA(t.source, targets, root);
}

/** SCXML `findLCCA`: the nearest compound (or root) proper ancestor of the source containing all. */
export function findLCCA(head: StateNode, tail: StateNode[], root: StateNode): StateNode {
  for (let anc = head.parent; anc !== null; anc = anc.parent) {
    if (anc.kind !== "compound" && anc !== root) continue;
    let all = true;
    for (const s of tail) {
      if (!isDescendant(s, anc)) {
        all = false;
        break;
      }
    }
    if (all) return anc;
  }
  return root;
}

function checkReachability(
  root: StateNode,
  states: StateNode[],
  warn: (path: string[], message: string) => void,
): void {
  const reached = new Set<StateNode>([root]);
  const work: StateNode[] = [root];
  const reach = (s: StateNode) => {
    for (let n: StateNode | null = s; n !== null && !reached.has(n); n = n.parent) {
      reached.add(n);
      work.push(n);
    }
  };
  while (work.length > 0) {
    const s = work.pop()!;
    if (s.kind === "compound") s.initial?.targets?.forEach(reach);
    if (s.kind === "parallel") s.children.forEach(reach);
    if (s.kind === "history") s.historyDefault?.targets?.forEach(reach);
    for (const t of [...s.eventful, ...s.eventless]) t.targets?.forEach(reach);
  }
  for (const s of states) {
    if (!reached.has(s) && s.kind !== "history") {
      warn(s.path, `state "${s.id}" is unreachable: no initial or transition enters it`);
    }
  }
}

/**
 * A structural hash of the definition: state ids and kinds, transitions' events, targets and
 * types, delays, history kinds and deferrals. Snapshots record it so that a snapshot is never
 * silently loaded into a machine of another shape. cyrb53: a fast non-cryptographic 53-bit
 * hash; WebCrypto's SHA-256 is async, and this hash guards against mistakes, not attackers.
 */
function hashDefinition(states: StateNode[]): string {
  const parts: string[] = [];
  for (const s of states) {
    parts.push(
      `${s.index}|${s.id}|${s.kind}|${s.choice ? 1 : 0}|${s.deep ? 1 : 0}|${s.parent?.index ?? -1}`,
    );
    if (s.initial?.targets) parts.push(`i:${s.initial.targets.map((x) => x.id).join(",")}`);
    for (const t of [...s.eventful, ...s.eventless]) {
      parts.push(
        `t:${t.events?.join(" ") ?? ""}>${t.targets?.map((x) => x.id).join(",") ?? ""}` +
          `:${t.internal ? "i" : "e"}:${t.guard ? "g" : ""}:${t.when ? "w" : ""}`,
      );
    }
    for (const a of s.after) parts.push(`a:${a.event}:${a.delay}`);
    if (s.defer) parts.push(`d:${s.defer.join(" ")}`);
    for (const inv of s.invokes) parts.push(`v:${inv.id}`);
  }
  return cyrb53(parts.join("\n")).toString(16).padStart(14, "0");
}

function cyrb53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
