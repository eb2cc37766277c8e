/**
 * The chart of a machine as the inspector draws it: the nested states (compound, parallel,
 * final, history and choice), every transition with its event label, and every event the
 * machine knows with the JSON Schema of its payload where one is declared, taken from the
 * compiled model. Plain JSON, so `GET /machines/:id/chart` can send it as it is.
 *
 * State ids are the ids the runtime reports in an instance's `configuration`, so the page can
 * highlight the active states by id.
 *
 * @module
 */
import type { StateNode, Transition } from "../core/compile.ts";
import type { StandardSchema } from "../core/types.ts";
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

/** An event the machine knows: one a transition names, or one with a payload schema. */
export interface ChartEvent {
  /** The event name (`LOCK`; a descriptor `error.*` is listed as `error`). */
  type: string;
  /**
   * The JSON Schema of its payload (the fields sent beside `type`), when the machine declares
   * a payload schema that can say it (a Standard JSON Schema: zod 4, valibot, arktype...).
   */
  payload?: Record<string, unknown>;
  /** A payload schema is declared (it may have no JSON Schema to show). */
  checked?: boolean;
  /** An event the engine normally raises itself (`done.*`, `error.*`). */
  internal?: boolean;
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
  /**
   * Every event the machine knows, by name: what its transitions name (delayed `after` events
   * aside: the engine sends them), then events with a payload schema and no transition.
   */
  events: ChartEvent[];
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
    events: eventsOf(m.transitions, machine.schemas ?? {}),
  };
}

/** The events transitions name, in document order, then those only a schema names. */
function eventsOf(
  all: readonly Transition[],
  schemas: Record<string, StandardSchema>,
): ChartEvent[] {
  const out = new Map<string, ChartEvent>();
  for (const t of [...all].sort((a, b) => a.order - b.order)) {
    if (t.events === null || t.generated === "after") continue;
    for (const descriptor of t.events) {
      const type = descriptor.replace(/\.?\*$/, "");
      if (type === "" || out.has(type)) continue;
      const internal = t.generated !== null || /^(done|error)(\.|$)/.test(type);
      out.set(type, internal ? { type, internal: true } : { type });
    }
  }
  for (const [type, schema] of Object.entries(schemas)) {
    const event = out.get(type) ?? { type };
    event.checked = true;
    const payload = jsonSchemaOf(schema);
    if (payload !== undefined) event.payload = payload;
    out.set(type, event);
  }
  return [...out.values()];
}

/** The JSON Schema of a payload schema's input, when its library can say it. */
function jsonSchemaOf(schema: StandardSchema): Record<string, unknown> | undefined {
  const converter = (schema["~standard"] as { jsonSchema?: JsonSchemaConverter }).jsonSchema;
  if (typeof converter?.input !== "function") return undefined;
  try {
    const out = converter.input({ target: "draft-2020-12" });
    // Through JSON, so what the route sends is what this returns.
    return JSON.parse(JSON.stringify(out));
  } catch {
    return undefined; // a schema JSON Schema cannot express (a refinement, a transform)
  }
}

/** The Standard JSON Schema converter (`schema["~standard"].jsonSchema`). */
interface JsonSchemaConverter {
  input(options: { target: string }): Record<string, unknown>;
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
