/**
 * A traffic light: timers and hierarchy.
 *
 * What it shows:
 * - `after` timers drive the cycle green -> yellow -> red -> green with no event from outside.
 * - `red` is a compound state: while cars wait, the pedestrian signal runs its own timed
 *   substates `walk` -> `wait` (flashing hand) -> `stop` (all clear), and `stop` ends the
 *   cycle with a `#traffic_light.operating.green` target (an id target in XState's style).
 * - A `POWER_OUTAGE` leaves the whole `operating` state (cancelling every pending timer) for a
 *   `flashing` amber light that blinks on its own timers; `POWER_RESTORED` returns through a
 *   deep history state to the exact light (and pedestrian phase) that was showing, whose timer
 *   starts afresh.
 * - The context counts completed cycles and outages.
 *
 * Run it (virtual time: two minutes pass at once; in the second run an outage strikes 40 s in,
 * during the pedestrians' `walk`, and the light comes back to `walk` three seconds later):
 *
 * ```sh
 * deno task statecraft run examples/traffic_light.ts --virtual-time --for 2m
 * deno task statecraft run examples/traffic_light.ts --virtual-time \
 *   --events wait:40s,POWER_OUTAGE,wait:3s,POWER_RESTORED --for 20s
 * ```
 *
 * Or from code:
 *
 * ```ts
 * import { VirtualClock } from "../core.ts";
 * import { trafficLight } from "./traffic_light.ts";
 * const clock = new VirtualClock();
 * const light = trafficLight.start({ clock });
 * clock.advance(30_000 + 3_000); // green, then yellow
 * light.configuration; // ["operating", "operating.red", "operating.red.walk"]
 * ```
 *
 * @module
 */
import { assign, defineMachine, type Machine } from "../core.ts";

/** The light's context. */
export interface TrafficLightContext {
  /** Full green -> yellow -> red cycles completed. */
  cycles: number;
  /** Power outages seen. */
  outages: number;
}

/** How long each phase lasts, in milliseconds. */
export const TIMINGS = {
  green: 30_000,
  yellow: 3_000,
  /** Pedestrians may cross. */
  walk: 10_000,
  /** The hand flashes: finish crossing, do not start. */
  wait: 5_000,
  /** Everybody stops: the crossing clears before cars get green. */
  stop: 2_000,
  /** Half a period of the amber blinking during an outage. */
  blink: 500,
} as const;

/** The traffic light machine. */
export const trafficLight: Machine<TrafficLightContext> = defineMachine<TrafficLightContext>({
  id: "traffic_light",
  description: "A crossroads light with a pedestrian crossing and an outage mode.",
  context: { cycles: 0, outages: 0 },
  initial: "operating",
  states: {
    operating: {
      initial: "green",
      on: {
        POWER_OUTAGE: {
          target: "flashing",
          actions: assign({ outages: ({ context }) => context.outages + 1 }),
        },
      },
      states: {
        green: { after: { [TIMINGS.green]: "yellow" } },
        yellow: { after: { [TIMINGS.yellow]: "red" } },
        red: {
          description: "Cars stop; the pedestrian signal runs its own cycle.",
          initial: "walk",
          states: {
            walk: { after: { [TIMINGS.walk]: "wait" } },
            wait: { after: { [TIMINGS.wait]: "stop" } },
            stop: {
              after: {
                [TIMINGS.stop]: {
                  target: "#traffic_light.operating.green",
                  actions: assign({ cycles: ({ context }) => context.cycles + 1 }),
                },
              },
            },
          },
        },
        // Deep: remembers the leaf (say `red.wait`), not just `red`.
        resume: { type: "history", history: "deep" },
      },
    },
    flashing: {
      description: "Amber blinks until power is back.",
      initial: "on",
      states: {
        on: { after: { [TIMINGS.blink]: "off" } },
        off: { after: { [TIMINGS.blink]: "on" } },
      },
      on: { POWER_RESTORED: "operating.resume" },
    },
  },
});

export default trafficLight;
