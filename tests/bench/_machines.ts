/**
 * The machines of the benchmarks (issue #2), the event batches, and the checks that both
 * engines behave the same. Each machine is one plain config, handed unchanged to Statecraft's
 * `defineMachine` and to XState v5's `createMachine` (the vocabulary is the same: `initial`,
 * `states`, `on`, `type: "parallel"`, `type: "history"` with `history: "deep"`). Private to
 * `tests/bench/`.
 *
 * @module
 */
import {
  defineMachine,
  type Machine,
  type MachineConfig,
  type MachineInstance,
} from "../../mod.ts";
import { type AnyActor, type AnyStateMachine, createActor, createMachine } from "xstate";

/** Events sent per bench iteration. */
export const BATCH = 1_000;

/** An event object (shared by both engines). */
export type Ev = { type: string };

// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

/** `count` events made by repeating `cycle`; the objects are shared, so no allocation is timed. */
export function batch(cycle: readonly string[], count: number = BATCH): Ev[] {
  const objects = new Map(cycle.map((type) => [type, { type }]));
  const out: Ev[] = [];
  for (let i = 0; i < count; i++) out.push(objects.get(cycle[i % cycle.length])!);
  return out;
}

/** A machine of the benchmarks: its config, built fresh for each engine. */
export interface BenchMachine {
  name: string;
  config: () => Config;
}

/** The Statecraft machine of a config. */
export function statecraft(config: Config): Machine {
  return defineMachine(config as MachineConfig);
}

/** The XState v5 machine of a config. */
export function xstate(config: Config): AnyStateMachine {
  return createMachine(config);
}

// -------------------------------------------------------------------------------------------
// (1) Traffic light: green -> yellow -> red on TIMER; red has walk -> wait -> stop on PED_TIMER.
// Every event of the cycle takes a transition; 1,000 events are 200 cycles, back to green.

/** The event cycle of the traffic light: each event takes exactly one transition. */
export const TRAFFIC_CYCLE = ["TIMER", "TIMER", "PED_TIMER", "PED_TIMER", "TIMER"] as const;

/** The traffic light. */
export const traffic: BenchMachine = {
  name: "traffic light",
  config: () => ({
    id: "light",
    initial: "green",
    states: {
      green: { on: { TIMER: "yellow" } },
      yellow: { on: { TIMER: "red" } },
      red: {
        initial: "walk",
        on: { TIMER: "green" },
        states: {
          walk: { on: { PED_TIMER: "wait" } },
          wait: { on: { PED_TIMER: "stop" } },
          stop: {},
        },
      },
    },
  }),
};

// -------------------------------------------------------------------------------------------
// (2) Eight parallel regions, each a 3-state cycle a -> b -> c -> a on NEXT: every event
// takes 8 transitions (one microstep with 8 transitions in both engines).

/** Number of parallel regions. */
export const REGIONS = 8;
/** The event cycle of the parallel machine. */
export const PARALLEL_CYCLE = ["NEXT"] as const;

/** The 8-region parallel machine. */
export const parallel: BenchMachine = {
  name: `${REGIONS} parallel regions`,
  config: () => {
    const states: Config = {};
    for (let r = 0; r < REGIONS; r++) {
      states[`r${r}`] = {
        initial: "a",
        states: {
          a: { on: { NEXT: "b" } },
          b: { on: { NEXT: "c" } },
          c: { on: { NEXT: "a" } },
        },
      };
    }
    return { id: "par", type: "parallel", states };
  },
};

// -------------------------------------------------------------------------------------------
// (3) Deep hierarchy with deep history: `deep` > l2 > ... > l7 > (a | b), so the atomic state
// sits at depth 8. STEP moves a -> b once (before timing); then LEAVE (on `deep`, found by
// walking up 7 ancestors) exits all 8 levels to `outside`, and RETURN re-enters all 8 through
// the deep history `deep.hist`, which must restore `b` (not the default `a`).

/** Depth of the atomic state under the root. */
export const DEPTH = 8;
/** The event cycle of the deep-history machine (after one `STEP`). */
export const DEEP_CYCLE = ["LEAVE", "RETURN"] as const;
/** The atomic state the deep history must restore, as a dotted path. */
export const DEEP_LEAF = ["deep", "l2", "l3", "l4", "l5", "l6", "l7", "b"].join(".");

/** The depth-8 machine with a deep history. */
export const deepHistory: BenchMachine = {
  name: `depth ${DEPTH} + deep history`,
  config: () => {
    // l7 holds the atomic states a and b (depth 8); each l<n> holds l<n+1>, up to l2.
    let node: Config = { initial: "a", states: { a: { on: { STEP: "b" } }, b: {} } };
    for (let level = DEPTH - 2; level >= 2; level--) {
      node = { initial: `l${level + 1}`, states: { [`l${level + 1}`]: node } };
    }
    return {
      id: "history8",
      initial: "deep",
      states: {
        outside: { on: { RETURN: "deep.hist" } },
        deep: {
          initial: "l2",
          on: { LEAVE: "outside" },
          states: { hist: { type: "history", history: "deep" }, l2: node },
        },
      },
    };
  },
};

// -------------------------------------------------------------------------------------------
// Door (memory benchmark): 3 states and a small context.

/** The door's initial context. */
export function doorContext(): { opened: number; lockCode: number; owner: string } {
  return { opened: 0, lockCode: 0, owner: "bench" };
}

/** The door. */
export const door: BenchMachine = {
  name: "door",
  config: () => ({
    id: "door",
    initial: "closed",
    context: doorContext,
    states: {
      closed: { on: { OPEN: "open", LOCK: "locked" } },
      open: { on: { CLOSE: "closed" } },
      locked: { on: { UNLOCK: "closed" } },
    },
  }),
};

// -------------------------------------------------------------------------------------------
// Equivalence checks.

/** XState's state value as sorted dotted paths of its atomic states. */
export function xstateLeaves(actor: AnyActor): string[] {
  const out: string[] = [];
  const walk = (value: unknown, prefix: string) => {
    if (typeof value === "string") out.push(prefix + value);
    else {
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        walk(child, `${prefix}${key}.`);
      }
    }
  };
  walk(actor.getSnapshot().value, "");
  return out.sort();
}

/** Statecraft's atomic configuration, sorted. */
export function statecraftLeaves(instance: MachineInstance): string[] {
  return [...instance.atomicConfiguration].sort();
}

/** A copy of a config whose every state logs `enter <path>` and `exit <path>` into `log`. */
function traced(config: Config, log: string[]): Config {
  const copy = (state: Config, path: string): Config => {
    if (state.type === "history") return { ...state };
    const out: Config = {
      ...state,
      entry: () => log.push(`enter ${path}`),
      exit: () => log.push(`exit ${path}`),
    };
    if (state.states !== undefined) {
      out.states = {};
      for (const [key, child] of Object.entries(state.states as Config)) {
        out.states[key] = copy(child, path === "" ? key : `${path}.${key}`);
      }
    }
    return out;
  };
  const root = copy(config, "");
  delete root.entry;
  delete root.exit;
  return root;
}

/**
 * Sends `events` to a fresh instance of each engine and throws at the first event after which
 * their atomic configurations differ. Traced copies of the machine are run too, and must
 * enter and exit the same states in the same order (so neither engine does more or less work
 * than the other, e.g. re-entering a state the other keeps). A broken machine therefore
 * cannot produce a figure. Returns the two running (untraced) instances.
 */
export function assertSameRun(
  machine: BenchMachine,
  events: readonly Ev[],
): { statecraft: MachineInstance; xstate: AnyActor } {
  const i = statecraft(machine.config()).start();
  const a = createActor(xstate(machine.config())).start();
  const scLog: string[] = [];
  const xsLog: string[] = [];
  const ti = statecraft(traced(machine.config(), scLog)).start();
  const ta = createActor(xstate(traced(machine.config(), xsLog))).start();
  const check = (after: string) => {
    const left = statecraftLeaves(i).join(", ");
    const right = xstateLeaves(a).join(", ");
    const tracedLeft = statecraftLeaves(ti).join(", ");
    if (left !== right || left !== tracedLeft) {
      throw new Error(
        `bench "${machine.name}": engines diverge ${after}: ` +
          `Statecraft [${left}] (traced: [${tracedLeft}]), XState [${right}]`,
      );
    }
    const scSteps = scLog.join(", ");
    const xsSteps = xsLog.join(", ");
    if (scSteps !== xsSteps) {
      throw new Error(
        `bench "${machine.name}": engines enter/exit differently ${after}:\n` +
          `  Statecraft: ${scSteps}\n  XState:     ${xsSteps}`,
      );
    }
    scLog.length = 0;
    xsLog.length = 0;
  };
  check("at start");
  events.forEach((e, n) => {
    i.send(e);
    a.send(e);
    ti.send(e);
    ta.send(e);
    check(`after event ${n + 1} (${e.type})`);
  });
  return { statecraft: i, xstate: a };
}
