/**
 * Paths from the chart: sequences of events (and waits) that drive a machine from its initial
 * configuration to each of its states (`shortestPaths`), or that together take every
 * transition of the chart (`simplePaths`). Like XState's `@xstate/graph`, but the graph is
 * found by running the real engine: every step of every path was taken by an instance on a
 * `VirtualClock`, with guards, actions, context, history, deferral, delayed transitions and
 * invoked functions doing what they do in production.
 *
 * The search is breadth-first over *nodes*: what an instance can observably be (configuration,
 * context, recorded history, pending timers relative to now, queued and deferred events,
 * child machines). From each node it sends every candidate event, and a `wait` step that
 * advances the clock to the next due timer. Nodes are deduplicated and bounded by
 * `maxStates`, so the search always ends.
 *
 * @module
 */
import type {
  EventObject,
  ExecutionProbe,
  InstanceStatus,
  MachineInstance,
  MonitorRecord,
  Snapshot,
} from "../core/types.ts";
import { VirtualClock } from "../core/clock.ts";
import { EventError } from "../core/errors.ts";
import { compiledOf, type Machine } from "../core/machine.ts";

/** A step that sends an event (its `type` plus any payload fields). */
export interface EventStep {
  /** The event sent. */
  event: EventObject;
  /** The active states after the step (and after invoked functions settled), document order. */
  configuration: string[];
  /** Ids of the chart transitions taken during the step (`<source id>#<n>`), in order. */
  transitions: string[];
}

/** A step that lets virtual time pass until the next pending timer is due. */
export interface WaitStep {
  /** Milliseconds the clock advances. */
  wait: number;
  /** The active states after the step, document order. */
  configuration: string[];
  /** Ids of the chart transitions taken during the step (`<source id>#<n>`), in order. */
  transitions: string[];
}

/** One step of a path: an event sent, or a wait. Tell them apart with `"wait" in step`. */
export type PathStep = EventStep | WaitStep;

/** A path: steps from a fresh instance's initial configuration. */
export interface Path {
  /**
   * What the path is for. `shortestPaths`: the id of the state it reaches (in the final
   * configuration, or passed through during the last step when the state is transient, such
   * as a choice state). `simplePaths`: the atomic states of the final configuration, joined
   * by `", "`.
   */
  state: string;
  /** The steps, in order; empty for states of the initial configuration. */
  steps: PathStep[];
  /** The active states at the end of the path, document order. */
  configuration: string[];
}

/** Sample payloads by event type: each is sent as `{ type, ...payload }`. */
export type EventSamples = Record<string, ReadonlyArray<Record<string, unknown>>>;

/** Options of `shortestPaths` and `simplePaths`. */
export interface PathOptions<C = Record<string, unknown>> {
  /**
   * Payloads to send with these events, besides the plain `{ type }`, so that guards on the
   * payload can be driven both ways: `{ LOCK: [{ code: "0000" }, { code: "1" }] }`. An event
   * rejected by the machine's payload schema is skipped.
   */
  samples?: EventSamples;
  /**
   * The event types to try. Default: every event named by a transition of the chart except
   * platform events (`done.*`, `error.*`, `after.*`) and `*`, plus the types of `samples`.
   */
  events?: readonly string[];
  /** At most this many distinct nodes are explored (default 10,000). */
  maxStates?: number;
  /** Overrides (shallow-merged into) the machine's initial context. */
  context?: Partial<C>;
  /**
   * Identifies a node: two snapshots with the same key are the same node. Default: the
   * configuration, context, recorded history, pending timers (relative to now), queued and
   * deferred events, change-event memory and children, as stable JSON. Return fewer fields
   * (say, only the configuration) to merge nodes that differ only in counters.
   */
  serialize?: (snapshot: Snapshot) => string;
}

/** Options of `simplePaths`. */
export interface SimplePathOptions<C = Record<string, unknown>> extends PathOptions<C> {
  /** No path is longer than this many steps (default 20). */
  maxDepth?: number;
}

const DEFAULT_MAX_STATES = 10_000;
const DEFAULT_MAX_DEPTH = 20;
const SETTLE_ROUNDS = 100;

/**
 * For every state the machine can reach, the shortest path reaching it (fewest steps; among
 * equals, events before waits and in the chart's order). States are every compound,
 * parallel, atomic and final state of the chart (history pseudo-states are not states an
 * instance is in). A state no path reaches within `maxStates` nodes has no path.
 *
 * Invoked functions run as in production; after each step the search lets the event loop
 * turn until their results stop arriving, so fakes that settle without real timers work.
 * Invoked functions should depend only on their input (paths are replayed).
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { shortestPaths } from "./paths.ts";
 * const door = defineMachine({
 *   id: "door",
 *   context: { code: "0000" },
 *   initial: "closed",
 *   states: {
 *     closed: {
 *       on: {
 *         OPEN: "opened",
 *         LOCK: { target: "locked", guard: ({ context, event }) => event.code === context.code },
 *       },
 *     },
 *     opened: { on: { CLOSE: "closed" } },
 *     locked: { after: { 1000: "closed" } },
 *   },
 * });
 * const paths = await shortestPaths(door, { samples: { LOCK: [{ code: "0000" }] } });
 * // paths.map((p) => p.state) is ["closed", "opened", "locked"]
 * // the path to "locked" has one step: { event: { type: "LOCK", code: "0000" }, ... }
 * ```
 */
export async function shortestPaths<C, E extends EventObject>(
  machine: Machine<C, E>,
  options: PathOptions<C> = {},
): Promise<Path[]> {
  const explorer = new Explorer(machine, options, Infinity);
  const targets = chartStateIds(machine);
  await explorer.run(() => targets.every((id) => explorer.reached.has(id)));
  const paths: Path[] = [];
  for (const id of targets) {
    const reach = explorer.reached.get(id);
    if (reach === undefined) continue;
    const steps = reach.from === null ? [] : [...stepsTo(reach.from), reach.step!];
    paths.push({ state: id, steps, configuration: reach.to.configuration });
  }
  return paths;
}

/**
 * Paths that together take every transition of the chart that the search can take: each
 * transition appears in at least one path. A path never visits a node (configuration,
 * context...) twice, except that its last step may return to one it visited (so transitions
 * back to earlier states are covered too), and is at most `maxDepth` steps long. Paths are
 * built greedily, in the chart's transition order, each as long as it keeps taking
 * transitions no earlier path took.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { simplePaths } from "./paths.ts";
 * const toggle = defineMachine({
 *   id: "toggle",
 *   initial: "off",
 *   states: { off: { on: { FLIP: "on" } }, on: { on: { FLIP: "off" } } },
 * });
 * const paths = await simplePaths(toggle);
 * // one path, FLIP then FLIP: it takes "off#0" and "on#0", back to "off"
 * ```
 */
export async function simplePaths<C, E extends EventObject>(
  machine: Machine<C, E>,
  options: SimplePathOptions<C> = {},
): Promise<Path[]> {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const explorer = new Explorer(machine, options, maxDepth);
  const all = compiledOf(machine).transitions.map((t) => t.id);
  await explorer.run(() => all.every((id) => explorer.taken.has(id)));

  // Edges taking each transition, shallowest source first (nodes are in discovery order).
  const byTransition = new Map<string, Array<{ from: Node; edge: Edge }>>();
  for (const node of explorer.nodes) {
    for (const edge of node.edges) {
      for (const id of edge.step.transitions) {
        let list = byTransition.get(id);
        if (list === undefined) byTransition.set(id, list = []);
        list.push({ from: node, edge });
      }
    }
  }
  const uncovered = new Set(byTransition.keys());
  const paths: Path[] = [];
  for (const id of all) {
    if (!uncovered.has(id)) continue;
    const start = byTransition.get(id)!.find((c) => c.from.depth < maxDepth);
    if (start === undefined) continue;
    const visited = new Set<Node>();
    for (let n: Node | null = start.from; n !== null; n = n.parent) visited.add(n);
    const steps = [...stepsTo(start.from)];
    let current = start.edge.to;
    let closed = visited.has(current);
    steps.push(start.edge.step);
    visited.add(current);
    for (const s of steps) for (const t of s.transitions) uncovered.delete(t);
    while (!closed && steps.length < maxDepth) {
      const route = routeToUncovered(current, visited, maxDepth - steps.length, uncovered);
      if (route === null) break;
      for (const edge of route) {
        closed = visited.has(edge.to);
        visited.add(edge.to);
        steps.push(edge.step);
        for (const t of edge.step.transitions) uncovered.delete(t);
        current = edge.to;
      }
    }
    paths.push({
      state: current.atomic.join(", "),
      steps,
      configuration: current.configuration,
    });
  }
  return paths;
}

/**
 * The events the search tries, in the chart's order: for each event type, the plain
 * `{ type }` and then `{ type, ...sample }` for each sample.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { candidateEvents } from "./paths.ts";
 * const m = defineMachine({
 *   id: "m",
 *   initial: "a",
 *   states: { a: { on: { GO: "b" }, after: { 100: "b" } }, b: { on: { "error.*": "a" } } },
 * });
 * candidateEvents(m, { GO: [{ fast: true }] });
 * // [{ type: "GO" }, { type: "GO", fast: true }]
 * ```
 */
export function candidateEvents<C, E extends EventObject>(
  machine: Machine<C, E>,
  samples: EventSamples = {},
  events?: readonly string[],
): EventObject[] {
  const names: string[] = [];
  const add = (name: string) => {
    if (!names.includes(name)) names.push(name);
  };
  if (events !== undefined) events.forEach(add);
  else {
    for (const t of compiledOf(machine).transitions) {
      if (t.generated !== null || t.events === null) continue;
      for (const token of t.events) if (!isPlatformToken(token)) add(token);
    }
    Object.keys(samples).forEach(add);
  }
  const out: EventObject[] = [];
  for (const type of names) {
    out.push({ type });
    for (const payload of samples[type] ?? []) out.push(Object.assign({ type }, payload, { type }));
  }
  return out;
}

/**
 * A step as a short label: `OPEN`, `LOCK{code}` (payload keys, not values), `wait 1.5s`.
 *
 * @example
 * ```ts
 * import { describeStep } from "./paths.ts";
 * describeStep({ event: { type: "LOCK", code: "0000" }, configuration: [], transitions: [] });
 * // "LOCK{code}"
 * describeStep({ wait: 60_000, configuration: [], transitions: [] }); // "wait 60s"
 * ```
 */
export function describeStep(step: PathStep): string {
  if ("wait" in step) return `wait ${formatMs(step.wait)}`;
  const keys = Object.keys(step.event).filter((k) => k !== "type");
  return keys.length === 0 ? step.event.type : `${step.event.type}{${keys.join(",")}}`;
}

/**
 * A path as one line: `reaches secure.locked via OPEN, CLOSE, LOCK{code}` (or `... at start`
 * for a path with no steps).
 *
 * @example
 * ```ts
 * import { describePath } from "./paths.ts";
 * describePath({
 *   state: "opened",
 *   configuration: ["opened"],
 *   steps: [{ event: { type: "OPEN" }, configuration: ["opened"], transitions: ["closed#0"] }],
 * });
 * // "reaches opened via OPEN"
 * ```
 */
export function describePath(path: Path): string {
  if (path.steps.length === 0) return `reaches ${path.state} at start`;
  return `reaches ${path.state} via ${path.steps.map(describeStep).join(", ")}`;
}

/**
 * Runs one step on an instance started on `clock`: sends the event, or advances the clock by
 * the step's wait; then lets invoked functions of active states settle (the event loop turns
 * while their results keep arriving). The step's recorded configuration is not checked here.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../core/clock.ts";
 * import { defineMachine } from "../core/machine.ts";
 * import { applyStep } from "./paths.ts";
 * const m = defineMachine({ id: "m", initial: "a", states: { a: { after: { 500: "b" } }, b: {} } });
 * const clock = new VirtualClock();
 * const instance = m.start({ clock });
 * await applyStep(m, instance, clock, { wait: 500, configuration: ["b"], transitions: ["a#0"] });
 * // instance.configuration is ["b"]
 * ```
 */
export async function applyStep<C, E extends EventObject>(
  machine: Machine<C, E>,
  instance: MachineInstance<C, E>,
  clock: VirtualClock,
  step: PathStep,
): Promise<void> {
  if ("wait" in step) clock.advance(step.wait);
  else instance.send({ ...step.event } as E);
  await settleInvocations(machine, instance);
}

/**
 * Lets the invoked functions of the instance's active states settle: while one is active, the
 * event loop turns (a macrotask) until no new event reaches the instance. Machines without
 * invoked functions return at once.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../core/clock.ts";
 * import { defineMachine } from "../core/machine.ts";
 * import { settleInvocations } from "./paths.ts";
 * const m = defineMachine({
 *   id: "m",
 *   initial: "loading",
 *   states: {
 *     loading: { invoke: { src: async () => 42, onDone: "ready" } },
 *     ready: {},
 *   },
 * });
 * const instance = m.start({ clock: new VirtualClock() });
 * await settleInvocations(m, instance);
 * // instance.configuration is ["ready"]
 * ```
 */
export async function settleInvocations<C, E extends EventObject>(
  machine: Machine<C, E>,
  instance: MachineInstance<C, E>,
): Promise<void> {
  const invoking = invokingStates(machine);
  if (invoking === null) return;
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    if (instance.status !== "active") return;
    if (!invoking.root && !instance.configuration.some((id) => invoking.states.has(id))) return;
    const before = instance.stats.events;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    if (instance.stats.events === before) return;
  }
}

// -----------------------------------------------------------------------------------------
// The search

interface Edge {
  step: PathStep;
  to: Node;
}

interface Node {
  key: string;
  depth: number;
  parent: Node | null;
  /** The step from `parent` that discovered this node. */
  via: PathStep | null;
  configuration: string[];
  atomic: string[];
  status: InstanceStatus;
  /** Set when the node can be continued from a snapshot exactly. */
  snapshot: Snapshot | null;
  edges: Edge[];
}

interface Reach {
  /** The node the step starts from; null: entered at start. */
  from: Node | null;
  step: PathStep | null;
  to: Node;
}

interface Running<C, E extends EventObject> {
  instance: MachineInstance<C, E>;
  clock: VirtualClock;
  transitions: string[];
  entered: string[];
}

class Explorer<C, E extends EventObject> {
  readonly nodes: Node[] = [];
  readonly reached = new Map<string, Reach>();
  readonly taken = new Set<string>();
  readonly #machine: Machine<C, E>;
  readonly #options: PathOptions<C>;
  readonly #maxDepth: number;
  readonly #seen = new Map<string, Node>();
  readonly #candidates: EventObject[];
  readonly #invoking: InvokingStates | null;

  constructor(machine: Machine<C, E>, options: PathOptions<C>, maxDepth: number) {
    this.#machine = machine;
    this.#options = options;
    this.#maxDepth = maxDepth;
    this.#candidates = candidateEvents(machine, options.samples, options.events);
    this.#invoking = invokingStates(machine);
  }

  async run(done: () => boolean): Promise<void> {
    const maxStates = this.#options.maxStates ?? DEFAULT_MAX_STATES;
    const first = await this.#instantiate(null);
    const root = this.#node(first, null, null);
    for (const id of first.entered) this.#reach(id, { from: null, step: null, to: root });
    for (const id of root.configuration) this.#reach(id, { from: null, step: null, to: root });
    first.instance.stop();
    for (let i = 0; i < this.nodes.length && !done(); i++) {
      const node = this.nodes[i];
      if (node.status !== "active" || node.depth >= this.#maxDepth) continue;
      const steps: Array<EventObject | "wait"> = [...this.#candidates, "wait"];
      for (const candidate of steps) {
        if (candidate === "wait" && node.snapshot !== null && !hasTimers(node.snapshot)) continue;
        const run = await this.#instantiate(node);
        try {
          let step: PathStep;
          if (candidate === "wait") {
            const due = run.clock.nextDue();
            if (due === undefined) continue;
            step = { wait: due - run.clock.now(), configuration: [], transitions: [] };
          } else step = { event: candidate, configuration: [], transitions: [] };
          try {
            await applyStep(this.#machine, run.instance, run.clock, step);
          } catch (e) {
            if (e instanceof EventError) continue; // a payload the schema rejects
            throw new Error(
              `${this.#machine.id}: ${describeStep(step)} after ` +
                `[${stepsTo(node).map(describeStep).join(", ")}] threw: ${
                  e instanceof Error ? e.message : String(e)
                }`,
              { cause: e },
            );
          }
          const key = this.#key(run.instance);
          if (key === node.key && run.transitions.length === 0) continue; // nothing happened
          step.configuration = run.instance.configuration;
          step.transitions = run.transitions;
          for (const id of run.transitions) this.taken.add(id);
          let to = this.#seen.get(key);
          if (to === undefined) {
            if (this.nodes.length >= maxStates) continue;
            to = this.#node(run, node, step, key);
          }
          node.edges.push({ step, to });
          const reach: Reach = { from: node, step, to };
          for (const id of run.entered) this.#reach(id, reach);
          for (const id of to.configuration) this.#reach(id, reach);
        } finally {
          if (run.instance.status === "active") run.instance.stop();
        }
      }
    }
  }

  #reach(id: string, reach: Reach): void {
    if (!this.reached.has(id)) this.reached.set(id, reach);
  }

  #node(run: Running<C, E>, parent: Node | null, via: PathStep | null, key?: string): Node {
    const { instance } = run;
    const node: Node = {
      key: key ?? this.#key(instance),
      depth: parent === null ? 0 : parent.depth + 1,
      parent,
      via,
      configuration: instance.configuration,
      atomic: instance.atomicConfiguration,
      status: instance.status,
      snapshot: null,
      edges: [],
    };
    if (instance.status === "active" && this.#restorable(instance)) {
      try {
        node.snapshot = instance.snapshot();
      } catch {
        node.snapshot = null;
      }
    }
    this.#seen.set(node.key, node);
    this.nodes.push(node);
    return node;
  }

  /**
   * A snapshot continues an instance exactly when its context survives JSON and no invoked
   * function of an active state would be started again by the restore.
   */
  #restorable(instance: MachineInstance<C, E>): boolean {
    const inv = this.#invoking;
    if (inv !== null && (inv.root || instance.configuration.some((id) => inv.states.has(id)))) {
      return false;
    }
    return isPlainJson(instance.context, 0);
  }

  #key(instance: MachineInstance<C, E>): string {
    let snapshot: Snapshot;
    try {
      snapshot = instance.snapshot();
    } catch {
      // A context that is not JSON: the configuration and what can be said of the context.
      return `!${instance.status}|${instance.configuration.join(",")}|${
        safeStringify(instance.context)
      }`;
    }
    const serialize = this.#options.serialize;
    return serialize !== undefined ? serialize(snapshot) : stableStringify(observable(snapshot));
  }

  /** A fresh instance at `node` (null: just started), recording transitions and entries. */
  async #instantiate(node: Node | null): Promise<Running<C, E>> {
    const transitions: string[] = [];
    const entered: string[] = [];
    const probe: ExecutionProbe = {
      transition: (id) => transitions.push(id),
      guard: () => {},
    };
    const listener = (r: MonitorRecord) => {
      if (r.kind === "enter") entered.push(r.state);
    };
    let instance: MachineInstance<C, E>;
    let clock: VirtualClock;
    if (node !== null && node.snapshot !== null) {
      clock = new VirtualClock(node.snapshot.time);
      instance = this.#machine.restore(node.snapshot, { clock, probe, listener });
    } else {
      clock = new VirtualClock();
      instance = this.#machine.start({ clock, probe, listener, context: this.#options.context });
      await settleInvocations(this.#machine, instance);
      if (node !== null) {
        for (const step of stepsTo(node)) await applyStep(this.#machine, instance, clock, step);
      }
    }
    const running: Running<C, E> = { instance, clock, transitions, entered };
    if (node !== null) {
      // Only what the next step does counts.
      transitions.length = 0;
      entered.length = 0;
    }
    return running;
  }
}

/**
 * The shortest route from `from` through nodes not yet on the path to an edge that takes a
 * transition still uncovered (that last edge may return to a visited node, ending the path).
 */
function routeToUncovered(
  from: Node,
  visited: Set<Node>,
  budget: number,
  uncovered: Set<string>,
): Edge[] | null {
  const queue: Array<{ node: Node; route: Edge[] }> = [{ node: from, route: [] }];
  const seen = new Set<Node>([from]);
  for (let i = 0; i < queue.length; i++) {
    const { node, route } = queue[i];
    if (route.length >= budget) continue;
    const useful = node.edges.filter((e) => e.step.transitions.some((t) => uncovered.has(t)));
    const last = useful.find((e) => !visited.has(e.to)) ?? useful[0];
    if (last !== undefined) return [...route, last];
    for (const e of node.edges) {
      if (visited.has(e.to) || seen.has(e.to)) continue;
      seen.add(e.to);
      queue.push({ node: e.to, route: [...route, e] });
    }
  }
  return null;
}

function stepsTo(node: Node): PathStep[] {
  const steps: PathStep[] = [];
  for (let n: Node | null = node; n !== null && n.via !== null; n = n.parent) steps.push(n.via);
  return steps.reverse();
}

/** Every state of the chart an instance can be in (not the root, not history states). */
function chartStateIds<C, E extends EventObject>(machine: Machine<C, E>): string[] {
  const compiled = compiledOf(machine);
  return compiled.states.filter((s) => s !== compiled.root && s.kind !== "history").map((s) =>
    s.id
  );
}

interface InvokingStates {
  root: boolean;
  states: Set<string>;
}

const invokingCache = new WeakMap<object, InvokingStates | null>();

/** States with invoked functions (child machines run on the clock and need no settling). */
function invokingStates<C, E extends EventObject>(
  machine: Machine<C, E>,
): InvokingStates | null {
  if (invokingCache.has(machine)) return invokingCache.get(machine)!;
  const compiled = compiledOf(machine);
  const states = new Set<string>();
  let root = false;
  for (const s of compiled.states) {
    if (!s.invokes.some((i) => !i.isMachine)) continue;
    if (s === compiled.root) root = true;
    else states.add(s.id);
  }
  const result = root || states.size > 0 ? { root, states } : null;
  invokingCache.set(machine, result);
  return result;
}

function hasTimers(s: Snapshot): boolean {
  return s.timers.length > 0 || Object.values(s.children).some(hasTimers);
}

function isPlatformToken(token: string): boolean {
  if (token === "*") return true;
  const head = token.split(".")[0];
  return head === "done" || head === "error" || head === "after";
}

/** What makes two instances behave alike from now on (times relative to now). */
function observable(s: Snapshot): unknown {
  return {
    status: s.status,
    configuration: s.configuration,
    context: s.context,
    history: s.history,
    timers: s.timers.map((t) => [t.sendId, t.due - s.time, t.event, t.to ?? null]),
    queue: s.queue,
    deferred: s.deferred,
    when: s.when,
    children: Object.keys(s.children).sort().map((id) => [id, observable(s.children[id])]),
  };
}

function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_key, v) => {
      if (typeof v === "function") return `[function]`;
      if (typeof v === "bigint") return `${v}n`;
      if (v !== null && typeof v === "object") {
        if (seen.has(v)) return "[cycle]";
        seen.add(v);
        if (v instanceof Map) return { map: [...v.entries()] };
        if (v instanceof Set) return { set: [...v.values()] };
      }
      return v;
    }) ?? "undefined";
  } catch {
    return String(value);
  }
}

/** Whether a JSON round trip gives the value back unchanged (plain objects, arrays, finite numbers...). */
function isPlainJson(value: unknown, depth: number): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const v of Object.values(value)) if (!isPlainJson(v, depth + 1)) return false;
  return true;
}

function formatMs(ms: number): string {
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
