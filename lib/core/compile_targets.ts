/**
 * The second pass: target names to states, once every state exists, and the checks of what
 * was resolved (an initial inside its state, a history default inside its parent, several
 * targets in different regions of a parallel state).
 *
 * @module
 */
import type { StateNode, Transition } from "./compiled_types.ts";
import type { CompileContext } from "./compile_context.ts";
import { isDescendant } from "./compile_domains.ts";

/** Resolves the targets of every pending transition; a name that resolves nowhere is an error. */
export function resolveTargets(ctx: CompileContext): void {
  let defaults: Transition[] | null = null;
  const lookup = new ChildLookup();
  for (const { t, targets, base, isInitial } of ctx.pending) {
    if (targets === null) {
      if (t.source.kind === "history") (defaults ??= []).push(t);
      continue;
    }
    const resolved: StateNode[] = [];
    for (const target of targets) {
      const node = resolveTarget(target, base, t.source, isInitial, ctx.byId, lookup);
      if (node === null) {
        ctx.error(
          t.path.length > 0 && !isInitial ? [...t.path, "target"] : t.path,
          `unknown target "${target}" in state "${t.source.id || ctx.machineId}"`,
        );
        continue;
      }
      resolved.push(node);
    }
    if (resolved.length !== targets.length) {
      // An initial can only have meant a descendant, a history default one of its parent's.
      ctx.lose(t.source, isInitial ? base : null);
      continue;
    }
    t.targets = resolved;
    checkTargets(ctx, t, isInitial);
  }
  // A history state without a target defaults to its parent's initial, resolved above (a
  // history is built before its parent's initial, so it waits until here).
  if (defaults !== null) {
    for (const t of defaults) {
      const parent = t.source.parent!;
      t.targets = parent.kind === "parallel"
        ? [...parent.children]
        : parent.initial?.targets ?? (parent.children.length > 0 ? [parent.children[0]] : null);
    }
  }
  checkHistoryCycles(ctx);
}

/**
 * A history state's default may enter another history state, whose default is taken in turn;
 * a chain that comes back (a history naming itself, or its parent's initial when that initial
 * is the history) would never end. Each such cycle is one error, at the history where it is
 * found. Iterative: the chains are as long as the input makes them.
 */
function checkHistoryCycles(ctx: CompileContext): void {
  const state = new Uint8Array(ctx.states.length); // 0 new, 1 on the current chain, 2 done
  for (const start of ctx.states) {
    if (start.kind !== "history" || state[start.index] !== 0) continue;
    const stack: { h: StateNode; next: number }[] = [{ h: start, next: 0 }];
    state[start.index] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const targets = top.h.historyDefault?.targets ?? [];
      if (top.next >= targets.length) {
        state[top.h.index] = 2;
        stack.pop();
        continue;
      }
      const target = targets[top.next++];
      if (target.kind !== "history" || state[target.index] === 2) continue;
      if (state[target.index] === 1) {
        const from = stack.findIndex((f) => f.h === target);
        const chain = stack.slice(from).map((f) => `"${f.h.id}"`).concat(`"${target.id}"`);
        ctx.error(
          top.h.historyDefault!.path,
          `the default of history state "${top.h.id}" leads back to itself ` +
            `(${chain.join(" -> ")}): give a history a default that enters a state, not a history`,
        );
        continue;
      }
      state[target.index] = 1;
      stack.push({ h: target, next: 0 });
    }
  }
}

/**
 * Child states by key, per parent, made the first time a parent is asked: resolving a target
 * among n siblings costs O(1), not O(n) (50,000 siblings targeting each other stay linear).
 */
class ChildLookup {
  readonly #byParent = new Map<StateNode, Map<string, StateNode>>();

  childByPath(from: StateNode, parts: string[]): StateNode | null {
    let node: StateNode | undefined = from;
    for (const part of parts) {
      node = this.#children(node).get(part);
      if (node === undefined) return null;
    }
    return node;
  }

  #children(parent: StateNode): Map<string, StateNode> {
    let map = this.#byParent.get(parent);
    if (map === undefined) {
      map = new Map();
      // Keys are unique among siblings; proper children first, as before histories.
      for (const c of parent.children) if (!map.has(c.key)) map.set(c.key, c);
      for (const c of parent.histories) if (!map.has(c.key)) map.set(c.key, c);
      this.#byParent.set(parent, map);
    }
    return map;
  }
}

/**
 * A target name: `#id` (or XState's `#machineId.path`), `.child.path` below the source, or a
 * sibling path; an initial or a history default names the base's descendants.
 */
function resolveTarget(
  target: string,
  base: StateNode,
  source: StateNode,
  isInitial: boolean,
  byId: Map<string, StateNode>,
  lookup: ChildLookup,
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
  if (target.startsWith(".")) return lookup.childByPath(source, target.slice(1).split("."));
  const parts = target.split(".");
  if (isInitial) {
    // initial and history defaults name the base's children (or its descendants' ids).
    return lookup.childByPath(base, parts) ?? byId.get(target) ?? null;
  }
  const scope = source.parent ?? source;
  return lookup.childByPath(scope, parts);
}

function rootOf(s: StateNode): StateNode {
  let n = s;
  while (n.parent !== null) n = n.parent;
  return n;
}

function checkTargets(ctx: CompileContext, t: Transition, isInitial: boolean): void {
  const targets = t.targets!;
  const source = t.source;
  if (isInitial && source.kind !== "history") {
    for (const s of targets) {
      if (!isDescendant(s, source)) {
        ctx.error(t.path, `initial "${s.id}" is not a descendant of "${source.id}"`);
      }
    }
  }
  if (source.kind === "history") {
    const parent = source.parent!;
    for (const s of targets) {
      if (!isDescendant(s, parent)) {
        ctx.error(t.path, `history default "${s.id}" is not inside "${parent.id}"`);
      } else if (!source.deep && s.parent !== parent) {
        ctx.error(t.path, `a shallow history's default must be a child of "${parent.id}"`);
      }
    }
  }
  // Several targets must be compatible: no two in the same compound region. In document order
  // it is enough to compare neighbours: if one target contains another, it contains its next
  // neighbour too, and the common ancestor of any two is that of some pair of neighbours
  // between them. So n targets cost n log n, not n squared.
  if (targets.length < 2) return;
  const sorted = [...targets].sort((a, b) => a.index - b.index);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1], b = sorted[i];
    if (a === b || isDescendant(b, a)) {
      ctx.error(t.path, `targets "${a.id}" and "${b.id}" cannot both be entered`);
      continue;
    }
    const lca = lowestCommonAncestor(a, b);
    if (lca !== null && lca.kind !== "parallel") {
      ctx.error(
        t.path,
        `targets "${a.id}" and "${b.id}" are in the same region of "${lca.id || "the root"}": ` +
          "only states in different regions of a parallel state can be entered together",
      );
    }
  }
}

function lowestCommonAncestor(a: StateNode, b: StateNode): StateNode | null {
  let p = a.parent;
  while (p !== null && !(isDescendant(b, p))) p = p.parent;
  return p;
}
