/**
 * An order workflow: invoked functions and child machines.
 *
 * What it shows:
 * - `invoke` of an async function: `paying` calls the payment gateway with an `input` built
 *   from the context and the `signal` of the invocation. It resolves into
 *   `done.invoke.payment` (`onDone`, the receipt is in `event.output`) or rejects into
 *   `error.platform.payment` (`onError`, the error is in `event.error`).
 * - Retry on failure: `onError` goes to `payment_failed`, which waits `RETRY_DELAY` and tries
 *   again, while a guard allows at most `maxAttempts`; after that the order `failed`.
 * - Cancellation: `CANCEL` while paying exits `paying`, which aborts the invocation's
 *   `signal`; a gateway that honours it stops, and a late answer is ignored.
 * - `invoke` of a child machine: `shipping` runs `shippingMachine` with the order's address
 *   as its context (the invoke `input`). The child runs on the parent's clock; its top-level
 *   final state's `output` (the tracking number) comes back through `onDone`.
 * - Dependency injection: `createOrderWorkflow({ chargePayment })` builds the machine around
 *   any gateway, so tests (and other deployments) pass their own; the default export uses a
 *   simulated gateway that declines orders over 1000.00.
 *
 * Run it (the script also exports `shippingMachine`, so name the machine; 50 hours of virtual
 * time cover packing and transit):
 *
 * ```sh
 * deno task statecraft run examples/order_workflow.ts --machine order --virtual-time --for 50h \
 *   --events SUBMIT
 * deno task statecraft run examples/order_workflow.ts --machine shipping --virtual-time --for 50h
 * ```
 *
 * @module
 */
import { assign, defineMachine, type Machine } from "../core.ts";

/** What the payment gateway is asked to charge. */
export interface PaymentRequest {
  orderId: string;
  /** Amount in cents. */
  amount: number;
  /** 1 for the first try, 2 for the first retry... (an idempotency key can use it). */
  attempt: number;
}

/** What the payment gateway answers when the charge went through. */
export interface PaymentReceipt {
  transactionId: string;
}

/** Charges a payment; rejects when it is declined; stops when `signal` is aborted. */
export type ChargePayment = (
  request: PaymentRequest,
  signal: AbortSignal,
) => Promise<PaymentReceipt>;

/** What the order workflow depends on. */
export interface OrderWorkflowDeps {
  chargePayment: ChargePayment;
}

/** Where an order ships to. */
export interface Address {
  name: string;
  city: string;
}

/** The order workflow's context. */
export interface OrderContext {
  orderId: string;
  /** Amount in cents. */
  amount: number;
  address: Address;
  /** Payment attempts made so far. */
  attempts: number;
  maxAttempts: number;
  transactionId: string | null;
  trackingNumber: string | null;
  /** The last payment error. */
  lastError: { name: string; message: string } | null;
  cancelReason: string | null;
}

/** The outcome, handed back as the machine's output. */
export type OrderOutcome =
  | { orderId: string; status: "completed"; transactionId: string; trackingNumber: string }
  | { orderId: string; status: "cancelled"; reason: string }
  | { orderId: string; status: "failed"; attempts: number; error: string };

/** How long to wait before trying a failed payment again, in milliseconds. */
export const RETRY_DELAY = 2_000;

// ---------------------------------------------------------------------------------------------
// The shipping child machine

/** The shipping machine's context: its input from the order. */
export interface ShippingContext {
  orderId: string;
  address: Address;
  carrier: string;
}

/** What the shipping machine hands back when the parcel is delivered. */
export interface ShippingOutput {
  trackingNumber: string;
  carrier: string;
  deliveredTo: string;
}

/** How long packing and transit take, in milliseconds. */
export const SHIPPING_TIMES = { packing: 3_600_000, transit: 2 * 86_400_000 } as const;

/** A parcel's life: packed, in transit, delivered (a final state with output). */
export const shippingMachine: Machine<ShippingContext> = defineMachine<ShippingContext>({
  id: "shipping",
  // A demo parcel for running this machine alone; an invoking order replaces these fields.
  context: {
    orderId: "demo",
    address: { name: "Ada Lovelace", city: "London" },
    carrier: "ACME Post",
  },
  initial: "packing",
  states: {
    packing: { after: { [SHIPPING_TIMES.packing]: "in_transit" } },
    in_transit: { after: { [SHIPPING_TIMES.transit]: "delivered" } },
    delivered: {
      type: "final",
      output: ({ context }): ShippingOutput => ({
        trackingNumber: `TRK-${context.orderId}`,
        carrier: context.carrier,
        deliveredTo: `${context.address.name}, ${context.address.city}`,
      }),
    },
  },
});

// ---------------------------------------------------------------------------------------------
// The order workflow

/** Builds the order workflow around a payment gateway. */
export function createOrderWorkflow(deps: OrderWorkflowDeps): Machine<OrderContext> {
  return defineMachine<OrderContext>({
    id: "order",
    context: () => ({
      orderId: "order-1",
      amount: 4_999,
      address: { name: "Ada Lovelace", city: "London" },
      attempts: 0,
      maxAttempts: 3,
      transactionId: null,
      trackingNumber: null,
      lastError: null,
      cancelReason: null,
    }),
    guards: {
      canRetry: ({ context }) => context.attempts < context.maxAttempts,
    },
    actions: {
      recordError: assign<OrderContext>(({ event }) => ({
        lastError: event.error as OrderContext["lastError"],
      })),
      recordCancel: assign<OrderContext>(({ event }) => ({
        cancelReason: typeof event.reason === "string" ? event.reason : "cancelled by customer",
      })),
    },
    initial: "pending",
    states: {
      pending: {
        on: { SUBMIT: "paying", CANCEL: { target: "cancelled", actions: "recordCancel" } },
      },
      paying: {
        // Entry actions run before the invocation starts, so its input sees the new count.
        entry: assign({ attempts: ({ context }) => context.attempts + 1 }),
        invoke: {
          id: "payment",
          src: ({ input, signal }) => deps.chargePayment(input as PaymentRequest, signal),
          input: ({ context }): PaymentRequest => ({
            orderId: context.orderId,
            amount: context.amount,
            attempt: context.attempts,
          }),
          onDone: {
            target: "shipping",
            actions: assign<OrderContext>(({ event }) => ({
              transactionId: (event.output as PaymentReceipt).transactionId,
            })),
          },
          onError: [
            { target: "payment_failed", guard: "canRetry", actions: "recordError" },
            { target: "failed", actions: "recordError" },
          ],
        },
        // Leaving `paying` aborts the payment's signal.
        on: { CANCEL: { target: "cancelled", actions: "recordCancel" } },
      },
      payment_failed: {
        after: { [RETRY_DELAY]: "paying" },
        on: { CANCEL: { target: "cancelled", actions: "recordCancel" } },
      },
      shipping: {
        // No CANCEL here: a parcel on its way is not cancelled.
        invoke: {
          id: "shipping",
          src: shippingMachine,
          input: ({ context }) => ({
            orderId: context.orderId,
            address: context.address,
          }),
          onDone: {
            target: "completed",
            actions: assign<OrderContext>(({ event }) => ({
              trackingNumber: (event.output as ShippingOutput).trackingNumber,
            })),
          },
          onError: { target: "failed", actions: "recordError" },
        },
      },
      completed: {
        type: "final",
        output: ({ context }): OrderOutcome => ({
          orderId: context.orderId,
          status: "completed",
          transactionId: context.transactionId!,
          trackingNumber: context.trackingNumber!,
        }),
      },
      cancelled: {
        type: "final",
        output: ({ context }): OrderOutcome => ({
          orderId: context.orderId,
          status: "cancelled",
          reason: context.cancelReason!,
        }),
      },
      failed: {
        type: "final",
        output: ({ context }): OrderOutcome => ({
          orderId: context.orderId,
          status: "failed",
          attempts: context.attempts,
          error: context.lastError?.message ?? "unknown error",
        }),
      },
    },
  });
}

/**
 * A stand-in payment gateway: approves after a tick, declines amounts over 1000.00, and
 * gives up when its signal is aborted.
 */
export async function simulatedGateway(
  request: PaymentRequest,
  signal: AbortSignal,
): Promise<PaymentReceipt> {
  await Promise.resolve();
  signal.throwIfAborted();
  if (request.amount > 100_000) {
    throw new Error(`card declined: ${request.amount} cents is over the limit`);
  }
  return { transactionId: `tx-${request.orderId}-${request.attempt}` };
}

/** The order workflow with the simulated gateway. */
export const orderWorkflow: Machine<OrderContext> = createOrderWorkflow({
  chargePayment: simulatedGateway,
});

export default orderWorkflow;
