// Hostile definitions (issue #14): random and mutated machine configs either define, and then
// run a few random events with a legal configuration after each, or are refused with a
// DefinitionError whose every problem has a path. Never an internal error, never a change to
// Object.prototype. More cases: STATECRAFT_FUZZ_RUNS=2000.
import assert from "node:assert/strict";
import fc from "fast-check";
import { defineMachine, type Machine } from "../../lib/core/machine.ts";
import { DefinitionError } from "../../lib/core/errors.ts";
import type { Clock } from "../../lib/core/types.ts";
import { compiledOf } from "../../lib/core/compile.ts";
import { toDot, toMermaid } from "../../lib/core/diagram.ts";
import { assertClearError, outcome, params, PROTO_NAMES } from "./_property.ts";

type Json = Record<string, unknown>;

/** An object whose keys are data, `__proto__` included (as JSON.parse would make it). */
function objectOf(entries: readonly (readonly [string, unknown])[]): Json {
  return Object.fromEntries(entries);
}

const KEYS = ["a", "b", "c"] as const;
/** Names of states, events, guards, actions and targets: valid ids, typos, PROTO_NAMES. */
const badNameArb = fc.oneof(
  fc.constantFrom(...PROTO_NAMES),
  fc.constantFrom("a.b", "#x", "", " ", "b c", "A", "a ", "nope", "*x", "..", "a..b"),
);
/** Anything at all: what a JSON file or a careless script might put at any key. */
const junkArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, 0, -1, NaN, Infinity, "", [], {}, [[]], { x: {} }),
  fc.constantFrom(...PROTO_NAMES),
  fc.string({ maxLength: 6 }),
  fc.anything({ maxDepth: 2, maxKeys: 3 }),
);
/** Usually `valid`; now and then a bad name or junk. */
function mostly<T>(valid: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown> = junkArb) {
  return fc.oneof(
    { weight: 120, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: badNameArb },
    { weight: 1, arbitrary: bad },
  );
}

const keyArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: badNameArb },
);
const eventArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("GO", "STOP", "x.y", "*", "x.*") },
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: badNameArb },
);
const targetArb = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom("a", "a", "b") },
  { weight: 2, arbitrary: fc.constantFrom(...KEYS, "__proto__").map((k) => `.${k}`) },
  { weight: 2, arbitrary: fc.constantFrom(...KEYS, ...PROTO_NAMES).map((k) => `#${k}`) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom("#m.a", "#m.a.b", "#m.__proto__", "#x", "#y") },
  { weight: 1, arbitrary: badNameArb },
);
const guardArb = mostly(
  fc.oneof(fc.constantFrom("yes", "no", "ownConstructor"), fc.constant(() => false)),
);
const actionArb = mostly(
  fc.oneof(fc.constantFrom("noop", "inc", "ownConstructor"), fc.constant(() => {})),
);
const actionsArb = fc.oneof(actionArb, fc.array(actionArb, { maxLength: 2 }));
const transitionArb: fc.Arbitrary<unknown> = mostly(fc.oneof(
  targetArb,
  fc.record({ target: targetArb, guard: guardArb, actions: actionsArb, reenter: fc.boolean() }, {
    requiredKeys: [],
  }),
));
const transitionsArb = fc.oneof(
  { weight: 4, arbitrary: transitionArb },
  { weight: 1, arbitrary: fc.array(transitionArb, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.record({ target: fc.array(targetArb, { maxLength: 3 }) }) },
);
/** An object of entries, usually; junk now and then. */
function entriesOf(key: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>) {
  return mostly(fc.array(fc.tuple(key, value), { maxLength: 3 }).map(objectOf));
}
/** Some of `fields` (at most `max`), each with a value of its arbitrary. */
function optional(fields: Record<string, fc.Arbitrary<unknown>>, max = 2): fc.Arbitrary<Json> {
  return fc.tuple(fc.record(fields), fc.subarray(Object.keys(fields), { maxLength: max })).map(
    ([all, keep]) => objectOf(keep.map((k) => [k, (all as Json)[k]] as const)),
  );
}

/** What any state that is not a history may have, and the extras a leaf may have. */
const commonFields = optional({ on: entriesOf(eventArb, transitionsArb), entry: actionsArb });
const leafExtras = optional({
  always: mostly(fc.record({ target: targetArb, guard: fc.constantFrom("no", "yes") })),
  when: mostly(fc.record({ condition: guardArb, target: targetArb })),
  after: entriesOf(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom("10", "1s", "0") },
      { weight: 1, arbitrary: fc.constantFrom("soon", "-1", "__proto__", "1e999", "") },
    ),
    transitionsArb,
  ),
  exit: actionsArb,
  defer: mostly(fc.array(eventArb, { maxLength: 2 })),
  id: mostly(fc.constantFrom("x", "y", ...PROTO_NAMES)),
});

/**
 * A state tree shaped to be valid (the kind decides the fields), with junk, bad names,
 * `Object.prototype` names and unknown targets mixed in at a low rate.
 */
const { state: stateArb } = fc.letrec<{ state: unknown; leaf: Json; branch: Json }>((tie) => ({
  state: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: tie("leaf") },
    { weight: 2, arbitrary: tie("branch") },
  ),
  leaf: fc.oneof(
    { weight: 6, arbitrary: fc.tuple(commonFields, leafExtras).map(([a, b]) => ({ ...a, ...b })) },
    {
      weight: 1,
      arbitrary: optional({ output: junkArb, entry: actionsArb }).map((f) => ({
        ...f,
        type: "final",
      })),
    },
    {
      weight: 1,
      arbitrary: optional({
        history: mostly(fc.constantFrom("shallow", "deep")),
        target: targetArb,
      })
        .map((f) => ({ ...f, type: "history" })),
    },
  ) as fc.Arbitrary<Json>,
  branch: fc.tuple(
    commonFields,
    fc.array(
      fc.tuple(
        fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: keyArb }),
        mostly(tie("state")),
      ),
      {
        minLength: 2,
        maxLength: 3,
      },
    ).map((list) => list.map(([key, state], i) => [key ?? KEYS[i], state] as const)),
    fc.constantFrom("compound", "compound", "parallel"),
    optional({ initial: mostly(targetArb), onDone: transitionsArb }),
  ).map(([fields, children, kind, extra]) => {
    const out: Json = { ...fields, states: objectOf(children) };
    if (kind === "parallel") out.type = "parallel";
    else Object.assign(out, extra);
    return out;
  }),
}));

/** A machine: the root state plus the machine's sections, usually well formed. */
const machineArb: fc.Arbitrary<unknown> = fc.tuple(
  stateArb.filter((s) => (s as Json).states !== undefined) as fc.Arbitrary<Json>,
  fc.record({
    id: mostly(fc.constant("m")),
    guards: mostly(fc.constant("ok")),
    actions: mostly(fc.constant("ok")),
    context: mostly(fc.constant("ok")),
    version: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(undefined, 1, "2") },
      { weight: 1, arbitrary: junkArb },
    ),
  }),
).map(([root, s]) => {
  const out: Json = objectOf([...Object.entries(root), ["id", s.id]]);
  out.guards = s.guards === "ok"
    ? objectOf([["yes", () => true], ["no", () => false], ["ownConstructor", () => true]])
    : s.guards;
  out.actions = s.actions === "ok"
    ? objectOf([["noop", () => {}], ["inc", ({ context }: { context: { n: number } }) => {
      context.n++;
    }], ["ownConstructor", () => {}]])
    : s.actions;
  out.context = s.context === "ok" ? { n: 0 } : s.context;
  if (s.version !== undefined) out.version = s.version;
  return out;
});

/** A change at one place in a config: a value replaced, or a key removed. */
interface Mutation {
  pick: number;
  key: string;
  value: unknown;
  remove: boolean;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  key: fc.oneof(
    fc.constantFrom("type", "states", "on", "initial", "target", "guard", "entry", "always"),
    fc.constantFrom(...PROTO_NAMES),
  ),
  value: fc.oneof(junkArb, targetArb, guardArb, badNameArb),
  remove: fc.boolean(),
});

/** A deep copy that keeps functions and data keys such as `__proto__` (fast-check reuses values). */
function copy(v: unknown, depth = 0): unknown {
  if (typeof v !== "object" || v === null || depth > 20) return v;
  if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
  return objectOf(Object.entries(v).map(([k, x]) => [k, copy(x, depth + 1)] as const));
}

/** Applies mutations to a copy's objects, chosen by position in a walk of the config. */
function mutate(original: unknown, mutations: Mutation[]): unknown {
  const config = copy(original);
  for (const m of mutations) {
    const objects: Json[] = [];
    const seen = new Set<unknown>();
    const work: unknown[] = [config];
    while (work.length > 0 && objects.length < 200) {
      const v = work.pop();
      if (typeof v !== "object" || v === null || seen.has(v)) continue;
      seen.add(v);
      if (!Array.isArray(v)) objects.push(v as Json);
      for (const key of Object.keys(v)) work.push((v as Json)[key]);
    }
    if (objects.length === 0) return config;
    const target = objects[m.pick % objects.length];
    if (m.remove) delete target[m.key];
    else {Object.defineProperty(target, m.key, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });}
  }
  return config;
}

/** The configuration rules of SCXML, checked on the compiled model. */
function assertLegalConfiguration(machine: Machine, ids: string[], what: string): void {
  const compiled = compiledOf(machine);
  const active = new Set(ids.map((id) => {
    const node = compiled.byId.get(id);
    assert.ok(node !== undefined, `${what}: unknown active state "${id}"`);
    return node;
  }));
  assert.equal(active.size, ids.length, `${what}: a state is listed twice: ${ids.join(", ")}`);
  for (const s of active) {
    const { parent } = s;
    assert.ok(
      parent === null || parent === compiled.root || active.has(parent),
      `${what}: "${s.id}" is active without its parent "${parent?.id}"`,
    );
    assert.notEqual(s.kind, "history", `${what}: history state "${s.id}" is active`);
    const activeChildren = s.children.filter((c) => active.has(c)).length;
    if (s.kind === "compound") {
      assert.equal(activeChildren, 1, `${what}: compound "${s.id}" has ${activeChildren} active`);
    }
    if (s.kind === "parallel") {
      assert.equal(activeChildren, s.children.length, `${what}: parallel "${s.id}" incomplete`);
    }
  }
  if (ids.length > 0 && compiled.root.kind === "compound") {
    const top = compiled.root.children.filter((c) => active.has(c)).length;
    assert.equal(top, 1, `${what}: ${top} top-level states active`);
  }
}

/**
 * Virtual time that fires at most `max` timers per step: a machine whose timers keep re-arming
 * at zero delay cannot hold a case for ever (VirtualClock.advance allows 100,001 firings).
 */
class BoundedClock implements Clock {
  #now = 0;
  #next = 0;
  readonly #timers = new Map<number, { due: number; fn: () => void }>();
  now(): number {
    return this.#now;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Moves time up to `ms` ahead, firing due timers in order, at most `max` of them. */
  step(ms: number, max = 20): void {
    const until = this.#now + ms;
    for (let fired = 0; fired < max; fired++) {
      let first: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].due <= until && (first === undefined || entry[1].due < first[1].due)) {
          first = entry;
        }
      }
      if (first === undefined) break;
      this.#timers.delete(first[0]);
      this.#now = first[1].due;
      try {
        first[1].fn();
      } catch (e) {
        assertClearError(e, "a timer");
      }
    }
    this.#now = Math.max(this.#now, until);
  }
}

/** How many cases defined, started, and were refused (printed with STATECRAFT_FUZZ_RUNS). */
export const tally = { defined: 0, refused: 0, events: 0 };

/** Defines `config`; when it defines, starts it and runs `events`, checking each step. */
async function check(config: unknown, events: string[]): Promise<void> {
  const defined = await outcome("defineMachine", () => defineMachine(config as never));
  if ("error" in defined) {
    const e = defined.error;
    tally.refused++;
    assert.ok(e instanceof DefinitionError, `not a DefinitionError: ${e.name}: ${e.message}`);
    assert.ok(e.problems.some((p) => p.severity === "error"), "refused without an error");
    for (const p of e.problems) {
      assert.ok(Array.isArray(p.path) && p.path.every((k) => typeof k === "string"), "path");
      assert.ok(p.message.length > 0, "a problem without a message");
    }
    return;
  }
  const machine = defined.ok as Machine;
  tally.defined++;
  for (const p of machine.warnings) assert.ok(Array.isArray(p.path), "a warning without a path");
  const clock = new BoundedClock();
  const started = await outcome("start", () => machine.start({ clock }));
  if ("error" in started) return;
  const instance = started.ok;
  try {
    assertLegalConfiguration(machine, instance.configuration, "after start");
    for (const event of events) {
      if (instance.status !== "active") break;
      tally.events++;
      const sent = await outcome(`send ${JSON.stringify(event)}`, () => instance.send(event));
      if ("error" in sent) assertClearError(sent.error, "send");
      assertLegalConfiguration(machine, instance.configuration, `after ${JSON.stringify(event)}`);
      await outcome("advance", () => clock.step(20));
      assertLegalConfiguration(machine, instance.configuration, "after timers");
    }
    await outcome("toMermaid", () => toMermaid(machine));
    await outcome("toDot", () => toDot(machine));
  } finally {
    if (instance.status === "active") instance.stop();
  }
}

const eventsArb = fc.array(fc.oneof(eventArb, fc.constantFrom("GO", "STOP", "x.y.z")), {
  maxLength: 5,
});

Deno.test("random definitions define and run legally, or are refused with paths", async () => {
  await fc.assert(fc.asyncProperty(machineArb, eventsArb, check), params(1000));
});

Deno.test("mutated definitions define and run legally, or are refused with paths", async () => {
  await fc.assert(
    fc.asyncProperty(
      machineArb,
      fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      eventsArb,
      (config, mutations, events) => check(mutate(config, mutations), events),
    ),
    params(1000),
  );
});

Deno.test("the cases ran: some defined and ran events, some were refused", () => {
  console.log(`definitions: ${JSON.stringify(tally)}`);
  assert.ok(tally.defined > 0 && tally.refused > 0 && tally.events > 0);
});
