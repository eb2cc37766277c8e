/**
 * A vending machine: parallel regions, deferral, `done.state` and `In()` guards.
 *
 * What it shows:
 * - `operating` is a parallel state with three regions that run side by side: `payment` (the
 *   coin validator), `dispenser` (the spiral that drops the product) and `maintenance`.
 * - Deferral: a coin takes `COUNT_MS` to be counted, and a product `VEND_MS` to drop. A
 *   `SELECT` pressed while coins are being counted, or while another product is dropping, is
 *   not lost: `defer: ["SELECT"]` keeps it queued, and it is processed, in the order pressed,
 *   as soon as no active state defers it. `REFUND` waits for the count the same way, and
 *   `SHUTDOWN` waits for the product in the chute.
 * - `In()`-style guards: the dispenser vends only while
 *   `matches("operating.maintenance.in_service")`, coins are refused during service, and the
 *   technician cannot open the machine mid-purchase (`payment.idle` and `dispenser.idle`).
 * - `done.state` of a region: on `SHUTDOWN` the payment region refunds and closes and the
 *   dispenser region reaches its final state; `done.state.operating.dispenser` unlocks the
 *   coin box in the maintenance region, and `COLLECT` finishes that last region. Only when
 *   every region is final does `operating`'s `onDone` (`done.state.operating`) leave for the
 *   top-level final state, whose output is the day's takings.
 *
 * Run it. `vending_machine.events.jsonl` inserts two coins and presses A1 and C3 at once: both
 * selections wait for the count, then for each other; then it shuts the machine down and
 * collects the coin box:
 *
 * ```sh
 * deno task statecraft run examples/vending_machine.ts --virtual-time \
 *   --events-file examples/vending_machine.events.jsonl
 * deno task statecraft run examples/vending_machine.ts --events SERVICE,SERVICE_DONE,SHUTDOWN
 * ```
 *
 * @module
 */
import { type ActionArgs, assign, defineMachine, type EventObject, type Machine } from "../core.ts";

/** One slot of the machine. */
export interface Product {
  name: string;
  /** Price in cents. */
  price: number;
  stock: number;
}

/** The vending machine's context. */
export interface VendingContext {
  /** Cents inserted and not spent yet. */
  credit: number;
  /** Products by slot (`"A1"`). */
  products: Record<string, Product>;
  /** The slot being vended. */
  selection: string | null;
  /** Slots vended, in order. */
  dispensed: string[];
  /** Cents taken for vended products. */
  revenue: number;
  /** Cents given back: refunds, and coins refused during service. */
  returned: number;
  /** What the display shows. */
  display: string;
}

/** The takings, handed back as the machine's output when it shuts down. */
export interface VendingReport {
  revenue: number;
  dispensed: string[];
  returned: number;
}

/** How long the validator takes to count a coin, in milliseconds. */
export const COUNT_MS = 500;
/** How long a product takes to drop, in milliseconds. */
export const VEND_MS = 2_000;

type Args = ActionArgs<VendingContext, EventObject>;

function slotOf(event: EventObject): string {
  return typeof event.slot === "string" ? event.slot : "";
}

function centsOf(event: EventObject): number {
  return typeof event.cents === "number" && event.cents > 0 ? event.cents : 0;
}

function selected({ context, event }: Pick<Args, "context" | "event">): Product | undefined {
  return context.products[slotOf(event)];
}

function money(cents: number): string {
  return `${(cents / 100).toFixed(2)}`;
}

const refund = assign<VendingContext>(({ context }) => ({
  credit: 0,
  returned: context.returned + context.credit,
  display: context.credit > 0 ? `Take your ${money(context.credit)}` : context.display,
}));

/** The vending machine, stocked with the given products (default: a small assortment). */
export function createVendingMachine(
  products: Record<string, Product> = {
    A1: { name: "Cola", price: 150, stock: 2 },
    B2: { name: "Chips", price: 100, stock: 1 },
    C3: { name: "Gum", price: 50, stock: 5 },
    D4: { name: "Water", price: 120, stock: 0 },
  },
): Machine<VendingContext> {
  return defineMachine<VendingContext>({
    id: "vending_machine",
    description: "Coins, a dispenser and a service mode, running in parallel.",
    context: () => ({
      credit: 0,
      products: structuredClone(products),
      selection: null,
      dispensed: [],
      revenue: 0,
      returned: 0,
      display: "Insert coins",
    }),
    guards: {
      // SCXML's In(): is that region in that state right now?
      inService: ({ matches }) => matches("operating.maintenance.in_service"),
      outOfService: ({ matches }) => !matches("operating.maintenance.in_service"),
      unknownSlot: (args) => selected(args) === undefined,
      soldOut: (args) => selected(args)!.stock === 0,
      // No need to ask for `payment.ready`: while coins are counted, SELECT is deferred.
      paid: (args) => args.context.credit >= selected(args)!.price,
      nobodyBuying: ({ matches }) =>
        matches("operating.payment.idle") && matches("operating.dispenser.idle"),
      noCredit: ({ context }) => context.credit === 0,
    },
    actions: {
      addCoin: assign(({ context, event }) => ({
        credit: context.credit + centsOf(event),
        display: `Credit ${money(context.credit + centsOf(event))}`,
      })),
      refuseCoin: assign(({ context, event }) => ({
        returned: context.returned + centsOf(event),
        display: "Out of service: coin returned",
      })),
      refund,
      charge: assign((args) => {
        const slot = slotOf(args.event);
        const product = selected(args)!;
        return {
          credit: args.context.credit - product.price,
          products: { ...args.context.products, [slot]: { ...product, stock: product.stock - 1 } },
          selection: slot,
          display: `Vending ${product.name}`,
        };
      }),
      recordSale: assign(({ context }) => {
        const product = context.products[context.selection!];
        return {
          dispensed: [...context.dispensed, context.selection!],
          revenue: context.revenue + product.price,
          selection: null,
          display: `Enjoy your ${product.name}`,
        };
      }),
    },
    initial: "operating",
    states: {
      operating: {
        type: "parallel",
        states: {
          payment: {
            initial: "idle",
            states: {
              idle: {
                on: {
                  COIN: [
                    { target: "counting", guard: "inService", actions: "addCoin" },
                    { actions: "refuseCoin" },
                  ],
                },
              },
              counting: {
                // The validator is busy: these wait until it knows the credit.
                defer: ["SELECT", "REFUND"],
                after: { [COUNT_MS]: "ready" },
                // Another coin restarts the count (`reenter` re-arms the timer).
                on: { COIN: { target: "counting", reenter: true, actions: "addCoin" } },
              },
              ready: {
                always: { target: "idle", guard: "noCredit" },
                on: {
                  COIN: [
                    { target: "counting", guard: "inService", actions: "addCoin" },
                    { actions: "refuseCoin" },
                  ],
                  REFUND: { target: "idle", actions: "refund" },
                },
              },
              closed: { type: "final" },
            },
            on: { SHUTDOWN: { target: ".closed", actions: "refund" } },
          },
          dispenser: {
            initial: "idle",
            states: {
              idle: {
                on: {
                  SELECT: [
                    {
                      guard: "outOfService",
                      actions: assign({ display: "Out of service" }),
                    },
                    {
                      guard: "unknownSlot",
                      actions: assign({ display: ({ event }) => `No product ${slotOf(event)}` }),
                    },
                    { guard: "soldOut", actions: assign({ display: "Sold out" }) },
                    { target: "vending", guard: "paid", actions: "charge" },
                    {
                      actions: assign<VendingContext>((args) => ({
                        display: `Insert ${
                          money(selected(args)!.price - args.context.credit)
                        } more`,
                      })),
                    },
                  ],
                  SHUTDOWN: "off",
                },
              },
              vending: {
                // One product at a time; a shutdown waits for the one in the chute.
                defer: ["SELECT", "SHUTDOWN"],
                after: { [VEND_MS]: { target: "idle", actions: "recordSale" } },
              },
              off: { type: "final" },
            },
          },
          maintenance: {
            initial: "in_service",
            states: {
              in_service: {
                on: { SERVICE: { target: "servicing", guard: "nobodyBuying" } },
              },
              servicing: {
                entry: assign({ display: "Out of service" }),
                on: {
                  RESTOCK: {
                    actions: assign(({ context, event }) => {
                      const slot = slotOf(event);
                      const product = context.products[slot];
                      if (product === undefined) throw new Error(`no slot "${slot}" to restock`);
                      const count = typeof event.count === "number" ? event.count : 0;
                      return {
                        products: {
                          ...context.products,
                          [slot]: { ...product, stock: product.stock + count },
                        },
                      };
                    }),
                  },
                  SERVICE_DONE: {
                    target: "in_service",
                    actions: assign({ display: "Insert coins" }),
                  },
                },
              },
              collecting: {
                entry: assign({ display: "Closed: empty the coin box" }),
                on: { COLLECT: "off" },
              },
              off: { type: "final" },
            },
            // The dispenser region has finished (reached its final state): the coin box unlocks.
            on: { "done.state.operating.dispenser": ".collecting" },
          },
        },
        // Every region has reached its final state.
        onDone: "off",
      },
      off: {
        type: "final",
        output: ({ context }): VendingReport => ({
          revenue: context.revenue,
          dispensed: context.dispensed,
          returned: context.returned,
        }),
      },
    },
  });
}

/** The vending machine with its default stock. */
export const vendingMachine: Machine<VendingContext> = createVendingMachine();

export default vendingMachine;
