/**
 * The third pass: each transition's SCXML transition domain, computed once at compile time
 * where it cannot change at run time (no history state among the targets). The document-order
 * queries it rests on (`isDescendant`, `findLCCA`) serve the interpreter too.
 *
 * @module
 */
import type { StateNode, Transition } from "./compiled_types.ts";
import type { CompileContext } from "./compile_context.ts";

/** Sets `historyTarget` on every resolved transition, and its domain when that is static. */
export function computeDomains(ctx: CompileContext, root: StateNode): void {
  for (const t of ctx.transitions) {
    if (t.targets === null) continue;
    t.historyTarget = t.targets.some((s) => s.kind === "history");
    if (!t.historyTarget) t.domain = computeDomain(t, t.targets, root);
  }
}

/** Whether `a` is a proper descendant of `b` (document-order range check). */
export function isDescendant(a: StateNode, b: StateNode): boolean {
  return a.index > b.index && a.index <= b.end;
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
