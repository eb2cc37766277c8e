/**
 * One process of `engine_ab.ts`: the engine of the tree at `Deno.args[0]` (its `core.ts`) on
 * the benchmark machines, printing `{ case: [min, median] }` in µs per 1,000 events (per 1,000
 * starts for `start:*`) as one JSON line. Each case runs for `Deno.args[1]` ms (default 300)
 * after a warm-up.
 *
 * @module
 */
import {
  batch,
  DEEP_CYCLE,
  deepHistory,
  parallel,
  PARALLEL_CYCLE,
  traffic,
  TRAFFIC_CYCLE,
} from "./_machines.ts";

type Send = { send(e: unknown): unknown };
type Engine = {
  // deno-lint-ignore no-explicit-any
  defineMachine(config: any): { start(): Send };
  raise(e: { type: string }): unknown;
  send(e: { type: string }): unknown;
};
const engine = await import(`${Deno.args[0]}/core.ts`) as Engine;
const ms = Number(Deno.args[1] ?? 300);

/** Runs `fn` repeatedly for `ms` (at least 30 times) after 20 warm-up runs: min and median. */
function measure(fn: () => void): [number, number] {
  for (let k = 0; k < 20; k++) fn();
  const times: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end || times.length < 30) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return [times[0] * 1000, times[times.length >> 1] * 1000];
}

const { defineMachine, raise, send } = engine;
const GO = { type: "GO" };
const cases: { name: string; start: () => Send; events: { type: string }[]; before?: string }[] = [
  {
    name: "traffic",
    start: () => defineMachine(traffic.config()).start(),
    events: batch(TRAFFIC_CYCLE),
  },
  {
    name: "parallel",
    start: () => defineMachine(parallel.config()).start(),
    events: batch(PARALLEL_CYCLE),
  },
  {
    name: "deep history",
    start: () => defineMachine(deepHistory.config()).start(),
    events: batch(DEEP_CYCLE),
    before: "STEP",
  },
  {
    name: "two raised",
    start: () =>
      defineMachine({
        id: "r",
        initial: "a",
        states: {
          a: {
            on: { GO: { target: "b", actions: [raise({ type: "R1" }), raise({ type: "R2" })] } },
          },
          b: { on: { R1: "c" } },
          c: { on: { R2: "a" } },
        },
      }).start(),
    events: batch(["GO"]),
  },
  {
    name: "two self-sent",
    start: () =>
      defineMachine({
        id: "s",
        initial: "a",
        states: {
          a: { on: { GO: { target: "b", actions: [send({ type: "S1" })] } } },
          b: { on: { S1: { target: "c", actions: [send({ type: "S2" })] } } },
          c: { on: { S2: "a" } },
        },
      }).start(),
    events: batch(["GO"]),
  },
  {
    name: "guard + action",
    start: () =>
      defineMachine({
        id: "g",
        context: { n: 0 },
        initial: "a",
        states: {
          a: {
            on: {
              GO: {
                target: "b",
                guard: ({ context }: { context: { n: number } }) => context.n >= 0,
                actions: ({ context }: { context: { n: number } }) => {
                  context.n++;
                },
              },
            },
          },
          b: { on: { GO: { target: "a" } } },
        },
      }).start(),
    events: Array.from({ length: 1000 }, () => GO),
  },
];

const out: Record<string, [number, number]> = {};
for (const c of cases) {
  const instance = c.start();
  if (c.before !== undefined) instance.send({ type: c.before });
  const events = c.events;
  out[c.name] = measure(() => {
    for (let i = 0; i < events.length; i++) instance.send(events[i]);
  });
}
for (const [name, m] of [["start: traffic", traffic], ["start: parallel", parallel]] as const) {
  const machine = defineMachine(m.config());
  out[name] = measure(() => {
    for (let i = 0; i < 1000; i++) machine.start();
  });
}
console.log(JSON.stringify(out));
