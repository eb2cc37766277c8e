// defineMachine checks the whole definition and reports every problem with its path.
import assert from "node:assert/strict";
import { defineMachine, DefinitionError, type MachineConfig, validateMachine } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
function problemsOf(config: any): string[] {
  try {
    defineMachine(config as MachineConfig);
  } catch (e) {
    assert.ok(e instanceof DefinitionError, `expected DefinitionError, got ${e}`);
    return e.problems.filter((p) => p.severity === "error").map((p) =>
      `${p.path.join(".")}: ${p.message}`
    );
  }
  assert.fail("expected a DefinitionError");
}

Deno.test("every problem is reported at once, each with its path", () => {
  const problems = problemsOf({
    id: "door",
    initial: "nope",
    states: {
      open: { on: { CLOSE: "#idle" } },
      closed: { type: "final", on: { OPEN: "open" } },
      dup: { id: "open" },
    },
  });
  assert.deepEqual(
    problems.sort(),
    [
      'initial: unknown target "nope" in state "door"',
      'states.closed.on: a final state cannot have "on": no transitions or activities leave a final state',
      'states.dup: duplicate state id "open" (also used by states.open)',
      'states.open.on.CLOSE.target: unknown target "#idle" in state "open"',
    ].sort(),
  );
});

Deno.test("the error message lists every problem for a reader", () => {
  const err = assert.throws(
    () => defineMachine({ id: "m", states: { a: { on: { X: "zz" } }, b: { on: { Y: "yy" } } } }),
    DefinitionError,
  );
  void err;
  try {
    defineMachine({ id: "m", states: { a: { on: { X: "zz" } }, b: { on: { Y: "yy" } } } });
  } catch (e) {
    const message = (e as Error).message;
    assert.match(message, /machine "m" has 2 definition errors/);
    assert.match(message, /states\.a\.on\.X\.target: unknown target "zz" in state "a"/);
    assert.match(message, /states\.b\.on\.Y\.target: unknown target "yy" in state "b"/);
  }
});

Deno.test("structural rules", () => {
  const cases: [unknown, RegExp][] = [
    [{ states: { a: {} } }, /^id: the machine needs an id/],
    [{ id: "m" }, /a machine needs at least one state/],
    [
      { id: "m", states: { a: { type: "final", states: { x: {} } } } },
      /a final state cannot have child states/,
    ],
    [
      { id: "m", states: { a: { states: { h: { type: "history" } } } } },
      /history state needs a parent with child states/,
    ],
    [
      { id: "m", states: { a: { type: "parallel", initial: "x", states: { x: {}, y: {} } } } },
      /a parallel state has no initial/,
    ],
    [{ id: "m", states: { a: { type: "compound" } } }, /a compound state needs child states/],
    [{ id: "m", states: { a: { type: "weird" } } }, /unknown state type "weird"/],
    [{ id: "m", states: { a: { onn: {} } } }, /states\.a\.onn: unknown state property "onn"/],
    [{ id: "m", states: { "a.b": {} } }, /must be non-empty and contain no "\."/],
    [
      { id: "m", states: { a: { on: { X: { target: "a", gaurd: () => true } } } } },
      /unknown transition property "gaurd"/,
    ],
    [{ id: "m", states: { a: { on: { X: { guard: "nope" } } } } }, /unknown guard "nope"/],
    [{ id: "m", states: { a: { entry: "nope" } } }, /unknown action "nope"/],
    [{ id: "m", states: { a: { after: { soon: "a" } } } }, /"soon" is not a delay/],
    [{ id: "m", states: { a: { on: { "a..b": "a" } } } }, /empty segment/],
    [{ id: "m", states: { a: { on: { "*x": "a" } } } }, /not a valid event descriptor/],
    [
      { id: "m", states: { a: { invoke: { src: 42 } } } },
      /invoke src must be an async function or a machine/,
    ],
    [
      { id: "m", states: { a: { history: "deep" } } },
      /"history" belongs on a state of type "history"/,
    ],
    [
      {
        id: "m",
        states: { a: { states: { x: {}, h: { type: "history", history: "sideways" } } } },
      },
      /history must be "shallow" or "deep"/,
    ],
    [{
      id: "m",
      states: {
        a: { states: { x: { states: { y: {} } }, h: { type: "history", target: "x.y" } } },
      },
    }, /shallow history's default must be a child/],
    [{ id: "m", states: { a: { output: 1 } } }, /"output" \(done data\) belongs on final states/],
    [
      { id: "m", states: { c: { type: "choice" } } },
      /a choice state needs eventless \(always\) transitions/,
    ],
    [
      { id: "m", states: { c: { type: "choice", always: "d", on: { X: "d" } }, d: {} } },
      /a choice state has only eventless/,
    ],
    [{
      id: "m",
      states: { a: { on: { X: { target: ["b.x", "b.y"] } } }, b: { states: { x: {}, y: {} } } },
    }, /are in the same region/],
    [{ id: "m", states: { a: { when: { target: "a" } } } }, /needs a condition/],
    [{ id: "m", type: "final", states: { a: {} } }, /root must be compound or parallel/],
    [{ id: "m", states: { a: { defer: "X" } } }, /defer must be an array/],
    [{ id: "m", states: { a: { onDone: "a" } } }, /onDone belongs on compound and parallel states/],
  ];
  for (const [config, pattern] of cases) {
    const problems = problemsOf(config);
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `${JSON.stringify(config)}: expected ${pattern}, got ${JSON.stringify(problems)}`,
    );
  }
});

Deno.test("warnings: unreachable states and a choice without an else", () => {
  const machine = defineMachine({
    id: "m",
    states: {
      a: { on: { GO: "c" } },
      island: { on: { X: "a" } },
      c: { type: "choice", always: [{ target: "a", guard: () => true }] },
    },
  });
  const warnings = machine.warnings.map((w) => `${w.path.join(".")}: ${w.message}`);
  assert.deepEqual(warnings.sort(), [
    "states.c: every branch of this choice state is guarded: add an unguarded last branch (an else) or the machine can get stuck here",
    'states.island: state "island" is unreachable: no initial or transition enters it',
  ]);
});

Deno.test("validateMachine returns problems without throwing", () => {
  const problems = validateMachine({ id: "m", states: { a: { on: { X: "nowhere" } } } });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].severity, "error");
  assert.deepEqual(problems[0].path, ["states", "a", "on", "X", "target"]);
});

Deno.test("a non-object definition is an error, not a crash", () => {
  assert.deepEqual(problemsOf(null), [": a machine definition must be an object"]);
  assert.deepEqual(problemsOf("door"), [": a machine definition must be an object"]);
});
