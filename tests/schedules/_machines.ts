// Machines and helpers the schedule tests share.
import { defineMachine } from "../../mod.ts";
import type { Store } from "../../lib/persist/store.ts";

/** Counts the BEAT events it receives. */
export const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  initial: "on",
  states: { on: { on: { BEAT: { actions: ({ context }) => context.n++ } } } },
});

/** Runs until FINISH: "still active" for the overlap policy. */
export const job = defineMachine({
  id: "job",
  initial: "running",
  states: { running: { on: { FINISH: "finished" } }, finished: { type: "final" } },
});

/** The ticks (ISO) of the schedule events an instance was sent, in journal order. */
export async function beats(store: Store, id: string): Promise<string[]> {
  const journal = await store.history(id, { limit: 10_000 });
  return journal.filter((e) => e.kind === "event").map((e) =>
    String((e.event as { tick?: unknown }).tick)
  );
}

/** The ISO time of `Date.UTC(...)` arguments. */
export function iso(...parts: [number, number, number?, number?, number?, number?]): string {
  return new Date(Date.UTC(...parts)).toISOString();
}
