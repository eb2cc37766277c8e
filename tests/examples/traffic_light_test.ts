import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import trafficLightDefault, { TIMINGS, trafficLight } from "../../examples/traffic_light.ts";

const RED = TIMINGS.walk + TIMINGS.wait + TIMINGS.stop;
const CYCLE = TIMINGS.green + TIMINGS.yellow + RED;

function start() {
  const clock = new VirtualClock();
  const light = trafficLight.start({ clock });
  return { clock, light };
}

Deno.test("traffic_light: the default export is the named machine", () => {
  assert.equal(trafficLightDefault, trafficLight);
  assert.equal(trafficLight.id, "traffic_light");
  assert.deepEqual(trafficLight.warnings, []);
});

Deno.test("traffic_light: starts green with no cycle counted", () => {
  const { light } = start();
  assert.deepEqual(light.configuration, ["operating", "operating.green"]);
  assert.deepEqual(light.context, { cycles: 0, outages: 0 });
  assert.deepEqual(light.acceptedEvents(), ["POWER_OUTAGE"]);
});

Deno.test("traffic_light: timers walk through every phase and the pedestrian substates", () => {
  const { clock, light } = start();
  const seen: string[][] = [];
  const step = (ms: number) => {
    clock.advance(ms);
    seen.push(light.atomicConfiguration);
  };
  step(TIMINGS.green - 1);
  step(1);
  step(TIMINGS.yellow);
  step(TIMINGS.walk);
  step(TIMINGS.wait);
  step(TIMINGS.stop);
  assert.deepEqual(seen, [
    ["operating.green"],
    ["operating.yellow"],
    ["operating.red.walk"],
    ["operating.red.wait"],
    ["operating.red.stop"],
    ["operating.green"],
  ]);
  assert.deepEqual(light.configuration, ["operating", "operating.green"]);
  assert.equal(light.context.cycles, 1);
});

Deno.test("traffic_light: red is a compound state whose parent stays active", () => {
  const { clock, light } = start();
  clock.advance(TIMINGS.green + TIMINGS.yellow + TIMINGS.walk);
  assert.deepEqual(light.configuration, ["operating", "operating.red", "operating.red.wait"]);
  assert.ok(light.matches("operating.red"));
  assert.ok(!light.matches("operating.green"));
});

Deno.test("traffic_light: counts one cycle per green -> yellow -> red round", () => {
  const { clock, light } = start();
  clock.advance(CYCLE * 3);
  assert.equal(light.context.cycles, 3);
  assert.deepEqual(light.atomicConfiguration, ["operating.green"]);
  clock.advance(CYCLE - 1);
  assert.equal(light.context.cycles, 3);
  assert.deepEqual(light.atomicConfiguration, ["operating.red.stop"]);
});

Deno.test("traffic_light: a power outage blinks amber and stops the cycle", () => {
  const { clock, light } = start();
  clock.advance(TIMINGS.green);
  light.send("POWER_OUTAGE");
  assert.deepEqual(light.configuration, ["flashing", "flashing.on"]);
  assert.equal(light.context.outages, 1);
  clock.advance(TIMINGS.blink);
  assert.deepEqual(light.atomicConfiguration, ["flashing.off"]);
  clock.advance(TIMINGS.blink);
  assert.deepEqual(light.atomicConfiguration, ["flashing.on"]);
  // Hours pass: the operating timers were cancelled, so no cycle completes.
  clock.advance(3 * CYCLE);
  assert.ok(light.matches("flashing"));
  assert.equal(light.context.cycles, 0);
  assert.deepEqual(light.acceptedEvents(), ["POWER_RESTORED"]);
});

Deno.test("traffic_light: power restored returns to the exact pedestrian phase (deep history)", () => {
  const { clock, light } = start();
  clock.advance(TIMINGS.green + TIMINGS.yellow + TIMINGS.walk + 1_000);
  assert.deepEqual(light.atomicConfiguration, ["operating.red.wait"]);
  light.send("POWER_OUTAGE");
  clock.advance(60_000);
  light.send("POWER_RESTORED");
  assert.deepEqual(light.configuration, ["operating", "operating.red", "operating.red.wait"]);
  // The restored phase runs its full timer again from the moment power came back.
  clock.advance(TIMINGS.wait - 1);
  assert.deepEqual(light.atomicConfiguration, ["operating.red.wait"]);
  clock.advance(1);
  assert.deepEqual(light.atomicConfiguration, ["operating.red.stop"]);
  clock.advance(TIMINGS.stop);
  assert.deepEqual(light.atomicConfiguration, ["operating.green"]);
  assert.equal(light.context.cycles, 1);
});

Deno.test("traffic_light: history follows the most recent outage", () => {
  const { clock, light } = start();
  clock.advance(TIMINGS.green + 1);
  light.send("POWER_OUTAGE");
  light.send("POWER_RESTORED");
  assert.deepEqual(light.atomicConfiguration, ["operating.yellow"]);
  clock.advance(TIMINGS.yellow);
  light.send("POWER_OUTAGE");
  light.send("POWER_RESTORED");
  assert.deepEqual(light.atomicConfiguration, ["operating.red.walk"]);
  assert.equal(light.context.outages, 2);
});

Deno.test("traffic_light: events the current state does not handle change nothing", () => {
  const { clock, light } = start();
  light.send("POWER_RESTORED");
  assert.deepEqual(light.atomicConfiguration, ["operating.green"]);
  light.send("POWER_OUTAGE");
  light.send("POWER_OUTAGE");
  assert.equal(light.context.outages, 1);
  clock.advance(TIMINGS.blink / 2);
  assert.deepEqual(light.atomicConfiguration, ["flashing.on"]);
});

Deno.test("traffic_light: a snapshot continues on another clock, timers and history intact", () => {
  const { clock, light } = start();
  clock.advance(TIMINGS.green + TIMINGS.yellow + 4_000); // 4 s into walk
  const midWalk = JSON.parse(JSON.stringify(light.snapshot()));
  light.stop();

  const clock2 = new VirtualClock(clock.now());
  const restored = trafficLight.restore(midWalk, { clock: clock2 });
  assert.deepEqual(restored.atomicConfiguration, ["operating.red.walk"]);
  clock2.advance(TIMINGS.walk - 4_000);
  assert.deepEqual(restored.atomicConfiguration, ["operating.red.wait"]);

  restored.send("POWER_OUTAGE");
  const inOutage = restored.snapshot();
  const again = trafficLight.restore(inOutage, { clock: new VirtualClock(clock2.now()) });
  again.send("POWER_RESTORED");
  assert.deepEqual(again.atomicConfiguration, ["operating.red.wait"]);
  assert.deepEqual(again.context, { cycles: 0, outages: 1 });
});
