/**
 * The fourth pass: states that no run can enter, one warning per cause.
 *
 * A state is reachable when the root's initial configuration, or a transition of a reachable
 * state, enters it (or a descendant). A transition lost to an error (an unknown target, a
 * malformed transition) may have led anywhere in its scope, so the states behind it are not
 * warned about: the error is the one problem. Among the unreachable states, those entered only
 * through another unreachable state are named in that state's warning rather than in warnings
 * of their own.
 *
 * @module
 */
import type { StateNode } from "./compiled_types.ts";
import type { CompileContext } from "./compile_context.ts";
import { isDescendant } from "./compile_domains.ts";

/** How many states a warning names before "and N more". */
const NAMED = 5;

/** Warns about the states no run can enter (for a machine with child states). */
export function checkReachability(ctx: CompileContext, root: StateNode): void {
  if (root.kind !== "compound" && root.kind !== "parallel") return;
  const { states } = ctx;
  const reached = new Uint8Array(states.length);
  const work: StateNode[] = [root];
  reached[root.index] = 1;
  const reach = (s: StateNode) => {
    for (let n: StateNode | null = s; n !== null && reached[n.index] === 0; n = n.parent) {
      reached[n.index] = 1;
      work.push(n);
    }
  };
  const lost = lostScopes(ctx, root);
  // A scope is entered once, however many lost transitions lead into it: n mistakes in a
  // machine of n states stay linear.
  const scopesDone = new Set<StateNode>();
  while (work.length > 0) {
    const s = work.pop()!;
    forEachEntered(s, reach);
    const scopes = lost?.get(s);
    if (scopes !== undefined) {
      for (const scope of scopes) {
        if (scopesDone.has(scope)) continue;
        scopesDone.add(scope);
        for (let i = scope.index + 1; i <= scope.end; i++) reach(states[i]);
      }
    }
  }
  let any = false;
  for (const s of states) {
    if (reached[s.index] === 0 && isReported(ctx, s)) any = true;
  }
  if (any) warnUnreachable(ctx, reached);
}

/** Calls `visit` with each state entering `s` enters directly (initials, regions, targets). */
function forEachEntered(s: StateNode, visit: (target: StateNode) => void): void {
  if (s.kind === "compound") s.initial?.targets?.forEach(visit);
  if (s.kind === "parallel") s.children.forEach(visit);
  if (s.kind === "history") s.historyDefault?.targets?.forEach(visit);
  for (const t of s.eventful) t.targets?.forEach(visit);
  for (const t of s.eventless) t.targets?.forEach(visit);
}

/** Per source state, the scopes its lost transitions may have led into; null when none. */
function lostScopes(ctx: CompileContext, root: StateNode): Map<StateNode, StateNode[]> | null {
  if (ctx.lost.length === 0) return null;
  const out = new Map<StateNode, StateNode[]>();
  for (const { source, scope } of ctx.lost) {
    const list = out.get(source);
    if (list === undefined) out.set(source, [scope ?? root]);
    else list.push(scope ?? root);
  }
  return out;
}

/** History states are entered through their parent's targets; placeholders were reported. */
function isReported(ctx: CompileContext, s: StateNode): boolean {
  return s.kind !== "history" && !ctx.placeholders.has(s);
}

/**
 * One warning per unreachable state that nothing enters (or, in a cycle of unreachable states,
 * the first of them), naming the unreachable states entered through it.
 */
function warnUnreachable(ctx: CompileContext, reached: Uint8Array): void {
  const { states } = ctx;
  // What each unreachable state enters: its targets, initials and regions, and the ancestors
  // entered with them.
  const enters = new Map<StateNode, StateNode[]>();
  const enteredFromOutside = new Uint8Array(states.length);
  // Which source last listed each state: a state is listed once per source without a search.
  const listedBy = new Int32Array(states.length).fill(-1);
  for (const s of states) {
    if (reached[s.index] === 1) continue;
    const out: StateNode[] = [];
    forEachEntered(s, (target) => {
      for (let n: StateNode | null = target; n !== null && reached[n.index] === 0; n = n.parent) {
        if (listedBy[n.index] === s.index) continue;
        listedBy[n.index] = s.index;
        out.push(n);
        // Entering a state from inside it (a child's transition to its parent) is not a way in.
        if (n !== s && !isDescendant(s, n)) enteredFromOutside[n.index] = 1;
      }
    });
    enters.set(s, out);
  }
  const owner = new Int32Array(states.length).fill(-1);
  const follow = (source: StateNode): StateNode[] => {
    const followers: StateNode[] = [];
    owner[source.index] = source.index;
    const work = [source];
    while (work.length > 0) {
      for (const n of enters.get(work.pop()!)!) {
        if (owner[n.index] !== -1) continue;
        owner[n.index] = source.index;
        work.push(n);
        if (isReported(ctx, n)) followers.push(n);
      }
    }
    return followers.sort((a, b) => a.index - b.index);
  };
  const found: { source: StateNode; entered: boolean; followers: StateNode[] }[] = [];
  // Sources first (nothing enters them), then what cycles of unreachable states leave over. A
  // history state that nothing enters is named only when its default leads somewhere no other
  // way does.
  for (const entered of [false, true]) {
    for (const s of states) {
      if (reached[s.index] === 1 || owner[s.index] !== -1) continue;
      if (!isReported(ctx, s) && (entered || s.kind !== "history")) continue;
      if (!entered && enteredFromOutside[s.index] === 1) continue;
      const followers = follow(s);
      if (s.kind !== "history" || followers.length > 0) {
        found.push({ source: s, entered, followers });
      }
    }
  }
  found.sort((a, b) => a.source.index - b.source.index);
  for (const { source, entered, followers } of found) {
    const what = source.kind === "history" ? "history state" : "state";
    const why = entered
      ? "only unreachable states lead to it"
      : source.kind === "history"
      ? "no transition enters it"
      : "no initial or transition enters it";
    ctx.warn(source.path, `${what} "${source.id}" is unreachable: ${why}${through(followers)}`);
  }
}

/** The tail of a warning naming the states entered only through its state. */
function through(followers: StateNode[]): string {
  if (followers.length === 0) return "";
  const names = followers.slice(0, NAMED).map((s) => `"${s.id}"`).join(", ");
  const more = followers.length > NAMED ? ` and ${followers.length - NAMED} more` : "";
  return followers.length === 1
    ? `, so the state entered through it is unreachable too: ${names}`
    : `, so the ${followers.length} states entered through it are unreachable too: ${names}${more}`;
}
