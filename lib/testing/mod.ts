/**
 * The testing kit (`@statecraft/statecraft/testing`): a store or runtime on one virtual
 * clock, and stored journals replayed under a new definition before it is deployed; paths
 * from the chart (`shortestPaths`, `simplePaths`, `testPaths`) and chart coverage
 * (`trackCoverage`, `formatCoverage`, `statecraft test`).
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { testStore } from "./mod.ts";
 *
 * const kettle = defineMachine({
 *   id: "kettle",
 *   initial: "heating",
 *   states: { heating: { after: { "3m": "boiled" } }, boiled: {} },
 * });
 * await using t = await testStore({ machines: [kettle] });
 * await t.store.create("kettle", "k1");
 * await t.settle();
 * ```
 *
 * @module
 */
export {
  DEFAULT_MAX_ROUNDS,
  DEFAULT_START,
  SettleError,
  type SettleOptions,
  type TestRuntime,
  testRuntime,
  type TestRuntimeOptions,
  type TestStore,
  testStore,
  type TestStoreOptions,
  type VirtualTime,
} from "./harness.ts";
export {
  type ConfigurationDifference,
  type MissingMigration,
  type ReplayDifference,
  type ReplayFailure,
  replayJournals,
  type ReplayJournalsOptions,
  type ReplayReport,
} from "./replay.ts";
export {
  applyStep,
  candidateEvents,
  describePath,
  describeStep,
  type EventSamples,
  type EventStep,
  type Path,
  type PathOptions,
  type PathStep,
  settleInvocations,
  shortestPaths,
  type SimplePathOptions,
  simplePaths,
  type WaitStep,
} from "./paths.ts";
export {
  type CoverageCount,
  type CoverageReport,
  coverageReports,
  CoverageTracker,
  formatCoverage,
  type GuardCoverage,
  mergeCoverage,
  trackCoverage,
} from "./coverage.ts";
export {
  PathMismatchError,
  runPath,
  type RunPathOptions,
  type StepContext,
  testPaths,
  type TestPathsOptions,
} from "./steps.ts";
// The types the kit's signatures use (store, runtime, machine, clock...), for documentation.
export type * from "../../mod.ts";
