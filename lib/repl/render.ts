/**
 * Text renderings of a machine and an instance's configuration for the REPL: the active
 * states as an indented tree (`state`), the whole chart with active states marked
 * (`diagram`), and Mermaid with the active states styled (`diagram --mermaid`).
 *
 * @module
 */
import type { StateNode, Transition } from "../core/compile.ts";
import { compiledOf, type Machine } from "../core/machine.ts";
import { toMermaid, transitionLabel } from "../core/diagram.ts";
import type { Colors } from "./color.ts";

// deno-lint-ignore no-explicit-any
type AnyMachine = Machine<any, any>;

/**
 * The atomic (and final) states of a configuration, document order; the configuration itself
 * when the machine is unknown.
 *
 * @example
 * ```ts ignore
 * atomicOf(door, ["secure", "secure.closed"]); // ["secure.closed"]
 * ```
 */
export function atomicOf(machine: AnyMachine | undefined, configuration: string[]): string[] {
  if (machine === undefined) return configuration;
  return configuration.filter((id) => {
    const s = compiledOf(machine).byId.get(id);
    return s === undefined || s.kind === "atomic" || s.kind === "final";
  });
}

/** State ids joined with `, `, or `(none)`. */
export function formatStates(ids: readonly string[]): string {
  return ids.length === 0 ? "(none)" : ids.join(", ");
}

/**
 * The active states as an indented tree, one state key per line (a parallel state's regions
 * one under the other).
 *
 * @example
 * ```ts ignore
 * configurationTree(door, ["secure", "secure.closed"]); // ["secure", "  closed"]
 * ```
 */
export function configurationTree(machine: AnyMachine, configuration: string[]): string[] {
  const active = new Set(configuration);
  const lines: string[] = [];
  const visit = (s: StateNode, depth: number) => {
    for (const c of s.children) {
      if (!active.has(c.id)) continue;
      lines.push(`${"  ".repeat(depth)}${c.key}${c.kind === "parallel" ? " (parallel)" : ""}`);
      visit(c, depth + 1);
    }
  };
  visit(compiledOf(machine).root, 0);
  return lines;
}

/**
 * The whole chart as a tree: every state with `●` when active and `○` when not, its kind
 * when not plain, and its transitions (`OPEN -> opened`, `after 1s -> red`,
 * `UNLOCK [codeMatches] -> closed`, and `INC (stays)` for a targetless one).
 */
export function chartTree(
  machine: AnyMachine,
  configuration: string[],
  colors: Colors,
): string[] {
  const active = new Set(configuration);
  const m = compiledOf(machine);
  const lines = [`${colors.bold(m.id)}  ${colors.green("●")} active  ${colors.dim("○")} inactive`];
  const visit = (s: StateNode, prefix: string) => {
    const kids = [...s.children, ...s.histories];
    kids.forEach((c, i) => {
      const last = i === kids.length - 1;
      const on = active.has(c.id);
      const marker = c.kind === "history"
        ? ""
        : on
        ? `${colors.green("●")} `
        : `${colors.dim("○")} `;
      const name = on ? colors.bold(colors.green(c.key)) : c.key;
      const kind = c.kind === "history"
        ? (c.deep ? " (H*)" : " (H)")
        : c.kind === "parallel"
        ? " (parallel)"
        : c.kind === "final"
        ? " (final)"
        : c.choice
        ? " (choice)"
        : "";
      const edges = [...c.eventful, ...c.eventless].map(edgeText);
      const tail = edges.length === 0 ? "" : `  ${colors.dim(edges.join("; "))}`;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${marker}${name}${kind}${tail}`);
      visit(c, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  visit(m.root, "");
  return lines;
}

function edgeText(t: Transition): string {
  const on = transitionLabel(t);
  return t.targets === null ? `${on} (stays)` : `${on} -> ${t.targets.map((s) => s.id).join(", ")}`;
}

/**
 * `toMermaid` with the active states styled: a `classDef active` and one `class <id> active`
 * line per active state. Mermaid ids are derived here the way `lib/core/diagram.ts` derives
 * them (the id with anything but `[A-Za-z0-9_]` made `_`); a state whose id could not be
 * matched is left unstyled.
 */
export function mermaidWithActive(machine: AnyMachine, configuration: string[]): string {
  const text = toMermaid(machine);
  const declared = new Set<string>();
  for (const m of text.matchAll(/^\s*state (?:"[^"]*" as )?([A-Za-z0-9_]+)/gm)) declared.add(m[1]);
  for (const m of text.matchAll(/^\s*([A-Za-z0-9_]+)\s*$/gm)) declared.add(m[1]);
  for (const m of text.matchAll(/^\s*([A-Za-z0-9_]+) -->|--> ([A-Za-z0-9_]+)/gm)) {
    if (m[1] !== undefined) declared.add(m[1]);
    if (m[2] !== undefined) declared.add(m[2]);
  }
  const classes = configuration.map((id) => {
    let base = id.replace(/[^A-Za-z0-9_]/g, "_");
    if (/^\d/.test(base)) base = `s_${base}`;
    if (!declared.has(base) && declared.has(`${base}_`)) base = `${base}_`;
    return declared.has(base) ? `  class ${base} active` : null;
  }).filter((l) => l !== null);
  if (classes.length === 0) return text;
  return `${text}  classDef active fill:#d4f7d4,stroke:#2e7d32,stroke-width:2px\n${
    classes.join("\n")
  }\n`;
}
