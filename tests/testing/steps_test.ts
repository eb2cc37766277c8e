/**
 * Paths as `Deno.test` steps: real nested steps replay each path; a path recorded on an older
 * chart fails with a message naming the step that went elsewhere.
 */
import assert from "node:assert/strict";
import { defineMachine } from "../../lib/core/machine.ts";
import { type Path, shortestPaths } from "../../lib/testing/paths.ts";
import { trackCoverage } from "../../lib/testing/coverage.ts";
import {
  PathMismatchError,
  runPath,
  type StepContext,
  testPaths,
} from "../../lib/testing/steps.ts";
import { door } from "../../examples/door.ts";

const SAMPLES = {
  LOCK: [{ code: "0000" }, { code: "9999" }],
  UNLOCK: [{ code: "0000" }, { code: "9999" }],
  RESET: [{ code: "0000" }],
};

Deno.test("testPaths: each path of the door is a real step, named after it", async (t) => {
  const names: string[] = [];
  const recording: StepContext = {
    step: (name, fn) => {
      names.push(name);
      return t.step(name, fn);
    },
  };
  const checked: string[] = [];
  const report = await testPaths(recording, door, "shortest", {
    samples: SAMPLES,
    assert: (instance, path) => {
      assert.ok(instance.matches(path.state), `${path.state} is active`);
      checked.push(path.state);
    },
  });
  assert.equal(names.length, 9);
  assert.ok(names.includes("reaches secure.locked.deadbolted via LOCK{code}, DEADBOLT"));
  assert.ok(names.includes("reaches secure.closed at start"));
  assert.equal(checked.length, 9);
  assert.equal(report.states.covered, report.states.total);
});

Deno.test("testPaths: simple paths as steps cover every transition of the door", async (t) => {
  const coverage = trackCoverage(door);
  const report = await testPaths(t, door, "simple", { samples: SAMPLES, coverage });
  assert.deepEqual(report.transitions.missing, []);
  assert.deepEqual(report.guards.missingTrue, []);
  // A wrong LOCK code takes no transition, so no path needs it; RESET has no wrong sample.
  assert.deepEqual(report.guards.missingFalse, ["secure.closed#1", "alarm#0"]);
});

const v1 = defineMachine({
  id: "gate",
  initial: "shut",
  states: {
    shut: { on: { OPEN: "open" } },
    open: { after: { 5000: "shut" }, on: { HOLD: "held" } },
    held: {},
  },
});

// The chart changed: OPEN now goes through a check, and the gate closes sooner.
const v2 = defineMachine({
  id: "gate",
  initial: "shut",
  states: {
    shut: { on: { OPEN: "checking" } },
    checking: { on: { OK: "open" } },
    open: { after: { 1000: "shut" }, on: { HOLD: "held" } },
    held: {},
  },
});

/** Collects failing steps instead of failing the test, to look at their errors. */
function collectingContext(): StepContext & { failures: Map<string, unknown> } {
  const failures = new Map<string, unknown>();
  return {
    failures,
    async step(name, fn) {
      try {
        await fn();
        return true;
      } catch (e) {
        failures.set(name, e);
        return false;
      }
    },
  };
}

Deno.test("a path recorded on an older chart fails, saying which step went elsewhere", async () => {
  const paths = await shortestPaths(v1);
  const held = paths.find((p) => p.state === "held")!;
  await assert.rejects(() => runPath(v2, held), (e) => {
    assert.ok(e instanceof PathMismatchError);
    assert.equal(e.step, 0);
    assert.deepEqual(e.expected, ["open"]);
    assert.deepEqual(e.actual, ["checking"]);
    assert.equal(
      e.message,
      'machine "gate", path "reaches held via OPEN, HOLD": after step 1 of 2 (OPEN) the ' +
        "configuration is [checking], but the path recorded [open]. The chart (or the code of " +
        "its guards and actions) changed since the path was made: make the paths again, or fix " +
        "the change.",
    );
    return true;
  });

  const t = collectingContext();
  await testPaths(t, v2, paths);
  assert.deepEqual([...t.failures.keys()], [
    "reaches open via OPEN",
    "reaches held via OPEN, HOLD",
  ]);
});

Deno.test("a changed delay: the recorded wait no longer fires the timer", async () => {
  const waited: Path = {
    state: "shut",
    configuration: ["shut"],
    steps: [
      { event: { type: "OPEN" }, configuration: ["open"], transitions: ["shut#0"] },
      { wait: 5000, configuration: ["shut"], transitions: ["open#1"] },
    ],
  };
  await runPath(v1, waited).then(({ instance }) => instance.stop());
  const slower = defineMachine({
    id: "gate",
    initial: "shut",
    states: {
      shut: { on: { OPEN: "open" } },
      open: { after: { 9000: "shut" }, on: { HOLD: "held" } },
      held: {},
    },
  });
  await assert.rejects(
    () => runPath(slower, waited),
    /after step 2 of 2 \(wait 5s\) the configuration is \[open\], but the path recorded \[shut\]/,
  );
});

Deno.test("a path with no steps checks the initial configuration", async () => {
  const moved = defineMachine({ id: "gate", initial: "open", states: { shut: {}, open: {} } });
  const atStart: Path = { state: "shut", configuration: ["shut"], steps: [] };
  await assert.rejects(() => runPath(moved, atStart), /at start the configuration is \[open\]/);
});
