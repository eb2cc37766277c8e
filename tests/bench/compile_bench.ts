/**
 * Define time: `defineMachine` of a big chart (checking and compiling the config, the work done
 * once per machine when a script loads), and of the bundled vending machine. The big chart has
 * 24 compound states of 24 children each (625 states): sibling transitions by key, jumps across
 * the chart by id, a parallel block, shallow and deep histories, delays, guards by name.
 *
 * Run: `deno bench tests/bench/compile_bench.ts`.
 *
 * @module
 */
import { defineMachine, type MachineConfig } from "../../mod.ts";
import { vendingMachine } from "../../examples/vending_machine.ts";

/** Groups and children per group of the big chart. */
const GROUPS = 24;
const CHILDREN = 24;

// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

/** The big chart. */
function bigChart(): MachineConfig {
  const states: Config = {};
  for (let g = 0; g < GROUPS; g++) {
    const children: Config = {
      hist: { type: "history", history: g % 2 === 0 ? "deep" : "shallow" },
    };
    for (let c = 0; c < CHILDREN; c++) {
      const next = `s${(c + 1) % CHILDREN}`;
      children[`s${c}`] = {
        entry: "count",
        on: {
          NEXT: next,
          [`JUMP.${c}`]: { target: `#g${(g + 1) % GROUPS}.s${c}`, guard: "allowed" },
          BACK: `s${(c + CHILDREN - 1) % CHILDREN}`,
        },
        after: c % 6 === 0 ? { "2s": next } : undefined,
      };
    }
    states[`g${g}`] = {
      initial: "s0",
      on: { [`GROUP.${g}`]: `g${(g + 1) % GROUPS}.hist`, "ESC.*": "#big.idle" },
      states: children,
    };
  }
  states.idle = { on: { START: "g0" } };
  states.both = {
    type: "parallel",
    states: {
      left: { initial: "a", states: { a: { on: { L: "b" } }, b: {} } },
      right: { initial: "a", states: { a: { on: { R: "b" } }, b: { on: { DONE: "#big.idle" } } } },
    },
  };
  return {
    id: "big",
    initial: "idle",
    guards: { allowed: () => true },
    actions: { count: () => {} },
    on: { BOTH: ".both" },
    states,
  } as MachineConfig;
}

// Built once: compiling reads the config and never changes it.
const big = bigChart();
const bigStates = defineMachine(big);
if (bigStates.warnings.length > 0) {
  throw new Error(`the big chart has warnings: ${JSON.stringify(bigStates.warnings)}`);
}

Deno.bench({
  name: `defineMachine: a chart of ${GROUPS * (CHILDREN + 2) + 9} states`,
  group: "define time",
  baseline: true,
  fn() {
    defineMachine(big);
  },
});

Deno.bench({
  name: "defineMachine: the vending machine",
  group: "define time",
  fn() {
    defineMachine(vendingMachine.config);
  },
});
