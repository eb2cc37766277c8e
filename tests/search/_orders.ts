/**
 * For the search tests (tests/search/, tests/persist/search_test.ts): the `order` machine they
 * fill stores with, and a backend that counts its point reads (how far a `list` read).
 *
 * @module
 */
import { defineMachine, type Machine } from "../../mod.ts";
import type { KvBackend } from "../../lib/persist/backend.ts";

/** An order's context; `total` may be any value (one that is not a number is not indexed). */
export type OrderCtx = { customer: string; total?: unknown };

/**
 * The machine `order`: `open` (tagged pending) until `PAY`, then `paid` (tagged vip); `SET`
 * merges the event's `patch` into the context. With `search`, `customer`, `total` and the tags
 * are search fields.
 */
export function orderMachine(search: boolean): Machine<OrderCtx> {
  return defineMachine<OrderCtx>({
    id: "order",
    ...(search ? { search: { context: ["customer", "total"], tags: true } } : {}),
    context: { customer: "", total: 0 },
    initial: "open",
    states: {
      open: {
        tags: ["pending"],
        on: {
          SET: {
            actions: ({ context, event }) => {
              Object.assign(context, (event as unknown as { patch: Partial<OrderCtx> }).patch);
            },
          },
          PAY: "paid",
        },
      },
      paid: { tags: ["vip"] },
    },
  });
}

/** A backend that counts point reads. */
export function counting(backend: KvBackend): { backend: KvBackend; gets: () => number } {
  let gets = 0;
  const wrapped = new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === "get") {
        return (...args: unknown[]) => {
          gets++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { backend: wrapped, gets: () => gets };
}
