/**
 * Turns a machine config into the compiled model the interpreter runs (`compiled_types.ts`).
 * Every problem of the definition is collected, with its path in the config, before anything
 * runs. The passes, over one `CompileContext`:
 *
 * 1. the machine's own sections (`compile_sections.ts`);
 * 2. the state tree, in document order, with each state's transitions (`compile_states.ts`,
 *    `compile_transitions.ts`);
 * 3. target names to states (`compile_targets.ts`);
 * 4. transition domains (`compile_domains.ts`);
 * 5. reachability (`compile_reachability.ts`);
 * 6. the structural hash (`compile_hash.ts`).
 *
 * @module
 */
import type { EventObject, MachineConfig } from "./types.ts";
import type { CompiledMachine } from "./compiled_types.ts";
import { CompileContext, isObject, makeNode } from "./compile_context.ts";
import { checkSections } from "./compile_sections.ts";
import { compileInvokeDefaults } from "./retry.ts";
import { buildState } from "./compile_states.ts";
import { resolveTargets } from "./compile_targets.ts";
import { computeDomains } from "./compile_domains.ts";
import { checkReachability } from "./compile_reachability.ts";
import { hashDefinition } from "./compile_hash.ts";

export type {
  ActionFn,
  AfterTimer,
  CompiledMachine,
  EntrySet,
  GuardFn,
  Invocation,
  NodeKind,
  StateNode,
  Transition,
} from "./compiled_types.ts";
export { computeDomain, findLCCA, isDescendant } from "./compile_domains.ts";

let readCompiled: ((machine: object) => CompiledMachine) | undefined;

/** @internal Called once by `Machine`: how to read a machine's compiled model. */
export function setCompiledReader(read: (machine: object) => CompiledMachine): void {
  readCompiled = read;
}

/**
 * The compiled model of a `Machine` (a TypeError for anything else). Internal to Statecraft:
 * not exported by `core.ts` or `mod.ts`, its shape changes with the engine.
 */
export function compiledOf(machine: object): CompiledMachine {
  return readCompiled!(machine);
}

/** Compiles a machine config; problems are returned, never thrown. */
export function compileMachine<C, E extends EventObject>(
  config: MachineConfig<C, E>,
): CompiledMachine {
  const ctx = new CompileContext();
  if (!isObject(config as unknown)) {
    ctx.error([], "a machine definition must be an object");
    const root = makeNode(0, "", "", "atomic", null, [], {});
    return {
      id: "",
      root,
      states: [root],
      byId: new Map(),
      transitions: [],
      problems: ctx.problems,
      hasDefer: false,
      hasWhen: false,
      hasEventless: false,
      hash: "0",
    };
  }
  checkSections(ctx, config as MachineConfig);
  ctx.invokeDefaults = compileInvokeDefaults(ctx, (config as MachineConfig).invokeDefaults);
  const root = buildState(ctx, config, ctx.machineId, null, []);
  // A root without states: reported here, unless its `states` was malformed (reported there).
  if (root.kind === "atomic" && (config.states === undefined || isObject(config.states))) {
    ctx.error(["states"], "a machine needs at least one state");
  }
  resolveTargets(ctx);
  computeDomains(ctx, root);
  checkReachability(ctx, root);
  const { states } = ctx;
  return {
    id: ctx.machineId,
    root,
    states,
    byId: ctx.byId,
    transitions: ctx.transitions,
    problems: ctx.problems,
    hasDefer: ctx.hasDefer,
    hasWhen: ctx.hasWhen,
    hasEventless: states.some((s) => s.eventless.length > 0),
    hash: hashDefinition(states),
  };
}
