// One test per SCXML rule the engine implements (W3C SCXML Appendix D), observed from outside.
import assert from "node:assert/strict";
import { type ActionArgs, defineMachine, type MachineConfig, VirtualClock } from "../../mod.ts";

/** A machine whose every state logs its entries and exits. */
// deno-lint-ignore no-explicit-any
function traced(config: MachineConfig<any>) {
  const log: string[] = [];
  // deno-lint-ignore no-explicit-any
  const instrument = (states: MachineConfig<any>["states"], prefix: string) => {
    for (const [key, s] of Object.entries(states ?? {})) {
      if (s.type === "history") continue;
      const id = prefix === "" ? key : `${prefix}.${key}`;
      const entry = s.entry === undefined ? [] : Array.isArray(s.entry) ? s.entry : [s.entry];
      const exit = s.exit === undefined ? [] : Array.isArray(s.exit) ? s.exit : [s.exit];
      s.entry = [() => log.push(`enter ${id}`), ...entry];
      s.exit = [() => log.push(`exit ${id}`), ...exit];
      instrument(s.states, id);
    }
  };
  instrument(config.states, "");
  return { machine: defineMachine(config), log };
}

Deno.test("initial: default is the first child in document order, entered parent first", () => {
  const { machine, log } = traced({
    id: "m",
    states: { a: { states: { a1: {}, a2: {} } }, b: {} },
  });
  const i = machine.start();
  assert.deepEqual(i.configuration, ["a", "a.a1"]);
  assert.deepEqual(i.atomicConfiguration, ["a.a1"]);
  assert.deepEqual(log, ["enter a", "enter a.a1"]);
});

Deno.test("initial: deep initial names descendants, entering their ancestors", () => {
  const machine = defineMachine({
    id: "m",
    initial: ["a.x.x2"],
    states: { a: { states: { x: { states: { x1: {}, x2: {} } } } }, b: {} },
  });
  assert.deepEqual(machine.start().configuration, ["a", "a.x", "a.x.x2"]);
});

Deno.test("exit order is reverse document order, entry order document order", () => {
  const { machine, log } = traced({
    id: "m",
    initial: "p",
    states: {
      p: {
        type: "parallel",
        states: {
          r1: { states: { a: {} } },
          r2: { states: { b: {} } },
        },
        on: { GO: "q" },
      },
      q: { type: "parallel", states: { s1: {}, s2: {} } },
    },
  });
  const i = machine.start();
  log.length = 0;
  i.send("GO");
  assert.deepEqual(log, [
    "exit p.r2.b",
    "exit p.r2",
    "exit p.r1.a",
    "exit p.r1",
    "exit p",
    "enter q",
    "enter q.s1",
    "enter q.s2",
  ]);
  assert.deepEqual(i.configuration, ["q", "q.s1", "q.s2"]);
});

Deno.test("transition actions run after exits and before entries", () => {
  const log: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        exit: () => log.push("exit a"),
        on: { GO: { target: "b", actions: () => log.push("t") } },
      },
      b: { entry: () => log.push("enter b") },
    },
  }).start();
  i.send("GO");
  assert.deepEqual(log, ["exit a", "t", "enter b"]);
});

Deno.test("descendant transitions are preferred over ancestors; document order among siblings", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: { E: "c" },
        states: { a1: { on: { E: [{ target: "#b", guard: () => false }, "#d", "#c"] } } },
      },
      b: {},
      c: {},
      d: {},
    },
  }).start();
  i.send("E");
  assert.deepEqual(i.configuration, ["d"]);
});

Deno.test("event descriptors: prefix matching at dot boundaries and the * wildcard", () => {
  const seen: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: {
          "error": { actions: ({ event }) => seen.push(`error:${event.type}`) },
          "foo.bar": { actions: ({ event }) => seen.push(`foo.bar:${event.type}`) },
          "*": { actions: ({ event }) => seen.push(`*:${event.type}`) },
        },
      },
    },
  }).start();
  i.send("error.execution");
  i.send("errors");
  i.send("foo.bar.baz");
  i.send("foo.barx");
  i.send("foo");
  assert.deepEqual(seen, [
    "error:error.execution",
    "*:errors",
    "foo.bar:foo.bar.baz",
    "*:foo.barx",
    "*:foo",
  ]);
});

Deno.test("internal queue: raised events run before external ones queued earlier", () => {
  const order: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: {
          GO: {
            actions: ({ raise, send }) => {
              send("EXT");
              raise("INT");
            },
          },
          INT: { actions: () => order.push("INT") },
          EXT: { actions: () => order.push("EXT") },
        },
      },
    },
  }).start();
  i.send("GO");
  assert.deepEqual(order, ["INT", "EXT"]);
});

Deno.test("eventless transitions run until the configuration is stable", () => {
  const i = defineMachine({
    id: "m",
    context: { n: 0 },
    states: {
      a: { on: { GO: "count" } },
      count: {
        entry: ({ context }) => context.n++,
        always: [{ target: "done", guard: ({ context }) => context.n >= 3 }, { target: "again" }],
      },
      again: { always: "count" },
      done: {},
    },
  }).start();
  i.send("GO");
  assert.deepEqual(i.configuration, ["done"]);
  assert.equal(i.context.n, 3);
});

Deno.test("eventless transitions are checked before the next internal event", () => {
  const order: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: { on: { GO: { target: "b", actions: ({ raise }) => raise("NEXT") } } },
      b: { always: { target: "c", actions: () => order.push("always") } },
      c: { on: { NEXT: { target: "d", actions: () => order.push("NEXT") } } },
      d: {},
    },
  }).start();
  i.send("GO");
  assert.deepEqual(order, ["always", "NEXT"]);
  assert.deepEqual(i.configuration, ["d"]);
});

Deno.test("internal transition (default) does not exit its source; reenter: true does", () => {
  const run = (reenter: boolean) => {
    const { machine, log } = traced({
      id: "m",
      states: { p: { states: { a: {}, b: {} }, on: { GO: { target: ".b", reenter } } } },
    });
    const i = machine.start();
    log.length = 0;
    i.send("GO");
    assert.deepEqual(i.configuration, ["p", "p.b"]);
    return log;
  };
  assert.deepEqual(run(false), ["exit p.a", "enter p.b"]);
  assert.deepEqual(run(true), ["exit p.a", "exit p", "enter p", "enter p.b"]);
});

Deno.test("a self-transition exits and re-enters its source (SCXML)", () => {
  const { machine, log } = traced({ id: "m", states: { a: { on: { GO: "a" } } } });
  const i = machine.start();
  log.length = 0;
  i.send("GO");
  assert.deepEqual(log, ["exit a", "enter a"]);
});

Deno.test("targetless transitions run actions without exiting anything", () => {
  const { machine, log } = traced({
    id: "m",
    context: { hits: 0 },
    states: {
      a: { states: { a1: {} }, on: { HIT: { actions: ({ context }) => context.hits++ } } },
    },
  });
  const i = machine.start();
  log.length = 0;
  i.send("HIT");
  i.send("HIT");
  assert.deepEqual(log, []);
  assert.equal(i.context.hits, 2);
});

Deno.test("parallel: each region takes its own transition for one event", () => {
  const i = defineMachine({
    id: "m",
    type: "parallel",
    states: {
      r1: { states: { a: { on: { E: "b" } }, b: {} } },
      r2: { states: { c: { on: { E: "d" } }, d: {} } },
    },
  }).start();
  i.send("E");
  assert.deepEqual(i.atomicConfiguration, ["r1.b", "r2.d"]);
  assert.equal(i.stats.transitions, 2);
});

Deno.test("conflicts: a transition leaving the parallel state preempts later ones", () => {
  const i = defineMachine({
    id: "m",
    states: {
      p: {
        type: "parallel",
        states: {
          r1: { states: { a: { on: { E: "#out" } } } },
          r2: { states: { c: { on: { E: "d" } }, d: {} } },
        },
      },
      out: {},
    },
  }).start();
  i.send("E");
  assert.deepEqual(i.configuration, ["out"]);
  assert.equal(i.stats.transitions, 1);
});

Deno.test("conflicts: a descendant's transition preempts its ancestor's", () => {
  // r1.a selects its own E; r2.c has none and selects p's. Both exit r1.a, so they conflict;
  // p is not a descendant of r1.a, so p's transition is preempted (removeConflictingTransitions).
  const i = defineMachine({
    id: "m",
    states: {
      p: {
        type: "parallel",
        on: { E: "out" },
        states: {
          r1: { states: { a: { on: { E: "b" } }, b: {} } },
          r2: { states: { c: {} } },
        },
      },
      out: {},
    },
  }).start();
  i.send("E");
  assert.deepEqual(i.atomicConfiguration, ["p.r1.b", "p.r2.c"]);
});

Deno.test("multiple targets enter several regions of a parallel state", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: { on: { GO: { target: ["p.r1.y", "p.r2.w"] } } },
      p: {
        type: "parallel",
        states: { r1: { states: { x: {}, y: {} } }, r2: { states: { v: {}, w: {} } } },
      },
    },
  }).start();
  i.send("GO");
  assert.deepEqual(i.atomicConfiguration, ["p.r1.y", "p.r2.w"]);
});

Deno.test("done.state: compound completion carries the final state's output", () => {
  const got: unknown[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      job: {
        states: {
          work: { on: { FINISH: "ok" } },
          ok: { type: "final", output: ({ context }) => ({ n: context.n }) },
        },
        onDone: { target: "after", actions: ({ event }) => got.push(event.output) },
      },
      after: {},
    },
    context: { n: 7 },
  }).start();
  i.send("FINISH");
  assert.deepEqual(i.configuration, ["after"]);
  assert.deepEqual(got, [{ n: 7 }]);
});

Deno.test("done.state: a parallel state is done when every region is final", () => {
  const events: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      p: {
        type: "parallel",
        states: {
          r1: { states: { a: { on: { A: "fa" } }, fa: { type: "final" } } },
          r2: { states: { b: { on: { B: "fb" } }, fb: { type: "final" } } },
        },
        on: { "done.state.*": { actions: ({ event }) => events.push(event.type) } },
      },
    },
  }).start();
  i.send("A");
  assert.deepEqual(events, ["done.state.p.r1"]);
  i.send("B");
  assert.deepEqual(events, ["done.state.p.r1", "done.state.p.r2", "done.state.p"]);
});

Deno.test("top-level final: status done, output set, exit actions run, no more events", () => {
  const log: string[] = [];
  const i = defineMachine({
    id: "m",
    exit: () => log.push("exit root"),
    states: {
      a: { on: { END: "end" }, exit: () => log.push("exit a") },
      end: { type: "final", output: { result: 42 }, exit: () => log.push("exit end") },
    },
  }).start();
  i.send("END");
  assert.equal(i.status, "done");
  assert.deepEqual(i.output, { result: 42 });
  assert.deepEqual(log, ["exit a", "exit end", "exit root"]);
  assert.deepEqual(i.configuration, ["end"]);
  assert.throws(() => i.send("END"), /is done/);
});

Deno.test("a parallel root is done when every region is final", () => {
  const i = defineMachine({
    id: "m",
    type: "parallel",
    states: {
      r1: { states: { a: { on: { A: "f" } }, f: { type: "final" } } },
      r2: { states: { b: { on: { B: "f" } }, f: { type: "final" } } },
    },
  }).start();
  i.send("A");
  assert.equal(i.status, "active");
  i.send("B");
  assert.equal(i.status, "done");
});

Deno.test("history: shallow restores the last child, default target before any visit", () => {
  const i = defineMachine({
    id: "m",
    states: {
      off: { on: { ON: "on.hist" } },
      on: {
        states: {
          low: { on: { UP: "high" } },
          high: { states: { h1: { on: { NEXT: "h2" } }, h2: {} } },
          hist: { type: "history", target: "high" },
        },
        on: { OFF: "off" },
      },
    },
  }).start();
  i.send("ON");
  assert.deepEqual(i.atomicConfiguration, ["on.high.h1"], "default target");
  i.send("NEXT");
  i.send("OFF");
  i.send("ON");
  assert.deepEqual(i.atomicConfiguration, ["on.high.h1"], "shallow: high re-entered by default");
});

Deno.test("history: deep restores every descendant leaf", () => {
  const i = defineMachine({
    id: "m",
    states: {
      on: {
        states: {
          low: { on: { UP: "high" } },
          high: { states: { h1: { on: { NEXT: "h2" } }, h2: {} } },
          hist: { type: "history", history: "deep" },
        },
        on: { OFF: "off" },
      },
      off: { on: { ON: "on.hist" } },
    },
  }).start();
  i.send("UP");
  i.send("NEXT");
  i.send("OFF");
  assert.deepEqual(i.atomicConfiguration, ["off"]);
  i.send("ON");
  assert.deepEqual(i.atomicConfiguration, ["on.high.h2"]);
});

Deno.test("history: deep history inside parallel regions restores every region", () => {
  const i = defineMachine({
    id: "m",
    states: {
      p: {
        type: "parallel",
        states: {
          r1: { states: { a: { on: { A: "b" } }, b: {} } },
          r2: { states: { c: { on: { C: "d" } }, d: {} } },
          h: { type: "history", history: "deep" },
        },
        on: { OUT: "out" },
      },
      out: { on: { BACK: "p.h" } },
    },
  }).start();
  i.send("A");
  i.send("C");
  i.send("OUT");
  i.send("BACK");
  assert.deepEqual(i.atomicConfiguration, ["p.r1.b", "p.r2.d"]);
});

Deno.test("error.execution: a throwing action ends its block and the machine goes on", () => {
  const log: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: {
          GO: {
            target: "b",
            actions: [() => log.push("one"), () => {
              throw new Error("boom");
            }, () => log.push("never")],
          },
        },
      },
      b: {
        on: {
          "error.execution": {
            target: "c",
            actions: ({ event }) => log.push(String((event.error as Error).message)),
          },
        },
      },
      c: {},
    },
  }).start();
  i.send("GO");
  assert.deepEqual(log, ["one", "boom"]);
  assert.deepEqual(i.configuration, ["c"]);
  assert.equal(i.stats.errors, 1);
});

Deno.test("a throwing guard counts as false and raises error.execution", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: {
          GO: [{
            target: "b",
            guard: () => {
              throw new Error("bad guard");
            },
          }, { target: "c" }],
          "error.execution": "d",
        },
      },
      b: {},
      c: { on: { "error.execution": "d" } },
      d: {},
    },
  }).start();
  i.send("GO");
  assert.deepEqual(i.configuration, ["d"]);
});

Deno.test("matches() is SCXML In(): usable in guards across regions", () => {
  const i = defineMachine({
    id: "m",
    type: "parallel",
    states: {
      power: { states: { off: { on: { POWER: "on" } }, on: {} } },
      door: {
        states: {
          shut: { on: { OPEN: { target: "open", guard: ({ matches }) => matches("power.off") } } },
          open: {},
        },
      },
    },
  }).start();
  i.send("POWER");
  i.send("OPEN");
  assert.deepEqual(i.atomicConfiguration, ["power.on", "door.shut"]);
  assert.equal(i.matches("power"), true);
  assert.equal(i.matches("door.open"), false);
  assert.equal(i.matches("nope"), false);
});

Deno.test("named guards and actions resolve from the machine's maps", () => {
  const i = defineMachine({
    id: "m",
    context: { n: 0 },
    guards: { small: ({ context }) => (context.n as number) < 2 },
    actions: { inc: ({ context }) => (context.n as number)++ },
    states: { a: { on: { E: { guard: "small", actions: "inc" } } } },
  }).start();
  for (let k = 0; k < 5; k++) i.send("E");
  assert.equal(i.context.n, 2);
});

Deno.test("an action's send goes to the external queue, after the current macrostep", () => {
  const order: string[] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: { on: { GO: { target: "b", actions: ({ send }: ActionArgs) => send("LATER") } } },
      b: {
        entry: () => order.push("enter b"),
        always: { target: "c", actions: () => order.push("always") },
      },
      c: { on: { LATER: { actions: () => order.push("LATER") } } },
    },
  }).start();
  i.send("GO");
  assert.deepEqual(order, ["enter b", "always", "LATER"]);
});

Deno.test("livelock: an eventless cycle is cut short with a clear error", () => {
  const i = defineMachine({
    id: "m",
    states: { a: { on: { GO: "b" } }, b: { always: "c" }, c: { always: "b" } },
  }).start({ maxMicrosteps: 100 });
  assert.throws(() => i.send("GO"), /more than 100 microsteps/);
  assert.equal(i.status, "active");
});

Deno.test("root transitions apply in every state", () => {
  const i = defineMachine({
    id: "m",
    on: { RESET: ".a" },
    states: { a: { on: { NEXT: "b" } }, b: { states: { b1: {} } } },
  }).start();
  i.send("NEXT");
  i.send("RESET");
  assert.deepEqual(i.configuration, ["a"]);
});

Deno.test("ids: custom ids, # targets, and XState-style #machine.path targets", () => {
  const i = defineMachine({
    id: "door",
    states: {
      closed: { on: { OPEN: "#wide", AJAR: "#door.open.ajar" } },
      open: { states: { wide: { id: "wide" }, ajar: {} }, on: { CLOSE: "closed" } },
    },
  }).start();
  i.send("OPEN");
  assert.deepEqual(i.configuration, ["open", "wide"]);
  i.send("CLOSE");
  i.send("AJAR");
  assert.deepEqual(i.configuration, ["open", "open.ajar"]);
});

Deno.test("delayed sends and cancel go through the clock", () => {
  const clock = new VirtualClock();
  const i = defineMachine({
    id: "m",
    states: {
      idle: {
        on: {
          ARM: { target: "armed", actions: ({ send }) => send("FIRE", { delay: "2s", id: "t1" }) },
        },
      },
      armed: {
        on: { FIRE: "fired", DISARM: { target: "idle", actions: ({ cancel }) => cancel("t1") } },
      },
      fired: {},
    },
  }).start({ clock });
  i.send("ARM");
  clock.advance(1999);
  assert.deepEqual(i.configuration, ["armed"]);
  i.send("DISARM");
  clock.advance(5000);
  assert.deepEqual(i.configuration, ["idle"]);
  i.send("ARM");
  clock.advance(2000);
  assert.deepEqual(i.configuration, ["fired"]);
});

Deno.test("after: delayed transitions fire in due order and are cancelled on exit", () => {
  const clock = new VirtualClock();
  const i = defineMachine({
    id: "m",
    states: {
      a: { after: { 1000: "b", 500: "c" }, on: { LEAVE: "d" } },
      b: {},
      c: { after: { "1s": "d" } },
      d: { on: { BACK: "a" } },
    },
  }).start({ clock });
  clock.advance(500);
  assert.deepEqual(i.configuration, ["c"], "500 fires first; the 1000 timer of a is cancelled");
  clock.advance(999);
  assert.deepEqual(i.configuration, ["c"]);
  clock.advance(1);
  assert.deepEqual(i.configuration, ["d"]);
  i.send("BACK");
  i.send("LEAVE");
  clock.advance(10_000);
  assert.deepEqual(i.configuration, ["d"], "timers of an exited state never fire");
});

Deno.test("error.communication for a send to an unknown target", () => {
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: {
          GO: { actions: ({ send }) => send("X", { to: "nowhere" }) },
          "error.communication": "b",
        },
      },
      b: {},
    },
  }).start();
  i.send("GO");
  assert.deepEqual(i.configuration, ["b"]);
});

Deno.test("onSend receives sends to external targets", () => {
  const sent: [string, string][] = [];
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        on: { GO: { actions: ({ send }) => send({ type: "PING", n: 1 }, { to: "plugin:x" }) } },
      },
    },
  }).start({ onSend: (to, event) => sent.push([to, event.type]) });
  i.send("GO");
  assert.deepEqual(sent, [["plugin:x", "PING"]]);
});

Deno.test("onDone of a parallel state waits for every region (exact, not prefix)", () => {
  const i = defineMachine({
    id: "m",
    states: {
      p: {
        type: "parallel",
        onDone: "end",
        states: {
          a: { states: { a1: { on: { A: "a2" } }, a2: { type: "final" } } },
          b: { states: { b1: { on: { B: "b2" } }, b2: { type: "final" } } },
        },
      },
      end: { type: "final" },
    },
  }).start();
  i.send("A");
  assert.deepEqual(i.atomicConfiguration, ["p.a.a2", "p.b.b1"]);
  i.send("B");
  assert.equal(i.status, "done");
});

Deno.test("after of a parent is not taken by a child's timer of the same delay", () => {
  const clock = new VirtualClock();
  let parentTaken = 0;
  const i = defineMachine({
    id: "m",
    states: {
      a: {
        after: { 1000: { actions: () => parentTaken++ } },
        states: {
          x: { on: { GO: "y" } },
          y: { after: { 1000: { target: "z", guard: () => false } } },
          z: {},
        },
      },
    },
  }).start({ clock });
  clock.advance(500);
  i.send("GO");
  clock.advance(500);
  assert.equal(parentTaken, 1);
  clock.advance(1000);
  assert.equal(
    parentTaken,
    1,
    "the child's after.1000.a.y must not match the parent's after.1000.a",
  );
});
