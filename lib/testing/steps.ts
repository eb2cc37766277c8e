/**
 * Paths as tests: `testPaths` turns each path into a `Deno.test` step that replays it on a
 * fresh instance with a virtual clock, checks the configuration after every step, and records
 * coverage. When the chart changes so that a path no longer holds, the step fails with a
 * `PathMismatchError` saying which step went elsewhere.
 *
 * @module
 */
import type { EventObject, MachineInstance } from "../core/types.ts";
import { VirtualClock } from "../core/clock.ts";
import type { Machine } from "../core/machine.ts";
import {
  applyStep,
  describePath,
  describeStep,
  type Path,
  type PathOptions,
  settleInvocations,
  shortestPaths,
  type SimplePathOptions,
  simplePaths,
} from "./paths.ts";
import { type CoverageReport, type CoverageTracker, trackCoverage } from "./coverage.ts";

/**
 * Thrown when replaying a path leads elsewhere than the path recorded: the chart, or the code
 * its guards and actions run, changed since the path was made.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { PathMismatchError, runPath } from "./steps.ts";
 * const m = defineMachine({ id: "m", initial: "a", states: { a: { on: { GO: "b" } }, b: {} } });
 * try {
 *   await runPath(m, {
 *     state: "c",
 *     configuration: ["c"],
 *     steps: [{ event: { type: "GO" }, configuration: ["c"], transitions: ["a#0"] }],
 *   });
 * } catch (e) {
 *   if (!(e instanceof PathMismatchError)) throw e;
 *   // e.step is 0, e.expected is ["c"], e.actual is ["b"]
 * }
 * ```
 */
export class PathMismatchError extends Error {
  /** The path replayed. */
  readonly path: Path;
  /** Index of the step after which the configuration differed; -1: at start. */
  readonly step: number;
  /** The configuration the path recorded there. */
  readonly expected: string[];
  /** The configuration the instance was in. */
  readonly actual: string[];

  /**
   * Made by `runPath` when a configuration differs from the recorded one.
   *
   * @param machineId the machine's id, for the message.
   * @param path the path replayed.
   * @param step index of the step after which it differed (-1: at start).
   * @param expected the recorded configuration.
   * @param actual the instance's configuration.
   */
  constructor(
    machineId: string,
    path: Path,
    step: number,
    expected: string[],
    actual: string[],
  ) {
    const where = step < 0
      ? "at start"
      : `after step ${step + 1} of ${path.steps.length} (${describeStep(path.steps[step])})`;
    super(
      `machine "${machineId}", path "${describePath(path)}": ${where} the configuration is ` +
        `[${actual.join(", ")}], but the path recorded [${expected.join(", ")}]. The chart ` +
        "(or the code of its guards and actions) changed since the path was made: make the " +
        "paths again, or fix the change.",
    );
    this.name = "PathMismatchError";
    this.path = path;
    this.step = step;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Options of `runPath`. */
export interface RunPathOptions<C = Record<string, unknown>, E extends EventObject = EventObject> {
  /** Start the instance through this tracker, so the run counts towards its coverage. */
  coverage?: CoverageTracker<C, E>;
  /** Overrides the machine's initial context (use the one the paths were made with). */
  context?: Partial<C>;
}

/**
 * Replays a path on a fresh instance with a `VirtualClock`: after each step (and once invoked
 * functions settled) the configuration must be the one recorded, else it throws a
 * `PathMismatchError`. Returns the instance, still running, and its clock.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { shortestPaths } from "./paths.ts";
 * import { runPath } from "./steps.ts";
 * const m = defineMachine({ id: "m", initial: "a", states: { a: { on: { GO: "b" } }, b: {} } });
 * for (const path of await shortestPaths(m)) {
 *   const { instance } = await runPath(m, path);
 *   instance.stop();
 * }
 * ```
 */
export async function runPath<C, E extends EventObject>(
  machine: Machine<C, E>,
  path: Path,
  options: RunPathOptions<C, E> = {},
): Promise<{ instance: MachineInstance<C, E>; clock: VirtualClock }> {
  const clock = new VirtualClock();
  const startOptions = { clock, context: options.context };
  const instance = options.coverage !== undefined
    ? options.coverage.start(startOptions)
    : machine.start(startOptions);
  try {
    await settleInvocations(machine, instance);
    const check = (i: number, expected: string[]) => {
      const actual = instance.configuration;
      if (!sameList(actual, expected)) {
        throw new PathMismatchError(machine.id, path, i, expected, actual);
      }
    };
    if (path.steps.length === 0) check(-1, path.configuration);
    for (let i = 0; i < path.steps.length; i++) {
      const step = path.steps[i];
      await applyStep(machine, instance, clock, step);
      check(i, step.configuration);
    }
  } catch (e) {
    if (instance.status === "active") instance.stop();
    throw e;
  }
  return { instance, clock };
}

/** The test context `testPaths` needs: `Deno.TestContext` has it. */
export interface StepContext {
  /** Runs a named sub-step; resolves to whether it passed. */
  step(name: string, fn: () => void | Promise<void>): Promise<boolean>;
}

/** Options of `testPaths`: how paths are made (when asked by name) and checked. */
export interface TestPathsOptions<C = Record<string, unknown>, E extends EventObject = EventObject>
  extends SimplePathOptions<C> {
  /** The tracker the replays count towards (default: a new one for the machine). */
  coverage?: CoverageTracker<C, E>;
  /** More checks after a path was replayed (the instance is stopped afterwards). */
  assert?: (instance: MachineInstance<C, E>, path: Path) => void | Promise<void>;
  /** The name of each step (default: `describePath`, `reaches X via A, B{key}`). */
  name?: (path: Path) => string;
}

/**
 * Replays each path as a test step (`t.step`) named after it, `reaches secure.locked via
 * OPEN, CLOSE, LOCK{code}`: a fresh instance on a virtual clock, the configuration checked
 * after every step, then `options.assert`. `paths` is a list (from `shortestPaths`,
 * `simplePaths`, or saved earlier), or `"shortest"` / `"simple"` to make them now with
 * `options` (samples, maxStates...). Resolves to the coverage of the replays; the steps fail
 * on their own, so the test fails when any path does.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../core/machine.ts";
 * import { testPaths } from "./steps.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "opened" } }, opened: { on: { CLOSE: "closed" } } },
 * });
 * Deno.test("door paths", async (t) => {
 *   const report = await testPaths(t, door, "simple");
 *   if (report.transitions.covered !== 2) throw new Error("a transition was not taken");
 * });
 * ```
 */
export async function testPaths<C, E extends EventObject>(
  t: StepContext,
  machine: Machine<C, E>,
  paths: readonly Path[] | "shortest" | "simple",
  options: TestPathsOptions<C, E> = {},
): Promise<CoverageReport> {
  const coverage = options.coverage ?? trackCoverage(machine);
  const list = paths === "shortest"
    ? await shortestPaths(machine, options as PathOptions<C>)
    : paths === "simple"
    ? await simplePaths(machine, options)
    : paths;
  const name = options.name ?? describePath;
  for (const path of list) {
    await t.step(name(path), async () => {
      const { instance } = await runPath(machine, path, {
        coverage,
        context: options.context,
      });
      try {
        await options.assert?.(instance, path);
      } finally {
        if (instance.status === "active") instance.stop();
      }
    });
  }
  return coverage.report();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
