/**
 * Heap bytes per idle started instance of a small machine (a door: 3 states, a 3-field
 * context), Statecraft against XState v5. Target of issue #2: at most 1 KiB per instance.
 *
 * Run: `deno run --v8-flags=--expose-gc tests/bench/memory.ts [N]` (default N = 100,000).
 *
 * Method: define the machine once; allocate the array that keeps the instances; warm up (so
 * compiled code and inline caches are not counted); `gc()` twice, read `heapUsed`; start N
 * instances into the array; `gc()` twice, read `heapUsed` again. The difference over N is what
 * one live instance costs (its objects and everything they keep alive that the machine and the
 * other instances do not share). Each measurement is repeated and the median is printed.
 *
 * @module
 */
import { SystemClock } from "../../mod.ts";
import { createActor } from "xstate";
import { door, statecraft, statecraftLeaves, xstate, xstateLeaves } from "./_machines.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  throw new Error(
    "memory.ts needs the garbage collector exposed: " +
      "deno run --v8-flags=--expose-gc tests/bench/memory.ts",
  );
}
const collect = gc;

const N = Deno.args[0] === undefined ? 100_000 : Number(Deno.args[0]);
if (!Number.isInteger(N) || N < 1_000) {
  throw new Error(`memory.ts: N must be an integer of at least 1000, got ${Deno.args[0]}`);
}
const REPEATS = 3;
const TARGET = 1024;

const scDoor = statecraft(door.config());
const xsDoor = xstate(door.config());
const sharedClock = new SystemClock();

interface Row {
  engine: string;
  how: string;
  make: () => unknown;
  /** The instance's atomic state, to check every kept instance is alive and right. */
  state: (instance: unknown) => string;
  /** Its persisted snapshot as JSON, for the size column. */
  snapshot: (instance: unknown) => string;
}

// deno-lint-ignore no-explicit-any
type Any = any;

const rows: Row[] = [
  {
    engine: "Statecraft",
    how: "door.start()",
    make: () => scDoor.start(),
    state: (i) => statecraftLeaves(i as Any).join(),
    snapshot: (i) => JSON.stringify((i as Any).snapshot()),
  },
  {
    engine: "Statecraft",
    how: "door.start({ clock }), one shared clock",
    make: () => scDoor.start({ clock: sharedClock }),
    state: (i) => statecraftLeaves(i as Any).join(),
    snapshot: (i) => JSON.stringify((i as Any).snapshot()),
  },
  {
    engine: "XState v5",
    how: "createActor(door).start()",
    make: () => createActor(xsDoor).start(),
    state: (i) => xstateLeaves(i as Any).join(),
    snapshot: (i) => JSON.stringify((i as Any).getPersistedSnapshot()),
  },
];

function heapAfterGc(): number {
  collect();
  collect();
  return Deno.memoryUsage().heapUsed;
}

/** Bytes per instance for one run of N instances. */
function measureOnce(row: Row): number {
  const keep: unknown[] = new Array(N).fill(null);
  for (let i = 0; i < 1_000; i++) keep[i] = row.make(); // warm-up, then dropped
  keep.fill(null);
  const before = heapAfterGc();
  for (let i = 0; i < N; i++) keep[i] = row.make();
  const after = heapAfterGc();
  for (const i of [0, N >> 1, N - 1]) {
    if (row.state(keep[i]) !== "closed") {
      throw new Error(`${row.engine}: instance ${i} is in "${row.state(keep[i])}", not "closed"`);
    }
  }
  return (after - before) / N;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const results = rows.map((row) => {
  const runs: number[] = [];
  for (let r = 0; r < REPEATS; r++) runs.push(measureOnce(row));
  return { row, bytes: median(runs), runs, snapshotBytes: row.snapshot(row.make()).length };
});

const xstateBytes = results.find((r) => r.row.engine === "XState v5")!.bytes;
const header = ["engine", "started with", "bytes/instance", "vs XState", "target <= 1 KiB"];
const body = results.map((r) => [
  r.row.engine,
  r.row.how,
  r.bytes.toFixed(0),
  r.row.engine === "XState v5" ? "1.00x" : `${(r.bytes / xstateBytes).toFixed(2)}x`,
  r.row.engine === "XState v5" ? "" : r.bytes <= TARGET ? "met" : "NOT met",
]);
const widths = header.map((h, c) => Math.max(h.length, ...body.map((line) => line[c].length)));
const line = (cells: string[]) =>
  "| " + cells.map((cell, c) => c === 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
    .join(" | ") +
  " |";

console.log(
  `\nHeap per idle started door instance (N = ${N.toLocaleString("en")}, median of ${REPEATS}; ` +
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8})\n`,
);
console.log(line(header));
console.log("| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |");
for (const cells of body) console.log(line(cells));
console.log("\nruns (bytes/instance):");
for (const r of results) {
  console.log(`  ${r.row.engine}, ${r.row.how}: ${r.runs.map((x) => x.toFixed(0)).join(", ")}`);
}
console.log("\npersisted snapshot, JSON bytes:");
for (const r of results.filter((r, i) => i === 0 || r.row.engine !== results[0].row.engine)) {
  console.log(`  ${r.row.engine}: ${r.snapshotBytes}`);
}
