/**
 * Diagrams of a machine's chart, from its compiled model: Mermaid `stateDiagram-v2` and
 * Graphviz DOT. Pure functions of the definition (no I/O, no Deno APIs), so they run in the
 * browser inspector and in permission-less Workers too.
 *
 * Both show the nesting of compound and parallel states, initial states, final states,
 * history and choice pseudo-states, and every transition labelled with its event
 * (`OPEN`, `after 1s`, `always`, `when`, `done.invoke.fetch`) and guard (`[isReady]`).
 * State ids contain dots (`door.open`): they are turned into identifiers (`door_open`) and
 * the state's key is shown as its label.
 *
 * @module
 */
import type { CompiledMachine, StateNode, Transition } from "./compile.ts";
import { compiledOf, type Machine } from "./machine.ts";

/** What the diagram functions draw: a machine made by `defineMachine` or `fromSCXML`. */
// deno-lint-ignore no-explicit-any
export type DiagramSource = Machine<any, any>;

/**
 * Renders the chart as a Mermaid `stateDiagram-v2`: compound states as nested
 * `state X { ... }` blocks, parallel regions separated by `--`, `[*] --> initial` in every
 * compound state, `final --> [*]` for final states, history states as `H` / `H*` states and
 * choice states as `<<choice>>`. A machine whose root is parallel, or has transitions of its
 * own, is drawn inside one outer block named after the machine.
 *
 * @example
 * ```ts
 * import { defineMachine } from "./machine.ts";
 * import { toMermaid } from "./diagram.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const text = toMermaid(door);
 * // text contains "[*] --> closed" and "closed --> open : OPEN"
 * ```
 */
export function toMermaid(machine: DiagramSource): string {
  const m = compiledOf(machine);
  const ids = identifiers(m, MERMAID_RESERVED);
  const wrap = wrapsRoot(m.root);
  const edges = collectEdges(m);

  // An edge is written inside the block of its endpoints' parent when both are children of
  // the same compound state; otherwise at the top level, so that no renderer moves a state
  // out of the block that declares it.
  const blockEdges = new Map<StateNode | null, Edge[]>();
  for (const e of edges) {
    const parent = e.source.parent;
    const sameBlock = parent !== null && e.target.parent === parent && parent.kind === "compound";
    const block = sameBlock ? blockOf(parent, m.root, wrap) : null;
    const list = blockEdges.get(block) ?? [];
    list.push(e);
    blockEdges.set(block, list);
  }

  const lines: string[] = [];
  if (m.id !== "") lines.push("---", `title: ${mermaidText(m.id)}`, "---");
  lines.push("stateDiagram-v2");
  const edgeLine = (e: Edge, indent: string) =>
    `${indent}${ids.get(e.source)} --> ${ids.get(e.target)}` +
    (e.label === "" ? "" : ` : ${mermaidText(e.label)}`);

  const declare = (s: StateNode, indent: string): void => {
    const id = ids.get(s)!;
    if (s.kind === "history") {
      lines.push(`${indent}state "${s.deep ? "H*" : "H"}" as ${id}`);
      return;
    }
    if (s.choice) {
      lines.push(`${indent}state ${id} <<choice>>`);
      return;
    }
    const label = s.key === "" ? m.id : s.key;
    const head = label === id ? `state ${id}` : `state "${mermaidText(label)}" as ${id}`;
    if (s.kind === "atomic" || s.kind === "final") {
      lines.push(label === id ? `${indent}${id}` : `${indent}${head}`);
      return;
    }
    lines.push(`${indent}${head} {`);
    body(s, `${indent}  `);
    lines.push(`${indent}}`);
  };

  const body = (s: StateNode, indent: string): void => {
    if (s.kind === "parallel") {
      s.children.forEach((region, i) => {
        if (i > 0) lines.push(`${indent}--`);
        declare(region, indent);
      });
      for (const h of s.histories) declare(h, indent);
      return;
    }
    for (const c of s.children) declare(c, indent);
    for (const h of s.histories) declare(h, indent);
    for (const target of initialTargets(s)) lines.push(`${indent}[*] --> ${ids.get(target)}`);
    for (const c of s.children) {
      if (c.kind === "final") lines.push(`${indent}${ids.get(c)} --> [*]`);
    }
    for (const e of blockEdges.get(s) ?? []) lines.push(edgeLine(e, indent));
  };

  if (wrap) {
    declare(m.root, "  ");
    lines.push(`  [*] --> ${ids.get(m.root)}`);
  } else {
    body(m.root, "  ");
  }
  for (const e of blockEdges.get(null) ?? []) lines.push(edgeLine(e, "  "));
  return lines.join("\n") + "\n";
}

/**
 * Renders the chart as a Graphviz `digraph`: one `subgraph cluster_<id>` per compound or
 * parallel state (the regions of a parallel state dashed), a point for each initial state,
 * final states with a double border, history states as `H` / `H*` circles, choice states as
 * diamonds, and labelled edges. Edges to and from a compound state attach to its cluster's
 * border (`compound=true`, `lhead` / `ltail`).
 *
 * @example
 * ```ts
 * import { defineMachine } from "./machine.ts";
 * import { toDot } from "./diagram.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: {
 *     closed: { on: { OPEN: "open" } },
 *     open: { initial: "ajar", states: { ajar: {}, wide: {} }, on: { CLOSE: "closed" } },
 *   },
 * });
 * const text = toDot(door);
 * // text contains "subgraph cluster_open {" and `closed -> open__start [label="OPEN", lhead=cluster_open]`
 * ```
 */
export function toDot(machine: DiagramSource): string {
  const m = compiledOf(machine);
  const ids = identifiers(m, DOT_RESERVED);
  const wrap = wrapsRoot(m.root);
  const lines: string[] = [];
  lines.push(`digraph ${dotString(m.id === "" ? "machine" : m.id)} {`);
  lines.push("  compound=true;");
  lines.push("  rankdir=LR;");
  lines.push(`  graph [fontname="Helvetica"];`);
  lines.push(`  node [shape=box, style=rounded, fontname="Helvetica"];`);
  lines.push(`  edge [fontname="Helvetica", fontsize=10];`);

  const isCluster = (s: StateNode) =>
    (s.kind === "compound" || s.kind === "parallel") && (s !== m.root || wrap);
  /** The node that stands for a cluster at the ends of edges. */
  const anchor = (s: StateNode) => `${ids.get(s)}__start`;
  const initialEdges: string[] = [];

  const declare = (s: StateNode, indent: string, region: boolean): void => {
    const id = ids.get(s)!;
    if (s.kind === "history") {
      lines.push(
        `${indent}${id} [label=${dotString(s.deep ? "H*" : "H")}, shape=circle, width=0.3];`,
      );
      return;
    }
    const label = s.key === "" ? m.id : s.key;
    if (!isCluster(s)) {
      const attrs = [`label=${dotString(label)}`];
      if (s.kind === "final") attrs.push("peripheries=2");
      if (s.choice) attrs.push("shape=diamond", "style=solid");
      lines.push(`${indent}${id} [${attrs.join(", ")}];`);
      return;
    }
    lines.push(`${indent}subgraph cluster_${id} {`);
    const inner = `${indent}  `;
    lines.push(`${inner}label=${dotString(label)};`);
    lines.push(`${inner}style=${region ? `"rounded,dashed"` : "rounded"};`);
    if (s.kind === "compound") {
      lines.push(`${inner}${anchor(s)} [shape=point, width=0.12, label=""];`);
      for (const target of initialTargets(s)) {
        initialEdges.push(`  ${anchor(s)} -> ${endpoint(target)}${headClip(target)};`);
      }
    } else {
      lines.push(`${inner}${anchor(s)} [shape=point, style=invis, width=0, label=""];`);
    }
    for (const c of s.children) declare(c, inner, s.kind === "parallel");
    for (const h of s.histories) declare(h, inner, false);
    lines.push(`${indent}}`);
  };

  /** An edge end: the state's node, or its cluster's anchor with lhead/ltail. */
  const endpoint = (s: StateNode): string => isCluster(s) ? anchor(s) : ids.get(s)!;
  /** The attribute list of an initial edge into `s`. */
  const headClip = (s: StateNode): string => isCluster(s) ? ` [lhead=cluster_${ids.get(s)}]` : "";
  const clip = (s: StateNode, other: StateNode, attr: "lhead" | "ltail"): string | null =>
    isCluster(s) && other !== s && !isInside(other, s) ? `${attr}=cluster_${ids.get(s)}` : null;

  if (wrap) {
    declare(m.root, "  ", false);
    lines.push(`  __start [shape=point, width=0.12, label=""];`);
    lines.push(`  __start -> ${anchor(m.root)} [lhead=cluster_${ids.get(m.root)}];`);
  } else {
    lines.push(`  __start [shape=point, width=0.12, label=""];`);
    for (const c of m.root.children) declare(c, "  ", false);
    for (const h of m.root.histories) declare(h, "  ", false);
    for (const target of initialTargets(m.root)) {
      initialEdges.unshift(`  __start -> ${endpoint(target)}${headClip(target)};`);
    }
  }
  lines.push(...initialEdges);
  for (const e of collectEdges(m)) {
    const attrs: string[] = [];
    if (e.label !== "") attrs.push(`label=${dotString(e.label)}`);
    if (e.kind === "history") attrs.push("style=dashed");
    const tail = clip(e.source, e.target, "ltail");
    const head = clip(e.target, e.source, "lhead");
    if (head !== null) attrs.push(head);
    if (tail !== null) attrs.push(tail);
    const from = endpoint(e.source);
    const to = endpoint(e.target);
    lines.push(`  ${from} -> ${to}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Shared model

/** A drawn edge. */
interface Edge {
  source: StateNode;
  target: StateNode;
  label: string;
  /** `"history"`: a history state's default transition. */
  kind: "transition" | "history";
}

/** Every transition (one edge per target; targetless ones as self-loops), document order. */
function collectEdges(m: CompiledMachine): Edge[] {
  const edges: Edge[] = [];
  const transitions = [...m.transitions].sort((a, b) => a.order - b.order);
  for (const t of transitions) {
    const label = transitionLabel(t);
    for (const target of t.targets ?? [t.source]) {
      edges.push({ source: t.source, target, label, kind: "transition" });
    }
  }
  for (const s of m.states) {
    if (s.kind !== "history" || s.historyDefault === null) continue;
    for (const target of s.historyDefault.targets ?? []) {
      edges.push({ source: s, target, label: "", kind: "history" });
    }
  }
  return edges;
}

/** `OPEN`, `A B`, `after 1s`, `always`, `when`, with ` [guard]` when guarded. */
export function transitionLabel(t: Transition): string {
  let on: string;
  if (t.events === null) on = t.when ? "when" : "always";
  else if (t.generated === "after") {
    const timer = t.source.after.find((a) => a.event === t.events![0]);
    on = timer === undefined ? t.events.join(" ") : `after ${formatDelay(timer.delay)}`;
  } else on = t.events.join(" ");
  if (t.guard === null) return on;
  return `${on} [${guardLabel(t)}]`;
}

/** How a transition's guard is named in a chart: its name, or "guarded". */
export function guardLabel(t: Transition): string {
  if (t.guardName !== null) return t.guardName;
  const name = t.guard?.name ?? "";
  // An inline arrow function takes its property's name: that says nothing.
  return name === "" || name === "guard" || name === "condition" ? "guarded" : name;
}

/** `1000` -> `1s`, `1500` -> `1.5s`, `60000` -> `1m`, `250` -> `250ms`. */
export function formatDelay(ms: number): string {
  const trim = (n: number) => String(Number(n.toFixed(3)));
  if (ms >= 3_600_000 && ms % 60_000 === 0) return `${trim(ms / 3_600_000)}h`;
  if (ms >= 60_000 && ms % 1000 === 0) return `${trim(ms / 60_000)}m`;
  if (ms >= 1000) return `${trim(ms / 1000)}s`;
  return `${trim(ms)}ms`;
}

/** A compound state's initial states, each shown as its child on the way (deep initials). */
function initialTargets(s: StateNode): StateNode[] {
  if (s.kind !== "compound" || s.initial === null || s.initial.targets === null) return [];
  const out: StateNode[] = [];
  for (const target of s.initial.targets) {
    let child: StateNode = target;
    while (child.parent !== null && child.parent !== s) child = child.parent;
    if (!out.includes(child)) out.push(child);
  }
  return out;
}

/** Whether the root is drawn as a box of its own: it is parallel or has transitions. */
function wrapsRoot(root: StateNode): boolean {
  return root.kind === "parallel" || root.eventful.length > 0 || root.eventless.length > 0;
}

/** The block (composite state) whose body declares the children of `parent`. */
function blockOf(parent: StateNode, root: StateNode, wrap: boolean): StateNode | null {
  return parent === root && !wrap ? null : parent;
}

function isInside(a: StateNode, b: StateNode): boolean {
  return a.index > b.index && a.index <= b.end;
}

const MERMAID_RESERVED = new Set([
  "state",
  "note",
  "end",
  "direction",
  "class",
  "classdef",
  "style",
  "as",
  "hide",
  "scale",
  "click",
  "left",
  "right",
  "of",
  "over",
  "root",
  "default",
  "title",
  "accTitle",
  "accDescr",
]);
const DOT_RESERVED = new Set(["node", "edge", "graph", "digraph", "subgraph", "strict", "__start"]);

/** A unique identifier for every state: its id with anything but `[A-Za-z0-9_]` made `_`. */
function identifiers(m: CompiledMachine, reserved: Set<string>): Map<StateNode, string> {
  const used = new Set<string>();
  const out = new Map<StateNode, string>();
  for (const s of m.states) {
    let base = (s.id === "" ? m.id : s.id).replace(/[^A-Za-z0-9_]/g, "_");
    if (base === "") base = "state";
    if (/^\d/.test(base)) base = `s_${base}`;
    if (reserved.has(base.toLowerCase()) || reserved.has(base)) base = `${base}_`;
    // Anchors are `<id>__start`: keep state ids from colliding with them.
    if (base.endsWith("__start")) base = `${base}_`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    out.set(s, id);
  }
  return out;
}

/** Text for a Mermaid label: one line, no quotes or semicolons to end it early. */
function mermaidText(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/;/g, "#59;").replace(/"/g, "#quot;");
}

/** A DOT double-quoted string. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
