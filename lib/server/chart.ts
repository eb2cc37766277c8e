/**
 * The chart of a machine as the inspector draws it: the nested states (compound, parallel,
 * final, history and choice) and every transition with its event label, taken from the
 * compiled model. Plain JSON, so `GET /machines/:id/chart` can send it as it is.
 *
 * State ids are the ids the runtime reports in an instance's `configuration`, so the page can
 * highlight the active states by id.
 *
 * @module
 */
import type { StateNode, Transition } from "../core/compile.ts";
import { compiledOf, type Machine } from "../core/machine.ts";
import { formatDelay, guardLabel } from "../core/diagram.ts";

/** What `chartOf` draws: a machine made by `defineMachine` or `fromSCXML`. */
// deno-lint-ignore no-explicit-any
export type ChartSource = Machine<any, any>;

/** A state of the chart. */
export interface ChartState {
  /** The state's id, as in an instance's `configuration` (`"open.wide"`). */
  id: string;
  /** Its key in its parent (`"wide"`): the label to show. */
  key: string;
  /** What it is: a choice state is `"atomic"` with `choice: true`. */
  kind: "atomic" | "compound" | "parallel" | "final" | "history";
  /** A choice pseudo-state (`type: "choice"`, compiled as atomic). */
  choice?: boolean;
  /** History states: deep (`H*`) or shallow (`H`). */
  deep?: boolean;
  /** Compound states: the ids of the children entered by default (usually one). */
  initial?: string[];
  /** Child states in document order, history states last. */
  children: ChartState[];
}

/**
 * A transition of the chart: one per target (a targetless transition loops on its source).
 * A transition of the machine itself (`on` at the top level) comes from the machine's id.
 */
export interface ChartTransition {
  /** The source state's id. */
  from: string;
  /** The target state's id (the source again for a targetless transition). */
  to: string;
  /** The label: `OPEN`, `A B`, `after 30s`, `always`, `when`, `done.invoke.fetch`. */
  event: string;
  /** The guard's name, `"guarded"` for an unnamed guard, absent when unguarded. */
  guard?: string;
  /** Targetless: actions only, the configuration does not change. */
  targetless?: boolean;
  /** `"history"`: a history state's default transition. */
  kind?: "history";
}

/** The chart of a machine (the body of `GET /machines/:id/chart`). */
export interface Chart {
  /** The machine id. */
  id: string;
  /** The root's kind: `"parallel"` when the top-level states are regions. */
  kind: "compound" | "parallel";
  /** Top-level states entered first (compound root). */
  initial: string[];
  /** The top-level states, nested. */
  states: ChartState[];
  /** Every transition, in document order, then history states' default transitions. */
  transitions: ChartTransition[];
}

/**
 * The chart of a machine, from its compiled model.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { chartOf } from "./chart.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const chart = chartOf(door);
 * // chart.transitions[0] is { from: "closed", to: "open", event: "OPEN" }
 * ```
 */
export function chartOf(machine: ChartSource): Chart {
  const m = compiledOf(machine);
  const state = (s: StateNode): ChartState => {
    const out: ChartState = { id: s.id, key: s.key, kind: s.kind, children: [] };
    if (s.choice) out.choice = true;
    if (s.kind === "history") out.deep = s.deep;
    if (s.kind === "compound") out.initial = initialChildren(s).map((c) => c.id);
    out.children = [...s.children, ...s.histories].map(state);
    return out;
  };
  const transitions: ChartTransition[] = [];
  for (const t of [...m.transitions].sort((a, b) => a.order - b.order)) {
    const base: Omit<ChartTransition, "to"> = { from: t.source.id, event: eventLabel(t) };
    const guard = t.guard === null ? null : guardLabel(t);
    if (guard !== null) base.guard = guard;
    if (t.targets === null) {
      transitions.push({ ...base, to: t.source.id, targetless: true });
      continue;
    }
    for (const target of t.targets) transitions.push({ ...base, to: target.id });
  }
  for (const s of m.states) {
    if (s.kind !== "history" || s.historyDefault === null) continue;
    for (const target of s.historyDefault.targets ?? []) {
      transitions.push({ from: s.id, to: target.id, event: "", kind: "history" });
    }
  }
  return {
    id: m.id,
    kind: m.root.kind === "parallel" ? "parallel" : "compound",
    initial: m.root.kind === "compound" ? initialChildren(m.root).map((c) => c.id) : [],
    states: [...m.root.children, ...m.root.histories].map(state),
    transitions,
  };
}

/** `OPEN`, `A B`, `after 1s`, `always`, `when`. */
function eventLabel(t: Transition): string {
  if (t.events === null) return t.when ? "when" : "always";
  if (t.generated === "after") {
    const timer = t.source.after.find((a) => a.event === t.events![0]);
    if (timer !== undefined) return `after ${formatDelay(timer.delay)}`;
  }
  return t.events.join(" ");
}

/** A compound state's default children (a deep initial counts as its child on the way). */
function initialChildren(s: StateNode): StateNode[] {
  if (s.initial === null || s.initial.targets === null) return [];
  const out: StateNode[] = [];
  for (const target of s.initial.targets) {
    let child: StateNode = target;
    while (child.parent !== null && child.parent !== s) child = child.parent;
    if (child.parent === s && !out.includes(child)) out.push(child);
  }
  return out;
}
