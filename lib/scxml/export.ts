/**
 * Statecraft machines to SCXML. Structure (states, parallel regions, finals, histories,
 * initial states, transitions with their events, targets and internal/external type, delayed
 * transitions, invoked machines, plain context and done data) is written as SCXML; what SCXML
 * cannot carry — TypeScript functions used as actions, guards, invoked functions, context or
 * done-data factories; change events (`when`); deferral — is listed, and marked in the
 * document by an XML comment where it was.
 *
 * @module
 */
import { compiledOf, Machine } from "../core/machine.ts";
import { isDescendant, type StateNode, type Transition } from "../core/compile.ts";
import { ScxmlMachine } from "./import.ts";

/** The result of an export: the document and what it could not express. */
export interface ScxmlExport {
  /** The SCXML document. */
  xml: string;
  /** Parts of the machine SCXML cannot express, each with the state it belongs to. */
  unsupported: string[];
}

/**
 * Writes a machine as an SCXML document (see `exportSCXML` for the list of what was left out).
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { toSCXML } from "./export.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const xml = toSCXML(door);
 * // xml contains <transition event="OPEN" target="open"/>
 * ```
 */
// deno-lint-ignore no-explicit-any
export function toSCXML(machine: Machine<any, any>): string {
  return exportSCXML(machine).xml;
}

/**
 * Writes a machine as SCXML and lists the parts SCXML cannot express (TypeScript functions:
 * actions, guards, invoked functions), which become comments in the document.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { exportSCXML } from "./export.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: {
 *     closed: { on: { OPEN: { target: "open", guard: ({ event }) => event.key === "k" } } },
 *     open: {},
 *   },
 * });
 * const { xml, unsupported } = exportSCXML(door);
 * // unsupported names the guard of closed's OPEN transition
 * ```
 */
// deno-lint-ignore no-explicit-any
export function exportSCXML(machine: Machine<any, any>): ScxmlExport {
  if (machine instanceof ScxmlMachine && machine.doc.source !== undefined) {
    return { xml: machine.doc.source, unsupported: [] };
  }
  const w = new Writer();
  w.run(() => w.machine(machine, 0));
  return {
    xml: `<?xml version="1.0" encoding="UTF-8"?>\n${w.out.join("\n")}\n`,
    unsupported: w.unsupported,
  };
}

/**
 * Writes the document without recursion (a chart or its invocations may nest deeper than the
 * stack): a method writes its own lines and schedules its parts as tasks, which run before the
 * tasks its caller scheduled after it.
 */
class Writer {
  out: string[] = [];
  unsupported: string[] = [];
  #tasks: (() => void)[] = [];

  /** Runs `first` and every task it schedules, in document order. */
  run(first: () => void): void {
    this.#tasks.push(first);
    while (this.#tasks.length > 0) this.#tasks.pop()!();
  }

  /** Schedules `tasks` to run in order, before anything scheduled earlier. */
  then(tasks: (() => void)[]): void {
    for (let i = tasks.length - 1; i >= 0; i--) this.#tasks.push(tasks[i]);
  }

  line(depth: number, text: string): void {
    // Indentation stops growing at 32 levels: a deep chart stays linear in size.
    this.out.push(`${"  ".repeat(Math.min(depth, 32))}${text}`);
  }

  missing(depth: number, where: string, what: string): void {
    this.unsupported.push(`${where}: ${what}`);
    this.line(depth, `<!-- statecraft: not expressible in SCXML: ${escapeComment(what)} -->`);
  }

  // deno-lint-ignore no-explicit-any
  machine(machine: Machine<any, any>, depth: number): void {
    const m = compiledOf(machine);
    const root = m.root;
    const attrs: Record<string, string> = {
      xmlns: "http://www.w3.org/2005/07/scxml",
      version: "1.0",
      datamodel: "ecmascript",
      name: m.id,
    };
    if (root.kind === "compound" && root.initial?.targets) {
      attrs.initial = root.initial.targets.map((s) => s.id).join(" ");
    }
    this.line(depth, `<scxml${attrList(attrs)}>`);
    const where = `machine "${m.id}"`;
    const context = machine.config.context;
    if (typeof context === "function") {
      this.missing(depth + 1, where, "the context is made by a TypeScript function");
    } else if (context !== undefined && typeof context === "object" && context !== null) {
      const entries = Object.entries(context as Record<string, unknown>);
      if (entries.length > 0) {
        this.line(depth + 1, "<datamodel>");
        for (const [k, v] of entries) {
          const json = safeJson(v);
          if (json === undefined) {
            this.missing(depth + 2, where, `context field "${k}" is not JSON`);
          } else this.line(depth + 2, `<data${attrList({ id: k, expr: json })}/>`);
        }
        this.line(depth + 1, "</datamodel>");
      }
    }
    if (root.kind === "parallel") {
      this.line(depth + 1, `<parallel${attrList({ id: `${m.id}.root` })}>`);
      this.then([
        () => this.body(root, depth + 2),
        () => this.line(depth + 1, "</parallel>"),
        () => this.line(depth, "</scxml>"),
      ]);
    } else {
      if (root.entry.length > 0 || root.exit.length > 0) {
        this.missing(depth + 1, where, "the machine's own entry/exit actions");
      }
      for (const t of root.eventful.concat(root.eventless)) {
        this.missing(depth + 1, where, `a transition on the machine itself (${describe(t)})`);
      }
      const parts = root.children.map((c) => () => this.state(c, depth + 1));
      parts.push(() => this.line(depth, "</scxml>"));
      this.then(parts);
    }
  }

  state(s: StateNode, depth: number): void {
    if (s.kind === "history") {
      this.line(depth, `<history${attrList({ id: s.id, type: s.deep ? "deep" : "shallow" })}>`);
      const d = s.historyDefault;
      if (d?.targets) {
        this.line(depth + 1, `<transition${attrList({ target: ids(d.targets) })}/>`);
        if (d.actions.length > 0) this.missing(depth + 1, `state "${s.id}"`, "history actions");
      }
      this.line(depth, "</history>");
      return;
    }
    const tag = s.kind === "parallel" ? "parallel" : s.kind === "final" ? "final" : "state";
    const attrs: Record<string, string> = { id: s.id };
    if (s.kind === "compound" && s.initial?.targets) {
      const first = s.children[0];
      const t = s.initial.targets;
      if (!(t.length === 1 && t[0] === first) || s.initial.actions.length > 0) {
        attrs.initial = ids(t);
      }
      if (s.initial.actions.length > 0) {
        this.missing(depth + 1, `state "${s.id}"`, "initial actions (TypeScript functions)");
      }
    }
    this.line(depth, `<${tag}${attrList(attrs)}>`);
    this.then([() => this.body(s, depth + 1), () => this.line(depth, `</${tag}>`)]);
  }

  body(s: StateNode, depth: number): void {
    const where = `state "${s.id}"`;
    if (s.entry.length > 0 || s.after.length > 0) {
      this.line(depth, "<onentry>");
      for (const a of s.after) {
        this.line(
          depth + 1,
          `<send${attrList({ event: a.event, delay: `${a.delay}ms`, id: a.sendId })}/>`,
        );
      }
      if (s.entry.length > 0) {
        this.missing(depth + 1, where, `${s.entry.length} entry action(s) (TypeScript functions)`);
      }
      this.line(depth, "</onentry>");
    }
    if (s.exit.length > 0 || s.after.length > 0) {
      this.line(depth, "<onexit>");
      for (const a of s.after) this.line(depth + 1, `<cancel${attrList({ sendid: a.sendId })}/>`);
      if (s.exit.length > 0) {
        this.missing(depth + 1, where, `${s.exit.length} exit action(s) (TypeScript functions)`);
      }
      this.line(depth, "</onexit>");
    }
    if (s.defer !== null) this.missing(depth, where, `deferred events (${s.defer.join(" ")})`);
    if (s.kind === "final" && s.hasOutput) {
      const json = typeof s.output === "function" ? undefined : safeJson(s.output);
      if (json === undefined) this.missing(depth, where, "done data made by a TypeScript function");
      else {
        this.line(depth, "<donedata>");
        this.line(depth + 1, `<content${attrList({ expr: json })}/>`);
        this.line(depth, "</donedata>");
      }
    }
    const rest: (() => void)[] = [];
    for (const inv of s.invokes) {
      const attrs: Record<string, string> = { id: inv.id, type: "scxml" };
      if (inv.autoForward) attrs.autoforward = "true";
      const src = inv.src;
      rest.push(() => {
        if (!inv.isMachine || !(src instanceof Machine)) {
          this.missing(depth, where, `invoke "${inv.id}" runs a TypeScript function`);
          return;
        }
        this.line(depth, `<invoke${attrList(attrs)}>`);
        if (inv.input !== undefined) {
          this.missing(depth + 1, where, `the input of invoke "${inv.id}"`);
        }
        if (inv.finalize.length > 0) {
          this.missing(depth + 1, where, `the finalize actions of invoke "${inv.id}"`);
        }
        this.line(depth + 1, "<content>");
        this.then([() => this.machine(src as Machine, depth + 2), () => {
          this.line(depth + 1, "</content>");
          this.line(depth, "</invoke>");
        }]);
      });
    }
    rest.push(() => {
      const transitions = s.eventful.concat(s.eventless).sort((a, b) => a.order - b.order);
      for (const t of transitions) this.transition(t, depth);
    });
    for (const c of s.children) rest.push(() => this.state(c, depth));
    for (const h of s.histories) rest.push(() => this.state(h, depth));
    this.then(rest);
  }

  transition(t: Transition, depth: number): void {
    const where = `state "${t.source.id}"`;
    if (t.when) {
      this.missing(depth, where, `a change event (when) (${describe(t)})`);
      return;
    }
    const attrs: Record<string, string> = {};
    if (t.events !== null) attrs.event = t.events.join(" ");
    if (t.targets !== null) attrs.target = ids(t.targets);
    // Internal matters only when every target is inside the source (SCXML 3.13).
    if (
      t.targets !== null && t.internal && t.source.kind === "compound" &&
      t.targets.every((x) => isDescendant(x, t.source))
    ) attrs.type = "internal";
    const notes: string[] = [];
    if (t.guard !== null) {
      notes.push(
        `the guard ${t.guardName !== null ? `"${t.guardName}" ` : ""}of ${describe(t)} ` +
          "(a TypeScript function; exported without it)",
      );
    }
    if (t.actions.length > 0) {
      notes.push(`${t.actions.length} action(s) of ${describe(t)} (TypeScript functions)`);
    }
    if (notes.length === 0) {
      this.line(depth, `<transition${attrList(attrs)}/>`);
      return;
    }
    this.line(depth, `<transition${attrList(attrs)}>`);
    for (const n of notes) this.missing(depth + 1, where, n);
    this.line(depth, "</transition>");
  }
}

function describe(t: Transition): string {
  const on = t.events === null ? "eventless" : `on "${t.events.join(" ")}"`;
  const to = t.targets === null ? "" : ` to ${ids(t.targets)}`;
  return `transition ${on}${to}`;
}

function ids(states: StateNode[]): string {
  return states.map((s) => s.id).join(" ");
}

function safeJson(v: unknown): string | undefined {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? undefined : s;
  } catch {
    return undefined;
  }
}

function attrList(attrs: Record<string, string>): string {
  return Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join("");
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function escapeComment(s: string): string {
  return s.replace(/--/g, "- -");
}
