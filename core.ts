/**
 * The statechart engine alone: `defineMachine`, instances, clocks, action creators, errors,
 * diagrams. Pure TypeScript with no Deno API and no I/O, and light to load (machine scripts
 * that import this start several times faster than through `mod.ts`, which also loads the
 * store, plugins, runtime and SCXML). `mod.ts` re-exports all of it.
 *
 * @example
 * ```ts
 * import { defineMachine } from "./core.ts";
 * const toggle = defineMachine({ id: "toggle", states: { off: { on: { FLIP: "on" } }, on: { on: { FLIP: "off" } } } });
 * const t = toggle.start();
 * t.send("FLIP");
 * ```
 *
 * @module
 */
export * from "./lib/core/types.ts";
export { defineMachine, Machine, validateMachine } from "./lib/core/machine.ts";
export { Instance, LivelockError } from "./lib/core/interpreter.ts";
export {
  DefinitionError,
  type DefinitionProblem,
  EventError,
  formatPath,
  type LivelockDetails,
  SnapshotError,
} from "./lib/core/errors.ts";
export { SystemClock, VirtualClock } from "./lib/core/clock.ts";
export {
  assign,
  cancel,
  log,
  raise,
  send,
  sendParent,
  type ValueOrFn,
} from "./lib/core/actions.ts";
export { parseDuration } from "./lib/core/duration.ts";
export { type DiagramSource, toDot, toMermaid } from "./lib/core/diagram.ts";
