/**
 * A state's transitions, as written (`on`, `after`, `invoke`'s `onDone`/`onError`, `onDone`,
 * `always`, `when`), its initial transition and a history state's default transition. Targets
 * stay names here: they are resolved once every state exists (`compile_targets.ts`).
 *
 * @module
 */
import type {
  InvokeConfig,
  StateConfig,
  TransitionConfig,
  TransitionsConfig,
  WhenConfig,
} from "./types.ts";
import type { ActionFn, Invocation, StateNode, Transition } from "./compiled_types.ts";
import { type CompileContext, isObject } from "./compile_context.ts";
import { resolveActions, resolveGuard } from "./compile_sections.ts";
import { descriptorProblem, parseDescriptors } from "./descriptor.ts";
import { parseDuration } from "./duration.ts";
import { compileRetry, compileTimeout } from "./retry.ts";

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
  "retry",
  "timeout",
]);

/** One transition of `source`, in document order among the machine's transitions. */
function addTransition(
  ctx: CompileContext,
  source: StateNode,
  raw: unknown,
  events: string[] | null,
  path: string[],
  generated: Transition["generated"],
  when: boolean,
): void {
  let tc: TransitionConfig | WhenConfig;
  if (typeof raw === "string") tc = { target: raw };
  else if (isObject(raw)) tc = raw as TransitionConfig;
  else {
    ctx.error(path, "a transition must be a target string or an object { target, guard, actions }");
    ctx.lose(source);
    return;
  }
  const allowed = when ? WHEN_KEYS : TRANSITION_KEYS;
  for (const key of Object.keys(tc)) {
    if (!allowed.has(key)) ctx.error([...path, key], `unknown transition property "${key}"`);
  }
  let targets: readonly string[] | null = null;
  if (tc.target !== undefined) {
    if (typeof tc.target === "string") targets = [tc.target];
    else if (Array.isArray(tc.target) && tc.target.every((x) => typeof x === "string")) {
      targets = tc.target.length > 0 ? tc.target : null;
    } else {
      ctx.error([...path, "target"], "target must be a string or an array of strings");
      ctx.lose(source);
    }
  }
  if (tc.reenter !== undefined && typeof tc.reenter !== "boolean") {
    ctx.error([...path, "reenter"], "reenter must be true or false");
  }
  const guardSource = when ? (tc as WhenConfig).condition : tc.guard;
  if (when && guardSource === undefined) {
    ctx.error([...path, "condition"], "a change event (when) needs a condition");
  }
  if (when && tc.guard !== undefined) {
    ctx.error([...path, "guard"], 'a change event takes its condition in "condition", not guard');
  }
  const t: Transition = {
    order: ctx.transitions.length,
    id: `${source.id}#${source.eventful.length + source.eventless.length}`,
    source,
    events,
    targets: null,
    internal: tc.reenter !== true,
    guard: resolveGuard(ctx, guardSource, [...path, when ? "condition" : "guard"]),
    guardName: typeof guardSource === "string" ? guardSource : null,
    actions: resolveActions(ctx, tc.actions, [...path, "actions"]),
    when,
    generated,
    historyTarget: false,
    domain: null,
    entryCache: null,
    path,
    description: typeof tc.description === "string" ? tc.description : undefined,
  };
  ctx.transitions.push(t);
  if (events === null) source.eventless.push(t);
  else source.eventful.push(t);
  ctx.pending.push({ t, targets, base: source, isInitial: false });
}

/** A transition or a list of them (`undefined`: none). */
function addTransitions(
  ctx: CompileContext,
  source: StateNode,
  raw: TransitionsConfig | undefined,
  events: string[] | null,
  path: string[],
  generated: Transition["generated"] = null,
): void {
  if (raw === undefined) return;
  if (Array.isArray(raw)) {
    raw.forEach((one, i) =>
      addTransition(ctx, source, one, events, [...path, String(i)], generated, false)
    );
  } else addTransition(ctx, source, raw, events, path, generated, false);
}

/**
 * The transitions written on a state, in document order: `on`, `after`, `invoke`'s `onDone` and
 * `onError`, `onDone`, then `always` and `when`; and the checks of a choice state.
 */
export function addStateTransitions(
  ctx: CompileContext,
  node: StateNode,
  sc: StateConfig,
  path: string[],
): void {
  const { id, kind } = node;
  if (sc.on !== undefined) {
    if (!isObject(sc.on)) {
      ctx.error([...path, "on"], "on must be an object of event -> transition");
      ctx.lose(node);
    } else {
      for (const [descriptor, raw] of Object.entries(sc.on)) {
        const p = descriptorProblem(descriptor);
        if (p !== undefined) {
          ctx.error([...path, "on", descriptor], p);
          ctx.lose(node);
          continue;
        }
        addTransitions(
          ctx,
          node,
          raw as TransitionsConfig,
          parseDescriptors(descriptor),
          [...path, "on", descriptor],
        );
      }
    }
  }
  if (sc.after !== undefined) {
    if (!isObject(sc.after)) {
      ctx.error([...path, "after"], "after must be an object of delay -> transition");
      ctx.lose(node);
    } else {
      for (const [delayKey, raw] of Object.entries(sc.after)) {
        const delay = parseDuration(/^\d+(\.\d+)?$/.test(delayKey) ? Number(delayKey) : delayKey);
        if (delay === undefined) {
          ctx.error(
            [...path, "after", delayKey],
            `"${delayKey}" is not a delay (milliseconds, or a duration like "500ms", "2s", "1m")`,
          );
          ctx.lose(node);
          continue;
        }
        const event = `after.${delayKey}.${id}`;
        node.after.push({ delay, event, sendId: `after:${id}:${delayKey}` });
        addTransitions(
          ctx,
          node,
          raw as TransitionsConfig,
          [event],
          [...path, "after", delayKey],
          "after",
        );
      }
    }
  }
  if (sc.invoke !== undefined) addInvocations(ctx, node, sc.invoke, path);
  if (sc.onDone !== undefined) {
    if (kind !== "compound" && kind !== "parallel") {
      ctx.error([...path, "onDone"], "onDone belongs on compound and parallel states");
      ctx.lose(node);
    } else {
      addTransitions(
        ctx,
        node,
        sc.onDone as TransitionsConfig,
        [`done.state.${id}`],
        [...path, "onDone"],
        "done",
      );
    }
  }
  if (sc.always !== undefined) addTransitions(ctx, node, sc.always, null, [...path, "always"]);
  if (sc.when !== undefined) {
    const list = Array.isArray(sc.when) ? sc.when : [sc.when];
    list.forEach((w, i) => {
      ctx.hasWhen = true;
      addTransition(
        ctx,
        node,
        w,
        null,
        Array.isArray(sc.when) ? [...path, "when", String(i)] : [...path, "when"],
        null,
        true,
      );
    });
  }
  if (node.choice) checkChoice(ctx, node, sc, path);
}

/** A state's invocations and their `onDone` / `onError` transitions. */
function addInvocations(
  ctx: CompileContext,
  node: StateNode,
  invoke: NonNullable<StateConfig["invoke"]>,
  path: string[],
): void {
  const list = Array.isArray(invoke) ? invoke : [invoke];
  list.forEach((rawInv, i) => {
    const ipath = Array.isArray(invoke) ? [...path, "invoke", String(i)] : [...path, "invoke"];
    if (!isObject(rawInv)) {
      ctx.error(ipath, "an invoke must be an object { src, id?, input?, onDone?, onError? }");
      return;
    }
    const inv = rawInv as unknown as InvokeConfig;
    for (const k of Object.keys(inv)) {
      if (!INVOKE_KEYS.has(k)) ctx.error([...ipath, k], `unknown invoke property "${k}"`);
    }
    const src = inv.src as unknown;
    const isMachine = isObject(src) && typeof (src as { start?: unknown }).start === "function";
    if (typeof src !== "function" && !isMachine) {
      ctx.error([...ipath, "src"], "invoke src must be an async function or a machine");
    }
    if (inv.id !== undefined && (typeof inv.id !== "string" || inv.id === "")) {
      ctx.error([...ipath, "id"], "an invoke id must be a non-empty string");
    }
    const invokeId = typeof inv.id === "string" && inv.id !== "" ? inv.id : `${node.id}:invoke${i}`;
    if (isMachine && (inv.retry !== undefined || inv.timeout !== undefined)) {
      ctx.error(
        [...ipath, inv.retry !== undefined ? "retry" : "timeout"],
        "retry and timeout apply to invoked functions, not to invoked machines",
      );
    }
    node.invokes.push({
      id: invokeId,
      src: src as Invocation["src"],
      isMachine,
      input: inv.input,
      autoForward: inv.autoForward === true,
      finalize: resolveActions(ctx, inv.finalize, [...ipath, "finalize"]),
      retry: isMachine
        ? null
        : compileRetry(ctx, inv.retry, [...ipath, "retry"], ctx.invokeDefaults.retry),
      timeout: isMachine
        ? null
        : compileTimeout(ctx, inv.timeout, [...ipath, "timeout"], ctx.invokeDefaults.timeout),
      own: { retry: inv.retry !== undefined, timeout: inv.timeout !== undefined },
    });
    addTransitions(
      ctx,
      node,
      inv.onDone as TransitionsConfig | undefined,
      [`done.invoke.${invokeId}`],
      [...ipath, "onDone"],
      "done",
    );
    addTransitions(
      ctx,
      node,
      inv.onError as TransitionsConfig | undefined,
      [`error.platform.${invokeId}`],
      [...ipath, "onError"],
      "error",
    );
  });
}

/** A choice state has only eventless transitions, and should have an unguarded last one. */
function checkChoice(ctx: CompileContext, node: StateNode, sc: StateConfig, path: string[]): void {
  if (sc.on !== undefined || sc.after !== undefined || sc.invoke !== undefined) {
    ctx.error(path, "a choice state has only eventless (always) transitions");
  }
  if (node.eventless.length === 0) {
    ctx.error(path, "a choice state needs eventless (always) transitions to choose between");
  } else if (node.eventless.every((t) => t.guard !== null)) {
    ctx.warn(
      path,
      "every branch of this choice state is guarded: add an unguarded last branch " +
        "(an else) or the machine can get stuck here",
    );
  }
}

/** A transition made by the compiler (an initial or a history default): no event, no guard. */
function impliedTransition(
  id: string,
  source: StateNode,
  domain: StateNode | null,
  path: string[],
): Transition {
  return {
    order: -1,
    id,
    source,
    events: null,
    targets: null,
    internal: true,
    guard: null,
    guardName: null,
    actions: [],
    when: false,
    generated: null,
    historyTarget: false,
    domain,
    entryCache: null,
    path,
  };
}

/**
 * A compound state's initial transition: `initial` (a child key, descendant ids, or SCXML's
 * `<initial>` as `{ target, actions }`), else the first child.
 */
export function addInitialTransition(
  ctx: CompileContext,
  node: StateNode,
  sc: StateConfig,
  path: string[],
): void {
  let initial: unknown = sc.initial;
  let initialActions: ActionFn[] = [];
  if (isObject(initial) && !Array.isArray(initial)) {
    // { target, actions }: an SCXML <initial> element with executable content.
    const o = initial as { target?: unknown; actions?: unknown };
    initialActions = resolveActions(ctx, o.actions, [...path, "initial", "actions"]);
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
  } else {
    ctx.error([...path, "initial"], "initial must be a child key or an array of descendant ids");
    ctx.lose(node, node);
  }
  if (targets !== null) {
    const t = impliedTransition(`${node.id}#initial`, node, node, [...path, "initial"]);
    t.actions = initialActions;
    node.initial = t;
    ctx.pending.push({ t, targets, base: node, isInitial: true });
  }
}

/**
 * A history state's default transition: `target` (or SCXML's history `<transition>` as
 * `{ target, actions }`), else the parent's initial, resolved once the parent is built.
 */
export function addHistoryDefault(
  ctx: CompileContext,
  node: StateNode,
  parent: StateNode,
  sc: StateConfig,
  path: string[],
): void {
  const t = impliedTransition(`${node.id}#default`, node, null, [...path, "target"]);
  node.historyDefault = t;
  let targets: readonly string[] | null = null;
  let target: unknown = sc.target;
  if (isObject(target) && !Array.isArray(target)) {
    // { target, actions }: an SCXML history <transition> with executable content.
    const o = target as { target?: unknown; actions?: unknown };
    t.actions = resolveActions(ctx, o.actions, [...path, "target", "actions"]);
    target = o.target;
  }
  if (target === undefined) {
    // Default: the parent's initial child, resolved once the parent is built.
    targets = null;
  } else if (typeof target === "string") targets = [target];
  else if (Array.isArray(target) && target.every((x) => typeof x === "string")) {
    targets = target;
  } else {
    ctx.error([...path, "target"], "a history target must be a string or an array of strings");
    ctx.lose(node, parent);
  }
  ctx.pending.push({ t, targets, base: parent, isInitial: true });
}
