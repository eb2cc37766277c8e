/**
 * Coverage against charts counted by hand: each chart below lists its states, transitions
 * and guards in a comment, and each test runs a known event sequence and checks the exact
 * numbers.
 */
import assert from "node:assert/strict";
import { defineMachine } from "../../lib/core/machine.ts";
import { VirtualClock } from "../../lib/core/clock.ts";
import {
  type CoverageReport,
  coverageReports,
  formatCoverage,
  mergeCoverage,
  trackCoverage,
} from "../../lib/testing/coverage.ts";

/**
 * States (4): idle, warming, running, broken.
 * Transitions (6): idle#0 START [fast], idle#1 START, warming#0 READY, warming#1 ABORT,
 * running#0 STOP, running#1 FAIL.
 * Guards (1): idle#0.
 */
const heater = defineMachine({
  id: "heater",
  initial: "idle",
  states: {
    idle: {
      on: {
        START: [{ target: "running", guard: ({ event }) => event.fast === true }, {
          target: "warming",
        }],
      },
    },
    warming: { on: { READY: "running", ABORT: "idle" } },
    running: { on: { STOP: "idle", FAIL: "broken" } },
    broken: { type: "final" },
  },
});

/**
 * States (8): off, on, on.light, on.light.dim, on.light.bright, on.fan, on.fan.slow,
 * on.fan.fast.
 * Transitions (5): off#0 POWER, on#0 POWER, on.light.dim#0 UP, on.light.bright#0 after 1000,
 * on.fan.slow#0 UP [turbo].
 * Guards (1): on.fan.slow#0.
 */
const lamp = defineMachine({
  id: "lamp",
  initial: "off",
  states: {
    off: { on: { POWER: "on" } },
    on: {
      type: "parallel",
      on: { POWER: "off" },
      states: {
        light: {
          initial: "dim",
          states: { dim: { on: { UP: "bright" } }, bright: { after: { 1000: "dim" } } },
        },
        fan: {
          initial: "slow",
          states: {
            slow: { on: { UP: { target: "fast", guard: ({ event }) => event.turbo === true } } },
            fast: {},
          },
        },
      },
    },
  },
});

/**
 * States (2): s, t.
 * Transitions (4): s#0 ADD [n is 1], s#1 ADD [n is 2], s#2 ADD (targetless, unguarded),
 * s#3 always [total >= 3].
 * Guards (3): s#0, s#1, s#3.
 * The three ADD transitions share source and event and have no target: only the engine's
 * transition ids tell them apart.
 */
const adder = defineMachine<{ total: number }>({
  id: "adder",
  context: { total: 0 },
  initial: "s",
  states: {
    s: {
      on: {
        ADD: [
          { guard: ({ event }) => event.n === 1, actions: ({ context }) => void context.total++ },
          {
            guard: ({ event }) => event.n === 2,
            actions: ({ context }) => void (context.total += 2),
          },
          { actions: ({ context }) => void context.total++ },
        ],
      },
      always: { target: "t", guard: ({ context }) => context.total >= 3 },
    },
    t: {},
  },
});

function counts(r: CoverageReport) {
  return {
    states: [r.states.covered, r.states.total],
    transitions: [r.transitions.covered, r.transitions.total],
    guards: [r.guards.trueSeen, r.guards.falseSeen, r.guards.bothSeen, r.guards.total],
  };
}

Deno.test("heater: 3 of 4 states, 3 of 6 transitions, the guard seen false only", () => {
  const coverage = trackCoverage(heater);
  const h = coverage.start();
  h.send("START"); // not fast: idle#1 to warming
  h.send("READY");
  h.send("STOP");
  const r = coverage.report();
  assert.deepEqual(counts(r), { states: [3, 4], transitions: [3, 6], guards: [0, 1, 0, 1] });
  assert.deepEqual(r.states.missing, ["broken"]);
  assert.deepEqual(r.states.hits, { idle: 2, warming: 1, running: 1, broken: 0 });
  assert.deepEqual(r.transitions.missing, ["idle#0", "warming#1", "running#1"]);
  assert.deepEqual(r.guards.missingTrue, ["idle#0"]);
  assert.deepEqual(r.guards.missingFalse, []);
  assert.deepEqual(r.guards.hits, { "idle#0": { true: 0, false: 1 } });
  assert.equal(r.labels["idle#0"], "idle: START -> running [guard]");
});

Deno.test("lamp: parallel regions, a delayed transition, a guard seen both ways", () => {
  const coverage = trackCoverage(lamp);
  const clock = new VirtualClock();
  const l = coverage.start({ clock });
  l.send("POWER");
  l.send("UP"); // light: dim -> bright; fan: guard false
  clock.advance(1000); // bright -> dim
  l.send({ type: "UP", turbo: true }); // both regions move
  const r = coverage.report();
  assert.deepEqual(counts(r), { states: [8, 8], transitions: [4, 5], guards: [1, 1, 1, 1] });
  assert.deepEqual(r.transitions.missing, ["on#0"]);
  assert.equal(r.states.hits["on.light.dim"], 2);
  assert.equal(r.states.hits["on.light.bright"], 2);
  assert.equal(r.transitions.hits["on.light.bright#0"], 1);
  assert.equal(r.labels["on.light.bright#0"], "on.light.bright: after 1000ms -> on.light.dim");
  assert.deepEqual(r.guards.hits["on.fan.slow#0"], { true: 1, false: 1 });
});

Deno.test("adder: observe() a running instance; targetless siblings told apart", () => {
  const a = adder.start();
  const coverage = trackCoverage(adder);
  const stop = coverage.observe(a);
  a.send({ type: "ADD", n: 2 }); // s#0 false, s#1 true (total 2); always false
  a.send("ADD"); // s#0 false, s#1 false, s#2 (total 3); always true: t
  stop();
  const r = coverage.report();
  assert.deepEqual(counts(r), { states: [2, 2], transitions: [3, 4], guards: [2, 3, 2, 3] });
  assert.deepEqual(r.transitions.missing, ["s#0"]);
  assert.deepEqual(r.guards.missingTrue, ["s#0"]);
  assert.equal(r.guards.hits["s#0"].false, 2);
  assert.deepEqual(r.guards.hits["s#1"], { true: 1, false: 1 });
  assert.equal(r.labels["s#2"], "s: ADD -> (no target)");
  // Detached: nothing more is recorded.
  const b = adder.start();
  const stopB = coverage.observe(b);
  stopB();
  b.send({ type: "ADD", n: 1 });
  assert.equal(coverage.report().transitions.hits["s#0"], 0);
});

Deno.test("can() and acceptedEvents() do not count as guard evaluations", () => {
  const coverage = trackCoverage(heater);
  const h = coverage.start();
  assert.equal(h.can({ type: "START", fast: true }), true);
  h.acceptedEvents();
  assert.deepEqual(coverage.report().guards.hits, { "idle#0": { true: 0, false: 0 } });
});

Deno.test("two trackers, merged reports, the process-wide tally, the table", () => {
  const one = trackCoverage(heater);
  one.start().send({ type: "START", fast: true }); // idle#0, guard true
  const two = trackCoverage(heater);
  const h = two.start();
  h.send("START"); // idle#1, guard false
  h.send("ABORT"); // warming#1
  const [merged] = mergeCoverage([one.report(), two.report()]);
  assert.deepEqual(counts(merged), { states: [3, 4], transitions: [3, 6], guards: [1, 1, 1, 1] });
  assert.deepEqual(merged.transitions.missing, ["warming#0", "running#0", "running#1"]);
  assert.equal(mergeCoverage([one.report(), lampReport()]).length, 2);

  const tally = coverageReports().find((r) => r.machine === "heater")!;
  assert.ok(tally.transitions.hits["idle#0"] >= 1 && tally.transitions.hits["warming#1"] >= 1);

  one.reset();
  assert.equal(one.report().states.covered, 0);
  assert.equal(
    formatCoverage(merged),
    [
      "machine  states         transitions    guards true    guards false",
      "heater   3/4     75.0%  3/6     50.0%  1/1    100.0%  1/1    100.0%",
      "  heater: states not entered: broken",
      "  heater: transitions not taken: warming#0 (warming: READY -> running), " +
      "running#0 (running: STOP -> idle), running#1 (running: FAIL -> broken)",
    ].join("\n"),
  );
});

function lampReport(): CoverageReport {
  return trackCoverage(lamp).report();
}

Deno.test("STATECRAFT_COVERAGE_FILE: reports appended at unload, only when the variable may be read", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_cov_" });
  try {
    const script = `${dir}/run.ts`;
    const kit = new URL("../../lib/testing/coverage.ts", import.meta.url).href;
    const core = new URL("../../lib/core/machine.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { trackCoverage } from "${kit}";
import { defineMachine } from "${core}";
const m = defineMachine({ id: "m", initial: "a", states: { a: { on: { GO: "b" } }, b: {} } });
trackCoverage(m).start().send("GO");
`,
    );
    const file = `${dir}/coverage.jsonl`;
    const run = (flags: string[]) =>
      new Deno.Command("deno", {
        args: ["run", "--allow-read", ...flags, script],
        env: { STATECRAFT_COVERAGE_FILE: file, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    const granted = await run(["--allow-env", `--allow-write=${file}`]);
    assert.equal(granted.code, 0, new TextDecoder().decode(granted.stderr));
    await run(["--allow-env", `--allow-write=${file}`]);
    const lines = (await Deno.readTextFile(file)).trim().split("\n");
    assert.equal(lines.length, 2, "one line per process, appended");
    const report = JSON.parse(lines[0]) as CoverageReport;
    assert.equal(report.machine, "m");
    assert.deepEqual(report.transitions.hits, { "a#0": 1 });

    // No --allow-env: the variable is not read, nothing is written, nothing prompts.
    await Deno.remove(file);
    const denied = await run([`--allow-write=${file}`]);
    assert.equal(denied.code, 0);
    await assert.rejects(() => Deno.stat(file), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
