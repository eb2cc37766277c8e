// Issue #14, snapshots: real snapshots of the example machines after random events, mutated
// (fields dropped, duplicated, retyped, ids swapped, arrays made huge, prototype names as keys).
// `restore` either works, and the instance then takes random events with a legal configuration
// after each, or refuses with a SnapshotError naming a field of the snapshot; never an internal
// error, never a polluted Object.prototype. STATECRAFT_FUZZ_RUNS runs more cases.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type EventObject,
  LivelockError,
  type MachineInstance,
  type Snapshot,
  SnapshotError,
  VirtualClock,
} from "../../mod.ts";
import { compiledOf } from "../../lib/core/machine.ts";
import { door } from "../../examples/door.ts";
import { trafficLight } from "../../examples/traffic_light.ts";
import { vendingMachine } from "../../examples/vending_machine.ts";
import { orderWorkflow } from "../../examples/order_workflow.ts";
import { buildPipeline } from "../../examples/build_pipeline.ts";
import { type JsonPath, pathsOf, valueAt } from "./_json_paths.ts";
import { nameArb, outcome, params, PROTO_NAMES } from "./_property.ts";

// deno-lint-ignore no-explicit-any
type AnyMachine = typeof door | typeof trafficLight | any;
const MACHINES: AnyMachine[] = [door, trafficLight, vendingMachine, orderWorkflow, buildPipeline];

/** Event types a machine's transitions name (wildcards left out). */
function eventsOf(machine: AnyMachine): string[] {
  const names = new Set<string>();
  for (const t of compiledOf(machine).transitions) {
    if (t.generated !== null || t.events === null) continue;
    for (const e of t.events) if (!e.includes("*")) names.add(e);
  }
  return [...names].sort();
}

const PAYLOADS: Record<string, unknown>[] = [
  {},
  { code: "0000" },
  { code: "1234" },
  { amount: 100 },
  { coin: 25 },
  { item: "A1" },
  { __proto__: null, constructor: "x" },
];

type Step = { event: number; payload: number } | { wait: number };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ event: fc.nat(), payload: fc.nat() }),
  fc.record({ wait: fc.integer({ min: 1, max: 120_000 }) }),
);

/** Runs steps; an event the machine refuses (a payload schema) is a clear EventError. */
async function run(
  machine: AnyMachine,
  instance: MachineInstance,
  clock: VirtualClock,
  steps: Step[],
  check: () => void,
): Promise<void> {
  const events = eventsOf(machine);
  for (const s of steps) {
    if (instance.status !== "active") return;
    if ("wait" in s) {
      await outcome("advance", () => clock.advance(s.wait));
    } else {
      const event: EventObject = {
        ...PAYLOADS[s.payload % PAYLOADS.length],
        type: events[s.event % events.length],
      };
      await outcome(`send ${event.type}`, () => instance.send(event));
    }
    check();
  }
}

/** The configuration is legal: independent of the engine's own check. */
function assertLegal(machine: AnyMachine, instance: MachineInstance): void {
  const m = compiledOf(machine);
  const conf = instance.configuration;
  const nodes = conf.map((id) => m.byId.get(id));
  assert.equal(new Set(nodes).size, conf.length, `a state twice: ${conf}`);
  if (conf.length === 0) {
    assert.ok(instance.status !== "active" || m.root.children.length === 0, "nothing active");
    return;
  }
  const active = new Set(nodes);
  for (const [i, node] of nodes.entries()) {
    assert.ok(node !== undefined && node.kind !== "history", `bad state ${conf[i]}`);
    assert.ok(node.parent === m.root || active.has(node.parent!), `${node.id}: parent inactive`);
  }
  for (const s of [m.root, ...nodes]) {
    if (s!.kind === "compound") {
      assert.equal(s!.children.filter((c) => active.has(c)).length, 1, `${s!.id}: children`);
    } else if (s!.kind === "parallel") {
      for (const c of s!.children) assert.ok(active.has(c), `${c.id}: region inactive`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Mutations

function setAt(root: unknown, path: JsonPath, value: unknown, drop = false): void {
  const parent = valueAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1];
  if (typeof parent !== "object" || parent === null) return;
  if (drop) {
    if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
    else delete parent[key];
  } else {
    Object.defineProperty(parent, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
}

const RETYPED: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e300,
  "",
  "x",
  "open",
  [],
  {},
  true,
  [null],
  { type: "" },
  { type: 5 },
  [["a"]],
];

type Mutation =
  | { op: "drop"; at: number }
  | { op: "retype"; at: number; to: number }
  | { op: "duplicate"; at: number }
  | { op: "swapIds"; at: number; other: number }
  | { op: "huge"; at: number; size: number }
  | { op: "protoKey"; at: number; name: string }
  | { op: "stateName"; at: number; name: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("retype" as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("swapIds" as const), at: fc.nat(), other: fc.nat() }),
  fc.record({
    op: fc.constant("huge" as const),
    at: fc.nat(),
    size: fc.constantFrom(1_000, 10_000, 60_000),
  }),
  fc.record({
    op: fc.constant("protoKey" as const),
    at: fc.nat(),
    name: fc.constantFrom(...PROTO_NAMES),
  }),
  fc.record({ op: fc.constant("stateName" as const), at: fc.nat(), name: nameArb }),
);

/** Field names the mutations aim at most: what restore has to get right. */
const HOT: JsonPath[] = [
  ["configuration"],
  ["history"],
  ["queue"],
  ["deferred"],
  ["timers"],
  ["children"],
  ["when"],
  ["context"],
  ["stats"],
];

function mutate(machine: AnyMachine, snap: Snapshot, mutations: Mutation[]): unknown {
  const s: unknown = JSON.parse(JSON.stringify(snap));
  const ids = [...compiledOf(machine).byId.keys()];
  for (const mu of mutations) {
    const paths = [...HOT, ...pathsOf(s)];
    const path = paths[mu.at % paths.length];
    const here = valueAt(s, path);
    switch (mu.op) {
      case "drop":
        setAt(s, path, undefined, true);
        break;
      case "retype":
        setAt(s, path, structuredClone(RETYPED[mu.to % RETYPED.length]));
        break;
      case "duplicate":
        if (Array.isArray(here) && here.length > 0) here.push(structuredClone(here[0]));
        else setAt(s, path, [structuredClone(here), structuredClone(here)]);
        break;
      case "swapIds":
        if (Array.isArray(here) && here.length > 1) {
          const i = mu.other % here.length;
          [here[0], here[i]] = [here[i], here[0]];
        } else setAt(s, path, ids[mu.other % ids.length]);
        break;
      case "huge": {
        const item = Array.isArray(here) && here.length > 0 ? here[0] : { type: "TICK" };
        setAt(s, path, Array.from({ length: mu.size }, () => structuredClone(item)));
        break;
      }
      case "protoKey":
        if (typeof here === "object" && here !== null && !Array.isArray(here)) {
          Object.defineProperty(here, mu.name, {
            value: ids[mu.at % ids.length] === "" ? [] : [ids[mu.at % ids.length]],
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else setAt(s, path, mu.name);
        break;
      case "stateName":
        setAt(s, path, mu.name);
        break;
    }
  }
  return s;
}

Deno.test("snapshots: random and mutated snapshots restore legally or are refused by field", async () => {
  let restored = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: MACHINES.length - 1 }),
      fc.array(stepArb, { maxLength: 25 }),
      fc.array(mutationArb, { minLength: 0, maxLength: 3 }),
      fc.array(stepArb, { maxLength: 10 }),
      async (which, before, mutations, after) => {
        const machine = MACHINES[which];
        const clock = new VirtualClock(1_000);
        const original = machine.start({ clock, id: "p1" });
        await run(machine, original, clock, before, () => assertLegal(machine, original));
        const snap = original.snapshot();
        original.stop();
        const bad = mutate(machine, snap, mutations);
        const clock2 = new VirtualClock(snap.time);
        const result = await outcome(
          "restore",
          () => machine.restore(bad as Snapshot, { clock: clock2 }) as MachineInstance,
        );
        if ("error" in result) {
          refused++;
          const e = result.error;
          if (e instanceof LivelockError) return; // the queue it was given feeds itself
          assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${e.name}: ${e.message}`);
          assert.match(e.message, /^snapshot([.[][^:]*)?: /, "the message names a field");
          return;
        }
        restored++;
        const instance = result.ok;
        assertLegal(machine, instance);
        await run(machine, instance, clock2, after, () => assertLegal(machine, instance));
        // What it continues from is a snapshot again: it restores.
        const again = JSON.parse(JSON.stringify(instance.snapshot()));
        instance.stop();
        machine.restore(again, { clock: new VirtualClock(again.time) }).stop();
      },
    ),
    params(150, 10_000),
  );
  console.log(`snapshots: ${restored} restored, ${refused} refused`);
  assert.ok(restored > 0 && refused > 0, `${restored} restored, ${refused} refused`);
});
