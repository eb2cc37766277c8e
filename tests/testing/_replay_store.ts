// A file-backed store with journals to replay, and the machine files the replay tests load:
// the definition the journals were written under, and new definitions with one change each.
import { DurableStore, openStore } from "../../lib/persist/store.ts";
import { VirtualClock } from "../../core.ts";

const CORE = new URL("../../core.ts", import.meta.url).href;

/** What differs from the definition the journals were written under. */
export type Variant = "same" | "guard" | "target" | "target-migrated";

/**
 * The source of a machine file: `order` (the machine under test) and `note` (another machine
 * of the same store).
 */
export function machineSource(variant: Variant): string {
  const minItems = variant === "guard" ? 2 : 1;
  const paid = variant === "target" || variant === "target-migrated" ? "cancelled" : "shipped";
  const version = variant === "target-migrated" ? 2 : 1;
  const migrations = variant === "target-migrated"
    ? `migrations: { "1": (s) => ({ ...s, version: 2 }) },`
    : "";
  return `import { defineMachine } from "${CORE}";

export const order = defineMachine({
  id: "order",
  version: ${version},
  ${migrations}
  initial: "cart",
  context: { items: 0 },
  states: {
    cart: {
      on: {
        ADD: { actions: ({ context }) => void context.items++ },
        CHECKOUT: { target: "paying", guard: ({ context }) => context.items >= ${minItems} },
      },
    },
    paying: { on: { PAID: "${paid}" }, after: { "1h": "cancelled" } },
    shipped: { type: "final" },
    cancelled: { type: "final" },
  },
});

export const note = defineMachine({
  id: "note",
  initial: "draft",
  states: { draft: { on: { PUBLISH: "published" } }, published: {} },
});
`;
}

/** Writes a variant's machine file into `dir`; its path. */
export async function writeMachineFile(dir: string, variant: Variant): Promise<string> {
  const path = `${dir}/order_${variant}.ts`;
  await Deno.writeTextFile(path, machineSource(variant));
  return path;
}

/** The machines of a machine file (imported). */
export async function importMachines(
  path: string,
  // deno-lint-ignore no-explicit-any
): Promise<{ order: any; note: any }> {
  return await import(new URL(`file://${path}`).href);
}

/**
 * A store at `<dir>/state.kv` written under the "same" definition, closed:
 * - o1: ADD, CHECKOUT, PAID -> shipped (seq 1, 2, 3)
 * - o2: ADD, ADD, CHECKOUT, then the 1h timer -> cancelled (seq 1..4)
 * - o3: CHECKOUT (refused: no items), ADD -> cart (seq 1, 2)
 * - n1 (note): PUBLISH
 */
export async function writeStore(dir: string): Promise<string> {
  const { order, note } = await importMachines(await writeMachineFile(dir, "same"));
  const path = `${dir}/state.kv`;
  const clock = new VirtualClock(Date.UTC(2025, 0, 1));
  const store = await openStore({ path, machines: [order, note], clock });
  try {
    await store.create("order", "o1");
    for (const e of ["ADD", "CHECKOUT", "PAID"]) await store.send("o1", e);
    await store.create("order", "o2");
    for (const e of ["ADD", "ADD", "CHECKOUT"]) await store.send("o2", e);
    await store.create("order", "o3");
    for (const e of ["CHECKOUT", "ADD"]) await store.send("o3", e);
    await store.create("note", "n1");
    await store.send("n1", "PUBLISH");
    clock.advance(3_600_000); // o2's timer fires; its commit is awaited below
    await (store as DurableStore).idle();
    const o2 = await store.history("o2");
    if (o2.at(-1)?.kind !== "timer") throw new Error("the timer of o2 did not fire");
  } finally {
    await store.close();
  }
  return path;
}
