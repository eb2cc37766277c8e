/**
 * The first pass: the state tree, numbered in document order (a state precedes its
 * descendants), with every state's own checks, actions, deferrals and transitions.
 *
 * @module
 */
import type { StateConfig } from "./types.ts";
import type { NodeKind, StateNode } from "./compiled_types.ts";
import {
  type CompileContext,
  describeValue,
  isObject,
  makeNode,
  MAX_STATE_DEPTH,
} from "./compile_context.ts";
import { resolveActions } from "./compile_sections.ts";
import {
  addHistoryDefault,
  addInitialTransition,
  addStateTransitions,
} from "./compile_transitions.ts";
import { descriptorProblem, parseDescriptors } from "./descriptor.ts";

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
  "tags",
]);
const ROOT_KEYS = new Set([
  ...STATE_KEYS,
  "version",
  "context",
  "guards",
  "actions",
  "schemas",
  "migrations",
  "search",
  "invokeDefaults",
]);
const TYPES = new Set(["atomic", "compound", "parallel", "final", "history", "choice"]);

/**
 * Builds the state `raw` (key `key` under `parent`; the root when `parent` is null) and its
 * descendants. A state that is not an object is reported, and stands in the tree as an empty
 * atomic state (in `ctx.placeholders`), so that transitions to it are not reported again; so do
 * the children of a state at `MAX_STATE_DEPTH` (reported once, at that state's `states`), which
 * bounds this recursion whatever the config.
 */
export function buildState(
  ctx: CompileContext,
  raw: unknown,
  key: string,
  parent: StateNode | null,
  path: string[],
): StateNode {
  if (!isObject(raw)) {
    ctx.error(path, "a state must be an object");
    return placeholder(ctx, key, parent, path);
  }
  const sc = raw as StateConfig;
  const isRoot = parent === null;
  const allowedKeys = isRoot ? ROOT_KEYS : STATE_KEYS;
  for (const k of Object.keys(sc)) {
    if (!allowedKeys.has(k)) ctx.error([...path, k], `unknown state property "${k}"`);
  }
  if (
    sc.tags !== undefined &&
    (!Array.isArray(sc.tags) || sc.tags.some((t) => typeof t !== "string" || t === ""))
  ) ctx.error([...path, "tags"], "tags must be an array of non-empty strings");
  if (!isRoot && (key === "" || /[.#\s]/.test(key))) {
    ctx.error(path, `state key "${key}" must be non-empty and contain no ".", "#" or spaces`);
  }
  let type = sc.type;
  if (type !== undefined && !TYPES.has(type)) {
    ctx.error([...path, "type"], `unknown state type ${describeValue(type)}`);
    type = undefined;
  }
  if (isRoot && type !== undefined && type !== "compound" && type !== "parallel") {
    ctx.error([...path, "type"], `the machine's root must be compound or parallel, not "${type}"`);
    type = undefined;
  }
  const hasStates = sc.states !== undefined;
  if (hasStates && !isObject(sc.states)) ctx.error([...path, "states"], "states must be an object");
  const childEntries = isObject(sc.states) ? Object.entries(sc.states) : [];
  let kind: NodeKind;
  const choice = type === "choice";
  if (type === undefined) kind = childEntries.length > 0 ? "compound" : "atomic";
  else if (type === "choice") kind = "atomic";
  else kind = type;

  const node = addNode(ctx, sc, key, kind, parent, path);
  node.choice = choice;
  if (typeof sc.description === "string") node.description = sc.description;
  checkKind(ctx, node, sc, childEntries.length, path);

  node.entry = resolveActions(ctx, sc.entry, [...path, "entry"]);
  node.exit = resolveActions(ctx, sc.exit, [...path, "exit"]);
  if (sc.defer !== undefined) addDeferrals(ctx, node, sc.defer, path);

  // Children first (document order: a state precedes its descendants).
  const tooDeep = node.depth >= MAX_STATE_DEPTH && childEntries.length > 0;
  if (tooDeep) {
    ctx.error(
      [...path, "states"],
      `states nest more than ${MAX_STATE_DEPTH} levels deep here: flatten the chart ` +
        '(a state id can be targeted from anywhere with "#id")',
    );
  }
  for (const [childKey, childRaw] of childEntries) {
    const childPath = [...path, "states", childKey];
    const child = tooDeep
      ? placeholder(ctx, childKey, node, childPath)
      : buildState(ctx, childRaw, childKey, node, childPath);
    if (child.kind === "history") node.histories.push(child);
    else node.children.push(child);
  }
  node.end = ctx.states.length - 1;
  if (kind !== "history" && node.histories.length > 0 && node.children.length === 0) {
    ctx.error(path, "a history state needs a parent with child states to remember");
  }

  addStateTransitions(ctx, node, sc, path);
  if (kind === "compound") addInitialTransition(ctx, node, sc, path);
  else if (kind !== "parallel" && sc.initial !== undefined) {
    ctx.error([...path, "initial"], `an ${kind} state has no initial (it has no child states)`);
  }
  if (kind === "history" && parent !== null) addHistoryDefault(ctx, node, parent, sc, path);
  return node;
}

/** The state's node, numbered and registered under its id (and its dotted path). */
function addNode(
  ctx: CompileContext,
  sc: StateConfig,
  key: string,
  kind: NodeKind,
  parent: StateNode | null,
  path: string[],
): StateNode {
  const isRoot = parent === null;
  const pathId = parent === null
    ? ctx.machineId
    : parent.index === 0
    ? key
    : `${parent.pathId}.${key}`;
  let id = pathId;
  if (sc.id !== undefined) {
    if (typeof sc.id !== "string" || sc.id === "" || /[\s#]/.test(sc.id)) {
      ctx.error([...path, "id"], 'a state id must be a non-empty string with no spaces or "#"');
    } else if (!isRoot) id = sc.id;
  }
  // Children are named from the dotted path, so ids stay readable under custom ids too.
  const node = makeNode(ctx.states.length, key, id, kind, parent, path, sc);
  node.pathId = pathId;
  ctx.states.push(node);
  const { byId } = ctx;
  if (byId.has(id)) {
    ctx.error(
      path,
      `duplicate state id "${id}" (also used by ${formatConfigPath(byId.get(id)!.path)})`,
    );
  } else byId.set(id, node);
  if (!isRoot && id !== pathId && !byId.has(pathId)) byId.set(pathId, node);
  return node;
}

/** What a state of its kind may have, and what it must. */
function checkKind(
  ctx: CompileContext,
  node: StateNode,
  sc: StateConfig,
  childCount: number,
  path: string[],
): void {
  const { kind } = node;
  if (kind === "final" || kind === "history") {
    if (sc.states !== undefined) {
      ctx.error([...path, "states"], `a ${kind} state cannot have child states`);
    }
    for (const k of ["on", "always", "after", "when", "invoke", "initial"] as const) {
      if (sc[k] !== undefined) {
        ctx.error(
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
      if (sc[k] !== undefined) ctx.error([...path, k], `a history state cannot have "${k}"`);
    }
    if (node.parent === null) ctx.error(path, "the root cannot be a history state");
    if (sc.history !== undefined && sc.history !== "shallow" && sc.history !== "deep") {
      ctx.error(
        [...path, "history"],
        `history must be "shallow" or "deep", not ${describeValue(sc.history)}`,
      );
    }
    node.deep = sc.history === "deep";
  } else if (sc.history !== undefined) {
    ctx.error([...path, "history"], `"history" belongs on a state of type "history"`);
  }
  if (kind !== "history" && sc.target !== undefined) {
    ctx.error(
      [...path, "target"],
      `"target" on a state belongs to history states (a default target)`,
    );
  }
  if (kind !== "final" && sc.output !== undefined) {
    ctx.error([...path, "output"], `"output" (done data) belongs on final states`);
  }
  if (kind === "final" && sc.output !== undefined) {
    node.output = sc.output;
    node.hasOutput = true;
  }
  if ((kind === "compound" || kind === "parallel") && childCount === 0) {
    ctx.error(path, `a ${kind} state needs child states`);
  }
  if (kind === "atomic" && childCount > 0) {
    ctx.error(
      [...path, "states"],
      `a ${node.choice ? "choice" : "atomic"} state cannot have child states`,
    );
  }
  if (kind === "parallel" && sc.initial !== undefined) {
    ctx.error([...path, "initial"], "a parallel state has no initial: every region is entered");
  }
}

/** `defer`: event descriptors, kept as normalised tokens. */
function addDeferrals(ctx: CompileContext, node: StateNode, defer: unknown, path: string[]): void {
  if (!Array.isArray(defer) || !defer.every((d) => typeof d === "string")) {
    ctx.error([...path, "defer"], "defer must be an array of event descriptors");
    return;
  }
  const tokens: string[] = [];
  defer.forEach((d: string, i) => {
    const p = descriptorProblem(d);
    if (p !== undefined) ctx.error([...path, "defer", String(i)], p);
    else tokens.push(...parseDescriptors(d));
  });
  if (tokens.length > 0) {
    node.defer = tokens;
    ctx.hasDefer = true;
  }
}

/** The stand-in for a child state that is not an object (already reported). */
function placeholder(
  ctx: CompileContext,
  key: string,
  parent: StateNode | null,
  path: string[],
): StateNode {
  const id = parent === null || parent.index === 0 ? key : `${parent.pathId}.${key}`;
  const node = makeNode(ctx.states.length, key, id, "atomic", parent, path, {});
  ctx.states.push(node);
  if (!ctx.byId.has(id)) ctx.byId.set(id, node);
  ctx.placeholders.add(node);
  return node;
}

function formatConfigPath(path: string[]): string {
  return path.length === 0 ? "the root" : path.join(".");
}
