/**
 * A build pipeline with recovery: the phases of a CI build as a statechart.
 *
 * The phases and their allowed transitions are those of a build-state framework's table:
 *
 * ```text
 * INIT -> SETUP -> BUILD -> TEST -> CLEANUP -> COMPLETE
 * every phase -> ERROR;  ERROR -> INIT (retry) | the failed phase (resume) | CLEANUP (abort)
 * ```
 *
 * What it shows:
 * - The phases are children of one `running` state, so a single `FAIL` transition on
 *   `running` makes ERROR reachable from every phase, and so does `error.execution` (an
 *   action that throws, here `ARTIFACT` with an empty path).
 * - Transition validation as guards: `BUILD_DONE` with no artifact goes to ERROR, not TEST.
 * - Recovery: `RETRY` restarts from INIT with a clean slate; `RESUME` goes back through the
 *   history state `running.failed_phase` to the phase that failed, keeping what was done; both
 *   are guarded by a retry limit. `ABORT` gives up and goes to CLEANUP, which releases the
 *   resources either way.
 * - The context is the build's state record (resources, artifacts, dependencies, checkpoints,
 *   errors), and COMPLETE is a final state whose `output` is the build report.
 * - Being plain JSON, the whole record (history included) survives `snapshot()`/`restore()`:
 *   a pipeline can be resumed by another process after a crash.
 *
 * Run it: a failure in SETUP, resumed there, a second failure, a retry from INIT, and a third
 * failure that finds the retries used up; then a whole build from `build_pipeline.events.jsonl`
 * (events with payloads), whose tests fail once before a RESUME:
 *
 * ```sh
 * deno task statecraft run examples/build_pipeline.ts --events START,FAIL,RESUME,FAIL,RETRY,FAIL,RETRY
 * deno task statecraft run examples/build_pipeline.ts \
 *   --events-file examples/build_pipeline.events.jsonl
 * ```
 *
 * @module
 */
import { type ActionArgs, assign, defineMachine, type EventObject, type Machine } from "../core.ts";

/** The phases, in order. */
export const PHASES = ["init", "setup", "build", "test", "cleanup"] as const;

/** One of the build phases. */
export type BuildPhase = typeof PHASES[number];

/** Where the build stands. */
export type BuildStatus = "pending" | "running" | "failed" | "succeeded" | "aborted";

/** A failure, as recorded in the context. */
export interface BuildFailure {
  phase: BuildPhase;
  reason: string;
}

/** The build's state record. */
export interface BuildState {
  buildId: string;
  /** The phase entered last (during ERROR: the phase that failed). */
  phase: BuildPhase;
  status: BuildStatus;
  /** Allocated resources (workers, cache directories...), released by CLEANUP. */
  resources: Record<string, unknown>;
  /** Artifact paths produced by BUILD. */
  artifacts: string[];
  /** Resolved dependencies (name -> version), from SETUP. */
  dependencies: Record<string, string>;
  /** One entry per phase entered, `"<phase>#<attempt>"`: the audit trail of the run. */
  checkpoints: string[];
  /** Every failure, oldest first. */
  errors: BuildFailure[];
  /** Recoveries used (RETRY or RESUME). */
  retries: number;
  /** Recoveries allowed. */
  maxRetries: number;
  /** Names of the resources CLEANUP released. */
  released: string[];
}

/** The report COMPLETE hands back as the machine's output. */
export interface BuildReport {
  buildId: string;
  status: "succeeded" | "aborted";
  artifacts: string[];
  released: string[];
  retries: number;
  errors: BuildFailure[];
  checkpoints: string[];
}

type Args = ActionArgs<BuildState, EventObject>;

/** Entry action of every phase: notes the phase and appends a checkpoint. */
function enterPhase(phase: BuildPhase) {
  return assign<BuildState>({
    phase,
    checkpoints: ({ context }) => [...context.checkpoints, `${phase}#${context.retries + 1}`],
  });
}

/**
 * Records why the build failed. It runs as a transition action, after the failed phase has
 * been exited (SCXML order: exit, transition actions, entry), so the phase comes from the
 * context, not from `matches`.
 */
function recordFailure(reason: (args: Args) => string) {
  return assign<BuildState>((args) => ({
    status: "failed",
    errors: [...args.context.errors, { phase: args.context.phase, reason: reason(args) }],
  }));
}

function reasonOf(event: EventObject): string {
  if (typeof event.reason === "string") return event.reason;
  const error = event.error as { message?: unknown } | undefined;
  if (typeof error?.message === "string") return error.message;
  return event.type;
}

/** Releases every allocated resource (CLEANUP, and RETRY before it starts over). */
const releaseResources = assign<BuildState>(({ context }) => ({
  released: [...context.released, ...Object.keys(context.resources)],
  resources: {},
}));

/** The build pipeline machine. */
export const buildPipeline: Machine<BuildState> = defineMachine<BuildState>({
  id: "build_pipeline",
  description: "INIT -> SETUP -> BUILD -> TEST -> CLEANUP -> COMPLETE, with ERROR and recovery.",
  context: () => ({
    buildId: "build-1",
    phase: "init",
    status: "pending",
    resources: {},
    artifacts: [],
    dependencies: {},
    released: [],
    checkpoints: [],
    errors: [],
    retries: 0,
    maxRetries: 2,
  }),
  guards: {
    canRecover: ({ context }) => context.retries < context.maxRetries,
    hasArtifacts: ({ context }) => context.artifacts.length > 0,
  },
  actions: {
    countRetry: assign<BuildState>({
      retries: ({ context }) => context.retries + 1,
      status: "running",
    }),
  },
  initial: "running",
  states: {
    running: {
      // Transitions written here apply in every phase: ERROR is reachable from all of them.
      on: {
        FAIL: { target: "error", actions: recordFailure(({ event }) => reasonOf(event)) },
        "error.execution": {
          target: "error",
          actions: recordFailure(({ event }) => `internal error: ${reasonOf(event)}`),
        },
      },
      initial: "init",
      states: {
        init: {
          entry: enterPhase("init"),
          on: { START: { target: "setup", actions: assign<BuildState>({ status: "running" }) } },
        },
        setup: {
          entry: enterPhase("setup"),
          on: {
            RESOURCES_READY: {
              target: "build",
              actions: assign(({ context, event }) => ({
                resources: { ...context.resources, ...(event.resources as object) },
                dependencies: { ...context.dependencies, ...(event.dependencies as object) },
              })),
            },
          },
        },
        build: {
          entry: enterPhase("build"),
          on: {
            ARTIFACT: {
              actions: ({ context, event }) => {
                const path = event.path;
                if (typeof path !== "string" || path === "") {
                  throw new TypeError(`ARTIFACT needs a non-empty "path", got ${String(path)}`);
                }
                context.artifacts = [...context.artifacts, path];
              },
            },
            BUILD_DONE: [
              { target: "test", guard: "hasArtifacts" },
              {
                target: "#build_pipeline.error",
                actions: recordFailure(() => "the build produced no artifacts"),
              },
            ],
          },
        },
        test: {
          entry: enterPhase("test"),
          on: {
            TESTS_PASSED: "cleanup",
            TESTS_FAILED: {
              target: "#build_pipeline.error",
              actions: recordFailure(({ event }) => `tests failed: ${reasonOf(event)}`),
            },
          },
        },
        cleanup: {
          entry: [
            enterPhase("cleanup"),
            releaseResources,
          ],
          on: { CLEANED: "#build_pipeline.complete" },
        },
        // Where RESUME goes back to: the phase that was active when the build failed.
        failed_phase: { type: "history", history: "shallow" },
      },
    },
    error: {
      on: {
        RETRY: {
          target: "running.init",
          guard: "canRecover",
          actions: [
            "countRetry",
            releaseResources,
            assign<BuildState>({ artifacts: [], dependencies: {} }),
          ],
        },
        RESUME: { target: "running.failed_phase", guard: "canRecover", actions: "countRetry" },
        ABORT: { target: "running.cleanup", actions: assign<BuildState>({ status: "aborted" }) },
      },
    },
    complete: {
      type: "final",
      output: ({ context }): BuildReport => ({
        buildId: context.buildId,
        status: context.status === "aborted" ? "aborted" : "succeeded",
        artifacts: context.artifacts,
        released: context.released,
        retries: context.retries,
        errors: context.errors,
        checkpoints: context.checkpoints,
      }),
    },
  },
});

export default buildPipeline;
