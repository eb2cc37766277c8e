/**
 * Statecraft against XState v5 on the machines of issue #2. Each event bench sends a fixed batch
 * of 1,000 events to an instance/actor started outside the timed function, so only event
 * processing is timed. XState is the baseline of each group, so `deno bench`'s summary states
 * the ratio against it ("XState v5  N x slower than Statecraft"). Events/s = 1,000 x iter/s.
 *
 * Before anything is timed, both engines are driven through the same events and compared after
 * every event (active states, and the order of state entries and exits of traced copies); a
 * divergence throws at module load, so a broken machine cannot give a figure.
 *
 * Run: `deno task bench` (or just `deno bench tests/bench/`).
 *
 * @module
 */
import { createActor } from "xstate";
import {
  assertSameRun,
  BATCH,
  batch,
  DEEP_CYCLE,
  DEEP_LEAF,
  deepHistory,
  type Ev,
  parallel,
  PARALLEL_CYCLE,
  REGIONS,
  statecraft,
  statecraftLeaves,
  traffic,
  TRAFFIC_CYCLE,
  xstate,
} from "./_machines.ts";

const EVENTS = `${BATCH.toLocaleString("en")} events`;

// (1) Traffic light: every event takes one transition; 1,000 events end back in `green`.
const trafficEvents = batch(TRAFFIC_CYCLE);
const trafficRun = assertSameRun(traffic, trafficEvents);
if (statecraftLeaves(trafficRun.statecraft).join() !== "green") {
  throw new Error(`traffic light: expected "green" after the batch`);
}

// (2) 8 parallel regions: every event takes 8 transitions.
const parallelEvents = batch(PARALLEL_CYCLE);
const parallelRun = assertSameRun(parallel, parallelEvents);
if (statecraftLeaves(parallelRun.statecraft).length !== REGIONS) {
  throw new Error(`${parallel.name}: expected ${REGIONS} active atomic states`);
}

// (3) Depth 8 with deep history: STEP once (a -> b), then LEAVE / RETURN pairs; every RETURN
// must restore `b` through the history, in both engines (checked after every event).
const deepEvents = batch(DEEP_CYCLE);
const step: Ev = { type: "STEP" };
const deepRun = assertSameRun(deepHistory, [step, ...deepEvents]);
if (statecraftLeaves(deepRun.statecraft).join() !== DEEP_LEAF) {
  throw new Error(`${deepHistory.name}: expected "${DEEP_LEAF}" after RETURN (history lost)`);
}

// The timed instances are the ones the checks above drove: started, and in the same state.
const runs = [
  { group: `${traffic.name}, ${EVENTS}`, run: trafficRun, events: trafficEvents },
  { group: `${parallel.name}, ${EVENTS}`, run: parallelRun, events: parallelEvents },
  { group: `${deepHistory.name}, ${EVENTS}`, run: deepRun, events: deepEvents },
];

for (const { group, run, events } of runs) {
  const instance = run.statecraft;
  const actor = run.xstate;
  Deno.bench({
    name: "XState v5",
    group,
    baseline: true,
    fn() {
      for (let i = 0; i < events.length; i++) actor.send(events[i]);
    },
  });
  Deno.bench({
    name: "Statecraft",
    group,
    fn() {
      for (let i = 0; i < events.length; i++) instance.send(events[i]);
    },
  });
}

// Start-up: create and start one instance (each machine is defined once, outside).
for (const machine of [traffic, parallel]) {
  const sc = statecraft(machine.config());
  const xs = xstate(machine.config());
  const group = `start-up: ${machine.name}`;
  Deno.bench({
    name: "XState v5",
    group,
    baseline: true,
    fn() {
      createActor(xs).start();
    },
  });
  Deno.bench({
    name: "Statecraft",
    group,
    fn() {
      sc.start();
    },
  });
}
