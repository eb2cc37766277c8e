/**
 * What the tracing code paths cost when OpenTelemetry is off (issue #15): a store send loop
 * (`:memory:` Deno KV, one instance, sends awaited one by one) on this tree, against the same
 * loop on a copy of this tree whose traced files are as they were before tracing (commit
 * `BEFORE`, taken with `git show`). Run without `OTEL_DENO`:
 *
 * ```sh
 * deno task bench:tracing
 * ```
 *
 * Figures: docs/performance.md, "Tracing overhead (issue #15)". Not part of `deno task bench`
 * (it needs git and a writable /tmp).
 *
 * @module
 */
import { defineMachine } from "../../lib/core/machine.ts";
import { openStore } from "../../lib/persist/store.ts";
import { tracing } from "../../lib/telemetry/tracing.ts";

/** The last commit before tracing. */
const BEFORE = "72a67b6";
/** The files the tracing change touched on the send path. */
const TRACED = [
  "lib/persist/apply.ts",
  "lib/persist/mailbox.ts",
  "lib/persist/store.ts",
  "lib/persist/store_context.ts",
  "lib/persist/records.ts",
  "lib/persist/instance_cache.ts",
];
const ROOT = new URL("../../", import.meta.url).pathname;
const SENDS = 200;
const WARMUP = 10;
const ROUNDS = 80;

if (tracing) throw new Error("run this bench with OpenTelemetry off (no OTEL_DENO=true)");

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

// The tree without tracing: this one, with the traced files as they were at BEFORE.
const copy = await Deno.makeTempDir({ prefix: "statecraft-untraced-" });
await run("cp", ["-r", `${ROOT}lib`, `${ROOT}deno.json`, copy]);
for (const file of TRACED) {
  await Deno.writeTextFile(`${copy}/${file}`, await run("git", ["show", `${BEFORE}:${file}`]));
}
const before = await import(`${copy}/lib/persist/store.ts`) as {
  openStore: typeof openStore;
};
const beforeCore = await import(`${copy}/lib/core/machine.ts`) as {
  defineMachine: typeof defineMachine;
};

const config = {
  id: "toggle",
  initial: "off",
  states: { off: { on: { FLIP: "on" } }, on: { on: { FLIP: "off" } } },
};

async function loop(open: typeof openStore, define: typeof defineMachine) {
  const store = await open({ path: ":memory:", machines: [define(config)] });
  await store.create("toggle", "t");
  return {
    async sends() {
      for (let i = 0; i < SENDS; i++) await store.send("t", { type: "FLIP" });
    },
  };
}

const now = await loop(openStore, defineMachine);
const then = await loop(before.openStore, beforeCore.defineMachine);
// Both stores are open (every module they use is loaded): the copy can go. The stores stay
// open until the process ends (`:memory:`).
await Deno.remove(copy, { recursive: true });

/** Milliseconds one call of `fn` takes. */
async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Rounds alternate the two trees, so that the machine's load (shared, noisy) falls on both
// alike; each round's ratio compares two loops run back to back.
for (let i = 0; i < WARMUP; i++) {
  await then.sends();
  await now.sends();
}
const thenMs: number[] = [];
const nowMs: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  // Which tree goes first alternates too.
  const first = i % 2 === 0 ? then : now;
  const second = first === then ? now : then;
  const a = await time(first.sends);
  const b = await time(second.sends);
  const [t, n] = first === then ? [a, b] : [b, a];
  thenMs.push(t);
  nowMs.push(n);
  ratios.push(n / t);
}
const f = (ms: number) => `${ms.toFixed(2)} ms`;
console.log(`store send loop (${SENDS} sends, one instance, :memory:), OpenTelemetry off`);
console.log(`${ROUNDS} rounds after ${WARMUP} of warm-up, the two trees alternating`);
console.log(
  `before tracing (${BEFORE}): min ${f(Math.min(...thenMs))}, median ${f(median(thenMs))}`,
);
console.log(`with tracing code paths:  min ${f(Math.min(...nowMs))}, median ${f(median(nowMs))}`);
console.log(
  `ratio (with / before): median of rounds ${median(ratios).toFixed(3)}, of minimums ${
    (Math.min(...nowMs) / Math.min(...thenMs)).toFixed(3)
  }`,
);
