import assert from "node:assert/strict";
import { type EventInput, type MachineInstance, VirtualClock } from "../../mod.ts";
import buildPipelineDefault, {
  type BuildPhase,
  buildPipeline,
  type BuildReport,
  type BuildState,
} from "../../examples/build_pipeline.ts";

type Build = MachineInstance<BuildState>;

const TO_PHASE: Record<BuildPhase, EventInput[]> = {
  init: [],
  setup: ["START"],
  build: ["START", { type: "RESOURCES_READY", resources: { workers: 4, cache: "/tmp/cache" } }],
  test: [
    "START",
    { type: "RESOURCES_READY", resources: { workers: 4, cache: "/tmp/cache" } },
    { type: "ARTIFACT", path: "dist/app.js" },
    "BUILD_DONE",
  ],
  cleanup: [
    "START",
    { type: "RESOURCES_READY", resources: { workers: 4, cache: "/tmp/cache" } },
    { type: "ARTIFACT", path: "dist/app.js" },
    "BUILD_DONE",
    "TESTS_PASSED",
  ],
};

function startAt(phase: BuildPhase, context: Partial<BuildState> = {}): Build {
  const build = buildPipeline.start({ clock: new VirtualClock(), context });
  for (const event of TO_PHASE[phase]) build.send(event);
  assert.deepEqual(build.configuration, ["running", `running.${phase}`]);
  return build;
}

Deno.test("build_pipeline: the default export is the named machine", () => {
  assert.equal(buildPipelineDefault, buildPipeline);
  assert.deepEqual(buildPipeline.warnings, []);
});

Deno.test("build_pipeline: the happy path ends in COMPLETE with a build report", () => {
  const build = buildPipeline.start({ clock: new VirtualClock(), context: { buildId: "b-42" } });
  assert.deepEqual(build.configuration, ["running", "running.init"]);
  assert.equal(build.context.status, "pending");
  build.send("START");
  build.send({
    type: "RESOURCES_READY",
    resources: { workers: 4, cache: "/tmp/cache" },
    dependencies: { zod: "4.6.7" },
  });
  assert.deepEqual(build.context.dependencies, { zod: "4.6.7" });
  build.send({ type: "ARTIFACT", path: "dist/app.js" });
  build.send({ type: "ARTIFACT", path: "dist/app.js.map" });
  build.send("BUILD_DONE");
  build.send("TESTS_PASSED");
  assert.deepEqual(build.context.resources, {}, "cleanup released the resources");
  build.send("CLEANED");

  assert.equal(build.status, "done");
  const report: BuildReport = {
    buildId: "b-42",
    status: "succeeded",
    artifacts: ["dist/app.js", "dist/app.js.map"],
    released: ["workers", "cache"],
    retries: 0,
    errors: [],
    checkpoints: ["init#1", "setup#1", "build#1", "test#1", "cleanup#1"],
  };
  assert.deepEqual(build.output, report);
});

Deno.test("build_pipeline: each phase accepts only its table's transitions", () => {
  const accepted: Record<BuildPhase, string[]> = {
    init: ["START"],
    setup: ["RESOURCES_READY"],
    build: ["ARTIFACT", "BUILD_DONE"],
    test: ["TESTS_FAILED", "TESTS_PASSED"],
    cleanup: ["CLEANED"],
  };
  for (const [phase, events] of Object.entries(accepted)) {
    const build = startAt(phase as BuildPhase);
    // FAIL and error.execution are written on `running`, so every phase accepts them.
    const expected = [...events, "FAIL", "error.execution"].sort();
    assert.deepEqual(build.acceptedEvents(), expected, phase);
  }
  const build = startAt("setup");
  build.send("TESTS_PASSED");
  build.send("CLEANED");
  assert.deepEqual(build.atomicConfiguration, ["running.setup"], "out-of-order events are ignored");
});

Deno.test("build_pipeline: ERROR is reachable from every phase and records which one failed", () => {
  for (const phase of ["init", "setup", "build", "test", "cleanup"] as const) {
    const build = startAt(phase);
    build.send({ type: "FAIL", reason: `disk full in ${phase}` });
    assert.deepEqual(build.configuration, ["error"], phase);
    assert.equal(build.context.status, "failed");
    assert.deepEqual(build.context.errors, [{ phase, reason: `disk full in ${phase}` }]);
  }
});

Deno.test("build_pipeline: RESUME returns to the phase that failed, keeping its work", () => {
  const build = startAt("test");
  build.send({ type: "TESTS_FAILED", reason: "2 of 40 failed" });
  assert.deepEqual(build.configuration, ["error"]);
  assert.deepEqual(build.context.errors, [{
    phase: "test",
    reason: "tests failed: 2 of 40 failed",
  }]);
  build.send("RESUME");
  assert.deepEqual(build.configuration, ["running", "running.test"]);
  assert.equal(build.context.retries, 1);
  assert.equal(build.context.status, "running");
  assert.deepEqual(build.context.artifacts, ["dist/app.js"]);
  assert.deepEqual(Object.keys(build.context.resources), ["workers", "cache"]);
  build.send("TESTS_PASSED");
  build.send("CLEANED");
  const report = build.output as BuildReport;
  assert.equal(report.status, "succeeded");
  assert.equal(report.retries, 1);
  assert.deepEqual(report.checkpoints, [
    "init#1",
    "setup#1",
    "build#1",
    "test#1",
    "test#2",
    "cleanup#2",
  ]);
});

Deno.test("build_pipeline: RESUME after a SETUP failure goes back to SETUP, not INIT", () => {
  const build = startAt("setup");
  build.send("FAIL");
  build.send("RESUME");
  assert.deepEqual(build.atomicConfiguration, ["running.setup"]);
});

Deno.test("build_pipeline: RETRY starts over from INIT with a clean slate", () => {
  const build = startAt("test");
  build.send({ type: "FAIL", reason: "runner lost" });
  build.send("RETRY");
  assert.deepEqual(build.configuration, ["running", "running.init"]);
  assert.equal(build.context.retries, 1);
  assert.deepEqual(build.context.artifacts, []);
  assert.deepEqual(build.context.resources, {});
  assert.deepEqual(build.context.released, ["workers", "cache"], "resources released on retry");
  assert.deepEqual(build.context.errors, [{ phase: "test", reason: "runner lost" }]);
});

Deno.test("build_pipeline: recoveries are limited by maxRetries; ABORT still cleans up", () => {
  const build = startAt("build", { maxRetries: 1 });
  build.send("FAIL");
  build.send("RESUME");
  build.send("FAIL");
  assert.equal(build.context.retries, 1);
  assert.equal(build.can("RETRY"), false);
  assert.equal(build.can("RESUME"), false);
  assert.deepEqual(build.acceptedEvents(), ["ABORT"]);
  build.send("RETRY");
  build.send("RESUME");
  assert.deepEqual(build.configuration, ["error"], "guards rejected both recoveries");

  build.send("ABORT");
  assert.deepEqual(build.configuration, ["running", "running.cleanup"]);
  assert.deepEqual(build.context.resources, {});
  build.send("CLEANED");
  assert.equal(build.status, "done");
  const report = build.output as BuildReport;
  assert.equal(report.status, "aborted");
  assert.deepEqual(report.released, ["workers", "cache"]);
  assert.deepEqual(report.errors.map((e) => e.phase), ["build", "build"]);
});

Deno.test("build_pipeline: BUILD_DONE without artifacts fails validation", () => {
  const build = startAt("build");
  build.send("BUILD_DONE");
  assert.deepEqual(build.configuration, ["error"]);
  assert.deepEqual(build.context.errors, [{
    phase: "build",
    reason: "the build produced no artifacts",
  }]);
  build.send("RESUME");
  build.send({ type: "ARTIFACT", path: "out.bin" });
  build.send("BUILD_DONE");
  assert.deepEqual(build.atomicConfiguration, ["running.test"]);
});

Deno.test("build_pipeline: an action that throws raises error.execution, which leads to ERROR", () => {
  const build = startAt("build");
  build.send({ type: "ARTIFACT", path: "" });
  assert.deepEqual(build.configuration, ["error"]);
  assert.equal(build.context.errors.length, 1);
  assert.equal(build.context.errors[0].phase, "build");
  assert.match(
    build.context.errors[0].reason,
    /^internal error: ARTIFACT needs a non-empty "path"/,
  );
  assert.deepEqual(build.context.artifacts, []);
  assert.equal(build.stats.errors, 1);
});

Deno.test("build_pipeline: a failed build survives snapshot and restore, then resumes", () => {
  const build = startAt("test");
  build.send({ type: "FAIL", reason: "agent crashed" });
  const saved = JSON.parse(JSON.stringify(build.snapshot()));
  build.stop();

  const again = buildPipeline.restore(saved, { clock: new VirtualClock() });
  assert.deepEqual(again.configuration, ["error"]);
  assert.deepEqual(again.context.artifacts, ["dist/app.js"]);
  again.send("RESUME");
  assert.deepEqual(again.atomicConfiguration, ["running.test"]);
});
