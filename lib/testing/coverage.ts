/**
 * Chart coverage: which states a test run entered, which transitions it took, and which guards
 * it saw true and false. `trackCoverage(machine)` makes a tracker; instances started through
 * it (or observed by it) report to it through the engine's monitoring records and its
 * execution probe (`StartOptions.probe`), at no cost to instances nobody tracks.
 *
 * Every tracker also adds to a process-wide tally (`coverageReports()`); when the environment
 * variable `STATECRAFT_COVERAGE_FILE` names a file (and `--allow-env` lets it be read: the
 * permission is queried, never prompted for), the tally is appended to that file as JSON lines,
 * one report per machine, when the process (or the test module's isolate) unloads.
 * `statecraft test` reads and merges them.
 *
 * @module
 */
import type {
  EventObject,
  ExecutionProbe,
  MachineInstance,
  MonitorRecord,
  StartOptions,
} from "../core/types.ts";
import { compiledOf, type Machine } from "../core/machine.ts";
import { Instance } from "../core/interpreter.ts";

/** Covered items of one kind. */
export interface CoverageCount {
  /** How many were covered. */
  covered: number;
  /** How many the chart has. */
  total: number;
  /** Those not covered: state ids, or transition ids (`<source id>#<n>`), in document order. */
  missing: string[];
  /** Times each was entered or taken, by id (every item of the chart, zeros included). */
  hits: Record<string, number>;
}

/** Guards seen true and false. A guard is one guarded transition (or `when` condition). */
export interface GuardCoverage {
  /** Guarded transitions in the chart. */
  total: number;
  /** Guards seen true at least once. */
  trueSeen: number;
  /** Guards seen false at least once. */
  falseSeen: number;
  /** Guards seen both ways. */
  bothSeen: number;
  /** Guards never seen true (transition ids, document order). */
  missingTrue: string[];
  /** Guards never seen false (transition ids, document order). */
  missingFalse: string[];
  /** Times each guard returned true and false, by transition id (every guard, zeros included). */
  hits: Record<string, { true: number; false: number }>;
}

/** What a test run covered of one machine's chart. Plain JSON. */
export interface CoverageReport {
  /** The machine's id. */
  machine: string;
  /** The machine's structural hash: reports merge only with reports of the same definition. */
  hash: string;
  /** States entered (every state but the root and history pseudo-states). */
  states: CoverageCount;
  /** Transitions taken (those written in `on`, `always`, `when`, `after`, `onDone`, `onError`). */
  transitions: CoverageCount;
  /** Guards seen true and false. */
  guards: GuardCoverage;
  /** A readable description of each transition, by id: `closed: LOCK -> locked [codeMatches]`. */
  labels: Record<string, string>;
}

/**
 * Collects the coverage of one machine's chart. Make one with `trackCoverage`.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { trackCoverage } from "./coverage.ts";
 * const toggle = defineMachine({
 *   id: "toggle",
 *   initial: "off",
 *   states: { off: { on: { FLIP: "on" } }, on: { on: { FLIP: "off" } } },
 * });
 * const coverage = trackCoverage(toggle);
 * const t = coverage.start();
 * t.send("FLIP");
 * const report = coverage.report();
 * // report.states.covered is 2; report.transitions.missing is ["on#0"]
 * ```
 */
export class CoverageTracker<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** The machine tracked. */
  readonly machine: Machine<C, E>;
  readonly #chart: Chart;
  #counts: Counts;
  readonly #global: Counts;

  /**
   * Prefer `trackCoverage(machine)`.
   *
   * @param machine the machine whose chart is covered.
   */
  constructor(machine: Machine<C, E>) {
    this.machine = machine;
    this.#chart = chartOf(machine);
    this.#counts = emptyCounts(this.#chart);
    this.#global = globalCounts(this.#chart);
  }

  /**
   * Starts an instance of the machine with coverage recorded from its first macrostep on
   * (the states entered at start, eventless transitions taken at start). `options` are
   * `machine.start`'s; a `listener` or `probe` given there still gets everything.
   */
  start(options: StartOptions<C> = {}): MachineInstance<C, E> {
    const sink = this.#sink();
    const sinks = new Set<Sink>([sink]);
    const userProbe = options.probe;
    const userListener = options.listener;
    const probe = fanOut(sinks, userProbe);
    const instance = this.machine.start({
      ...options,
      probe,
      listener: (r) => {
        // Trackers that observe this instance later subscribe for their own entries.
        if (r.kind === "enter") sink.enter(r.state);
        userListener?.(r);
      },
    });
    probes.set(instance, { sinks, probe, base: userProbe ?? null });
    return instance;
  }

  /**
   * Records the coverage of an instance already running (started elsewhere: a harness, a
   * store): its current states count as entered, then every later entry, transition and guard
   * evaluation. Returns the function that stops observing it.
   */
  observe(instance: MachineInstance<C, E>): () => void {
    if (instance.machineId !== this.machine.id) {
      throw new TypeError(
        `coverage of "${this.machine.id}" cannot observe an instance of "${instance.machineId}"`,
      );
    }
    const sink = this.#sink();
    for (const id of instance.configuration) sink.enter(id);
    const unsubscribe = instance.subscribe((r: MonitorRecord) => {
      if (r.kind === "enter") sink.enter(r.state);
    });
    let attached = probes.get(instance);
    if (attached === undefined && instance instanceof Instance) {
      const sinks = new Set<Sink>();
      attached = { sinks, probe: fanOut(sinks, undefined), base: null };
      probes.set(instance, attached);
      instance.internalProbe(attached.probe);
    }
    attached?.sinks.add(sink);
    return () => {
      unsubscribe();
      if (attached === undefined) return;
      attached.sinks.delete(sink);
      if (attached.sinks.size === 0 && attached.base === null && instance instanceof Instance) {
        instance.internalProbe(null);
        probes.delete(instance);
      }
    };
  }

  /** What was covered since the tracker was made (or last reset). */
  report(): CoverageReport {
    return reportOf(this.#chart, this.#counts);
  }

  /** Forgets what this tracker recorded (the process-wide tally keeps it). */
  reset(): void {
    this.#counts = emptyCounts(this.#chart);
  }

  #sink(): Sink {
    const local = () => this.#counts;
    const global = this.#global;
    return {
      enter(id) {
        bump(local().states, id);
        bump(global.states, id);
      },
      transition(id) {
        bump(local().transitions, id);
        bump(global.transitions, id);
      },
      guard(id, result) {
        bump(result ? local().guardsTrue : local().guardsFalse, id);
        bump(result ? global.guardsTrue : global.guardsFalse, id);
      },
    };
  }
}

/**
 * A coverage tracker for a machine: start instances through it (or observe running ones),
 * then read `report()`. What it records also goes to the process-wide tally.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { formatCoverage, trackCoverage } from "./coverage.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: {
 *     closed: { on: { OPEN: { target: "opened", guard: ({ event }) => event.force !== true } } },
 *     opened: { on: { CLOSE: "closed" } },
 *   },
 * });
 * const coverage = trackCoverage(door);
 * const d = coverage.start();
 * d.send("OPEN");
 * const report = coverage.report();
 * // report.guards.trueSeen is 1, report.guards.missingFalse is ["closed#0"]
 * console.log(formatCoverage(report));
 * ```
 */
export function trackCoverage<C, E extends EventObject>(
  machine: Machine<C, E>,
): CoverageTracker<C, E> {
  return new CoverageTracker(machine);
}

/**
 * Everything recorded in this process (this isolate: each `deno test` module has its own) by
 * every tracker, one report per machine definition. This is what is written to
 * `STATECRAFT_COVERAGE_FILE`.
 *
 * @example
 * ```ts
 * import { coverageReports } from "./coverage.ts";
 * for (const r of coverageReports()) console.log(r.machine, r.states.covered, r.states.total);
 * ```
 */
export function coverageReports(): CoverageReport[] {
  return [...registry.values()].map((entry) => reportOf(entry.chart, entry.counts));
}

/**
 * Merges reports of the same machine definition (same id and hash) by adding their hits;
 * reports of other definitions stay apart. The order is that of first appearance.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { mergeCoverage, trackCoverage } from "./coverage.ts";
 * const m = defineMachine({
 *   id: "m",
 *   initial: "a",
 *   states: { a: { on: { GO: "b", STAY: "c" } }, b: {}, c: {} },
 * });
 * const one = trackCoverage(m);
 * one.start().send("GO");
 * const two = trackCoverage(m);
 * two.start().send("STAY");
 * const [merged] = mergeCoverage([one.report(), two.report()]);
 * // merged.states.covered is 3, merged.transitions.covered is 2
 * ```
 */
export function mergeCoverage(reports: readonly CoverageReport[]): CoverageReport[] {
  const byKey = new Map<string, { chart: Chart; counts: Counts }>();
  for (const r of reports) {
    const key = `${r.machine}@${r.hash}`;
    let entry = byKey.get(key);
    if (entry === undefined) {
      const chart: Chart = {
        machine: r.machine,
        hash: r.hash,
        states: Object.keys(r.states.hits),
        transitions: Object.keys(r.transitions.hits),
        guards: Object.keys(r.guards.hits),
        labels: { ...r.labels },
      };
      entry = { chart, counts: emptyCounts(chart) };
      byKey.set(key, entry);
    }
    const c = entry.counts;
    for (const [id, n] of Object.entries(r.states.hits)) bump(c.states, id, n);
    for (const [id, n] of Object.entries(r.transitions.hits)) bump(c.transitions, id, n);
    for (const [id, h] of Object.entries(r.guards.hits)) {
      bump(c.guardsTrue, id, h.true);
      bump(c.guardsFalse, id, h.false);
    }
  }
  return [...byKey.values()].map((e) => reportOf(e.chart, e.counts));
}

/**
 * The reports as a text table (one row per machine: states, transitions, guards seen true,
 * guards seen false), followed by what each machine missed, transitions with their labels.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { formatCoverage, trackCoverage } from "./coverage.ts";
 * const m = defineMachine({ id: "m", initial: "a", states: { a: { on: { GO: "b" } }, b: {} } });
 * const coverage = trackCoverage(m);
 * coverage.start();
 * console.log(formatCoverage(coverage.report()));
 * // machine  states         transitions    guards true  guards false
 * // m        1/2     50.0%  0/1      0.0%  -            -
 * //   m: states not entered: b
 * //   m: transitions not taken: a#0 (a: GO -> b)
 * ```
 */
export function formatCoverage(reports: CoverageReport | readonly CoverageReport[]): string {
  const list: readonly CoverageReport[] = Array.isArray(reports)
    ? reports
    : [reports as CoverageReport];
  const header = ["machine", "states", "transitions", "guards true", "guards false"];
  const rows = list.map((r) => [
    r.machine,
    ratio(r.states.covered, r.states.total),
    ratio(r.transitions.covered, r.transitions.total),
    ratio(r.guards.trueSeen, r.guards.total),
    ratio(r.guards.falseSeen, r.guards.total),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (list.length === 0) out.push("(no machine was tracked)");
  for (const r of list) {
    const label = (id: string) => `${id} (${r.labels[id] ?? "?"})`;
    if (r.states.missing.length > 0) {
      out.push(`  ${r.machine}: states not entered: ${r.states.missing.join(", ")}`);
    }
    if (r.transitions.missing.length > 0) {
      out.push(
        `  ${r.machine}: transitions not taken: ${r.transitions.missing.map(label).join(", ")}`,
      );
    }
    if (r.guards.missingTrue.length > 0) {
      out.push(`  ${r.machine}: guards never true: ${r.guards.missingTrue.map(label).join(", ")}`);
    }
    if (r.guards.missingFalse.length > 0) {
      out.push(
        `  ${r.machine}: guards never false: ${r.guards.missingFalse.map(label).join(", ")}`,
      );
    }
  }
  return out.join("\n");
}

// -----------------------------------------------------------------------------------------
// Internals

interface Chart {
  machine: string;
  hash: string;
  states: string[];
  transitions: string[];
  guards: string[];
  labels: Record<string, string>;
}

interface Counts {
  states: Map<string, number>;
  transitions: Map<string, number>;
  guardsTrue: Map<string, number>;
  guardsFalse: Map<string, number>;
}

interface Sink {
  enter(id: string): void;
  transition(id: string): void;
  guard(id: string, result: boolean): void;
}

interface Attached {
  sinks: Set<Sink>;
  probe: ExecutionProbe;
  /** A probe the instance was started with by its owner: keep the fan-out installed. */
  base: ExecutionProbe | null;
}

/** The probe fan-out installed on each tracked instance. */
const probes = new WeakMap<object, Attached>();

function fanOut(sinks: Set<Sink>, base: ExecutionProbe | undefined): ExecutionProbe {
  return {
    transition(id) {
      for (const s of sinks) s.transition(id);
      base?.transition(id);
    },
    guard(id, result) {
      for (const s of sinks) s.guard(id, result);
      base?.guard(id, result);
    },
  };
}

const charts = new WeakMap<object, Chart>();

function chartOf<C, E extends EventObject>(machine: Machine<C, E>): Chart {
  const cached = charts.get(machine);
  if (cached !== undefined) return cached;
  const compiled = compiledOf(machine);
  const labels: Record<string, string> = {};
  for (const t of compiled.transitions) {
    const source = t.source.id || compiled.id;
    let on: string;
    if (t.events === null) on = t.when ? "when" : "always";
    else if (t.generated === "after") {
      const timer = t.source.after.find((a) => a.event === t.events![0]);
      on = `after ${timer?.delay ?? "?"}ms`;
    } else on = t.events.join(" ");
    const targets = t.targets === null ? "(no target)" : t.targets.map((s) => s.id).join(", ");
    const guard = t.guard === null ? "" : ` [${t.guardName ?? "guard"}]`;
    labels[t.id] = `${source}: ${on} -> ${targets}${guard}`;
  }
  const chart: Chart = {
    machine: compiled.id,
    hash: compiled.hash,
    states: compiled.states.filter((s) => s !== compiled.root && s.kind !== "history").map((s) =>
      s.id
    ),
    transitions: compiled.transitions.map((t) => t.id),
    guards: compiled.transitions.filter((t) => t.guard !== null).map((t) => t.id),
    labels,
  };
  charts.set(machine, chart);
  return chart;
}

function emptyCounts(chart: Chart): Counts {
  const zeros = (ids: string[]) => new Map(ids.map((id) => [id, 0]));
  return {
    states: zeros(chart.states),
    transitions: zeros(chart.transitions),
    guardsTrue: zeros(chart.guards),
    guardsFalse: zeros(chart.guards),
  };
}

function bump(map: Map<string, number>, id: string, n = 1): void {
  map.set(id, (map.get(id) ?? 0) + n);
}

function countOf(ids: string[], hits: Map<string, number>): CoverageCount {
  const record: Record<string, number> = {};
  const missing: string[] = [];
  for (const id of ids) {
    const n = hits.get(id) ?? 0;
    record[id] = n;
    if (n === 0) missing.push(id);
  }
  return { covered: ids.length - missing.length, total: ids.length, missing, hits: record };
}

function reportOf(chart: Chart, counts: Counts): CoverageReport {
  const hits: Record<string, { true: number; false: number }> = {};
  const missingTrue: string[] = [];
  const missingFalse: string[] = [];
  let bothSeen = 0;
  for (const id of chart.guards) {
    const t = counts.guardsTrue.get(id) ?? 0;
    const f = counts.guardsFalse.get(id) ?? 0;
    hits[id] = { true: t, false: f };
    if (t === 0) missingTrue.push(id);
    if (f === 0) missingFalse.push(id);
    if (t > 0 && f > 0) bothSeen++;
  }
  const total = chart.guards.length;
  return {
    machine: chart.machine,
    hash: chart.hash,
    states: countOf(chart.states, counts.states),
    transitions: countOf(chart.transitions, counts.transitions),
    guards: {
      total,
      trueSeen: total - missingTrue.length,
      falseSeen: total - missingFalse.length,
      bothSeen,
      missingTrue,
      missingFalse,
      hits,
    },
    labels: { ...chart.labels },
  };
}

function ratio(covered: number, total: number): string {
  if (total === 0) return "-";
  const pct = `${(100 * covered / total).toFixed(1)}%`;
  return `${covered}/${total}`.padEnd(6) + pct.padStart(7);
}

// -----------------------------------------------------------------------------------------
// The process-wide tally and STATECRAFT_COVERAGE_FILE

/** The environment variable naming the file the tally is appended to at unload. */
const FILE_ENV = "STATECRAFT_COVERAGE_FILE";

const registry = new Map<string, { chart: Chart; counts: Counts }>();
let writerInstalled = false;

function globalCounts(chart: Chart): Counts {
  const key = `${chart.machine}@${chart.hash}`;
  let entry = registry.get(key);
  if (entry === undefined) {
    entry = { chart, counts: emptyCounts(chart) };
    registry.set(key, entry);
  }
  if (!writerInstalled) {
    writerInstalled = true;
    installWriter();
  }
  return entry.counts;
}

interface DenoLike {
  permissions: {
    querySync(
      desc: { name: "env"; variable: string } | { name: "write"; path: string },
    ): { state: string };
  };
  env: { get(name: string): string | undefined };
  writeTextFileSync(path: string, data: string, options: { append: boolean }): void;
}

/** Where `Deno` exists and lets the variable be read, append the tally to the file at unload. */
function installWriter(): void {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno === undefined || typeof globalThis.addEventListener !== "function") return;
  let file: string | undefined;
  try {
    if (deno.permissions.querySync({ name: "env", variable: FILE_ENV }).state !== "granted") {
      return;
    }
    file = deno.env.get(FILE_ENV);
  } catch {
    return;
  }
  if (file === undefined || file === "") return;
  const path = file;
  globalThis.addEventListener("unload", () => {
    const reports = coverageReports();
    if (reports.length === 0) return;
    if (deno.permissions.querySync({ name: "write", path }).state !== "granted") {
      console.error(`statecraft: coverage not written: no write permission for ${path}`);
      return;
    }
    const text = reports.map((r) => JSON.stringify(r) + "\n").join("");
    deno.writeTextFileSync(path, text, { append: true });
  });
}
