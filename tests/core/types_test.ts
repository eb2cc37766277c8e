// Typing: defineMachine<Context, Events> types the context in actions and guards and the
// events send accepts. `deno check` (part of the test task) fails if an expected error is gone.
import assert from "node:assert/strict";
import { assign, defineMachine } from "../../mod.ts";

interface Ctx {
  count: number;
  label: string;
}
type Ev = { type: "INC"; by: number } | { type: "RENAME"; label: string } | { type: "RESET" };

const counter = defineMachine<Ctx, Ev>({
  id: "typed",
  context: { count: 0, label: "" },
  states: {
    idle: {
      on: {
        INC: { actions: ({ context, event }) => context.count += event.by },
        RENAME: { actions: ({ context, event }) => context.label = event.label },
        RESET: {
          actions: assign<Ctx, Ev>({ count: 0 }),
          guard: ({ context }) => context.count > 0,
        },
        "error.execution": { actions: ({ event }) => void event.type },
      },
    },
  },
});

Deno.test("typed events: an action under on.INC sees the INC event's payload type", () => {
  const i = counter.start();
  i.send({ type: "INC", by: 3 });
  i.send({ type: "RENAME", label: "three" });
  assert.deepEqual(i.context, { count: 3, label: "three" });
});

Deno.test("typed events: send accepts the declared events and rejects others at compile time", () => {
  const i = counter.start();
  i.send({ type: "INC", by: 2 });
  i.send({ type: "RENAME", label: "x" });
  i.send("RESET");
  assert.deepEqual(i.context, { count: 0, label: "x" });
  // Type-checked, never run: each line must be a compile error.
  const _illTyped = () => {
    // @ts-expect-error: not an event of this machine
    i.send({ type: "NOPE" });
    // @ts-expect-error: payload of the wrong type
    i.send({ type: "INC", by: "two" });
    // @ts-expect-error: misspelled name
    i.send("RESTE");
    // @ts-expect-error: the context is typed
    const wrong: string = i.context.count;
    return wrong;
  };
  const count: number = i.context.count;
  assert.equal(count, 0);
});
