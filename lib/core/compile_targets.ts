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
  for (const { t, targets, base, isInitial } of ctx.pending) {
    if (targets === null) {
      if (t.source.kind === "history") (defaults ??= []).push(t);
      continue;
    }
    const resolved: StateNode[] = [];
    for (const target of targets) {
      const node = resolveTarget(target, base, t.source, isInitial, ctx.byId);
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
  // Several targets must be compatible: no two in the same compound region.
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const a = targets[i], b = targets[j];
      if (a === b || isDescendant(a, b) || isDescendant(b, a)) {
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
}

function lowestCommonAncestor(a: StateNode, b: StateNode): StateNode | null {
  let p = a.parent;
  while (p !== null && !(isDescendant(b, p))) p = p.parent;
  return p;
}
