import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import orderWorkflowDefault, {
  type ChargePayment,
  createOrderWorkflow,
  type OrderContext,
  type OrderOutcome,
  orderWorkflow,
  type PaymentReceipt,
  type PaymentRequest,
  RETRY_DELAY,
  SHIPPING_TIMES,
  shippingMachine,
  type ShippingOutput,
  simulatedGateway,
} from "../../examples/order_workflow.ts";

const DELIVERY = SHIPPING_TIMES.packing + SHIPPING_TIMES.transit;

interface Call {
  request: PaymentRequest;
  signal: AbortSignal;
  resolve(receipt: PaymentReceipt): void;
  reject(error: Error): void;
}

/** A gateway whose answers the test gives, one call at a time. */
function scriptedGateway(): { calls: Call[]; charge: ChargePayment } {
  const calls: Call[] = [];
  const charge: ChargePayment = (request, signal) =>
    new Promise<PaymentReceipt>((resolve, reject) => {
      calls.push({ request, signal, resolve, reject });
      signal.addEventListener("abort", () => reject(signal.reason));
    });
  return { calls, charge };
}

/** Lets pending promise callbacks (invocation results) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function start(charge: ChargePayment, context: Partial<OrderContext> = {}) {
  const clock = new VirtualClock();
  const order = createOrderWorkflow({ chargePayment: charge }).start({ clock, context });
  return { clock, order };
}

Deno.test("order_workflow: the default export is the named machine", () => {
  assert.equal(orderWorkflowDefault, orderWorkflow);
  assert.deepEqual(orderWorkflow.warnings, []);
  assert.deepEqual(shippingMachine.warnings, []);
});

Deno.test("order_workflow: payment succeeds, the shipping child delivers, the order completes", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge, { orderId: "A-17", amount: 2_500 });
  assert.deepEqual(order.configuration, ["pending"]);
  order.send("SUBMIT");
  assert.deepEqual(order.configuration, ["paying"]);
  assert.equal(gateway.calls.length, 1);
  assert.deepEqual(gateway.calls[0].request, { orderId: "A-17", amount: 2_500, attempt: 1 });
  assert.equal(gateway.calls[0].signal.aborted, false);

  gateway.calls[0].resolve({ transactionId: "tx-991" });
  await settle();
  assert.deepEqual(order.configuration, ["shipping"]);
  assert.equal(order.context.transactionId, "tx-991");
  assert.equal(gateway.calls[0].signal.aborted, false, "a finished payment is not aborted");

  // The child runs on the parent's clock and shows up in the parent's snapshot.
  clock.advance(SHIPPING_TIMES.packing);
  assert.deepEqual(order.snapshot().children.shipping.configuration, ["in_transit"]);
  assert.deepEqual(order.snapshot().children.shipping.context, {
    orderId: "A-17",
    address: { name: "Ada Lovelace", city: "London" },
    carrier: "ACME Post",
  });
  clock.advance(SHIPPING_TIMES.transit);

  assert.equal(order.status, "done");
  assert.equal(order.context.trackingNumber, "TRK-A-17");
  const outcome: OrderOutcome = {
    orderId: "A-17",
    status: "completed",
    transactionId: "tx-991",
    trackingNumber: "TRK-A-17",
  };
  assert.deepEqual(order.output, outcome);
});

Deno.test("order_workflow: a declined payment is retried after a delay", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge);
  order.send("SUBMIT");
  gateway.calls[0].reject(new TypeError("card declined"));
  await settle();
  assert.deepEqual(order.configuration, ["payment_failed"]);
  assert.deepEqual(order.context.lastError, { name: "TypeError", message: "card declined" });

  clock.advance(RETRY_DELAY - 1);
  assert.equal(gateway.calls.length, 1);
  clock.advance(1);
  assert.deepEqual(order.configuration, ["paying"]);
  assert.equal(gateway.calls.length, 2);
  assert.deepEqual(gateway.calls[1].request, { orderId: "order-1", amount: 4_999, attempt: 2 });

  gateway.calls[1].resolve({ transactionId: "tx-2" });
  await settle();
  assert.deepEqual(order.configuration, ["shipping"]);
  assert.equal(order.context.attempts, 2);
});

Deno.test("order_workflow: after maxAttempts declines the order fails", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge, { maxAttempts: 3 });
  order.send("SUBMIT");
  for (let i = 0; i < 3; i++) {
    gateway.calls[i].reject(new Error(`declined #${i + 1}`));
    await settle();
    clock.advance(RETRY_DELAY);
  }
  assert.equal(gateway.calls.length, 3);
  assert.equal(order.status, "done");
  const outcome: OrderOutcome = {
    orderId: "order-1",
    status: "failed",
    attempts: 3,
    error: "declined #3",
  };
  assert.deepEqual(order.output, outcome);
});

Deno.test("order_workflow: cancelling mid-payment aborts the payment's signal", async () => {
  const gateway = scriptedGateway();
  const { order } = start(gateway.charge);
  order.send("SUBMIT");
  const { signal } = gateway.calls[0];
  order.send({ type: "CANCEL", reason: "changed my mind" });

  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as DOMException).name, "AbortError");
  assert.equal(order.status, "done");
  const outcome: OrderOutcome = {
    orderId: "order-1",
    status: "cancelled",
    reason: "changed my mind",
  };
  assert.deepEqual(order.output, outcome);

  // The gateway's late answer is ignored.
  gateway.calls[0].resolve({ transactionId: "tx-late" });
  await settle();
  assert.equal(order.context.transactionId, null);
  assert.deepEqual(order.output, outcome);
});

Deno.test("order_workflow: cancelling while waiting to retry stops further charges", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge);
  order.send("SUBMIT");
  gateway.calls[0].reject(new Error("gateway timeout"));
  await settle();
  order.send("CANCEL");
  clock.advance(10 * RETRY_DELAY);
  assert.equal(gateway.calls.length, 1);
  assert.deepEqual(order.output, {
    orderId: "order-1",
    status: "cancelled",
    reason: "cancelled by customer",
  });
});

Deno.test("order_workflow: stopping the instance aborts a running payment", () => {
  const gateway = scriptedGateway();
  const { order } = start(gateway.charge);
  order.send("SUBMIT");
  order.stop();
  assert.equal(gateway.calls[0].signal.aborted, true);
  assert.equal(order.status, "stopped");
});

Deno.test("order_workflow: a parcel on its way cannot be cancelled", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge);
  order.send("SUBMIT");
  gateway.calls[0].resolve({ transactionId: "tx-1" });
  await settle();
  assert.equal(order.can("CANCEL"), false);
  order.send("CANCEL");
  assert.deepEqual(order.configuration, ["shipping"]);
  clock.advance(DELIVERY);
  assert.equal((order.output as OrderOutcome).status, "completed");
});

Deno.test("order_workflow: a gateway that throws synchronously counts as a decline", async () => {
  const { order } = start(() => {
    throw new RangeError("amount must be positive");
  });
  order.send("SUBMIT");
  await settle();
  assert.deepEqual(order.configuration, ["payment_failed"]);
  assert.deepEqual(order.context.lastError, {
    name: "RangeError",
    message: "amount must be positive",
  });
});

Deno.test("order_workflow: the default machine pays through the simulated gateway", async () => {
  const clock = new VirtualClock();
  const order = orderWorkflow.start({ clock });
  order.send("SUBMIT");
  await settle();
  assert.deepEqual(order.configuration, ["shipping"]);
  clock.advance(DELIVERY);
  assert.deepEqual(order.output, {
    orderId: "order-1",
    status: "completed",
    transactionId: "tx-order-1-1",
    trackingNumber: "TRK-order-1",
  });
});

Deno.test("order_workflow: the simulated gateway declines large amounts and honours its signal", async () => {
  await assert.rejects(
    simulatedGateway({ orderId: "x", amount: 100_001, attempt: 1 }, new AbortController().signal),
    /card declined/,
  );
  const controller = new AbortController();
  const charge = simulatedGateway({ orderId: "x", amount: 100, attempt: 1 }, controller.signal);
  controller.abort();
  await assert.rejects(charge, (e: unknown) => (e as Error).name === "AbortError");

  const clock = new VirtualClock();
  const order = orderWorkflow.start({ clock, context: { amount: 250_000, maxAttempts: 2 } });
  order.send("SUBMIT");
  await settle();
  clock.advance(RETRY_DELAY);
  await settle();
  assert.equal((order.output as OrderOutcome).status, "failed");
  assert.equal(order.context.attempts, 2);
});

Deno.test("shipping: the child machine runs on its own and outputs its tracking number", () => {
  const clock = new VirtualClock();
  const parcel = shippingMachine.start({
    clock,
    context: { orderId: "B-2", address: { name: "Grace Hopper", city: "Arlington" } },
  });
  assert.deepEqual(parcel.configuration, ["packing"]);
  clock.advance(SHIPPING_TIMES.packing);
  assert.deepEqual(parcel.configuration, ["in_transit"]);
  clock.advance(SHIPPING_TIMES.transit);
  assert.equal(parcel.status, "done");
  const output: ShippingOutput = {
    trackingNumber: "TRK-B-2",
    carrier: "ACME Post",
    deliveredTo: "Grace Hopper, Arlington",
  };
  assert.deepEqual(parcel.output, output);
});

Deno.test("order_workflow: an order in transit survives snapshot and restore", async () => {
  const gateway = scriptedGateway();
  const { clock, order } = start(gateway.charge, { orderId: "C-3" });
  order.send("SUBMIT");
  gateway.calls[0].resolve({ transactionId: "tx-3" });
  await settle();
  clock.advance(SHIPPING_TIMES.packing + 1_000);
  const saved = JSON.parse(JSON.stringify(order.snapshot()));
  order.stop();

  const clock2 = new VirtualClock(clock.now());
  const again = createOrderWorkflow({ chargePayment: gateway.charge }).restore(saved, {
    clock: clock2,
  });
  assert.deepEqual(again.configuration, ["shipping"]);
  clock2.advance(SHIPPING_TIMES.transit - 1_001);
  assert.equal(again.status, "active");
  clock2.advance(1);
  assert.deepEqual(again.output, {
    orderId: "C-3",
    status: "completed",
    transactionId: "tx-3",
    trackingNumber: "TRK-C-3",
  });
  assert.equal(gateway.calls.length, 1, "a paid order is not charged again");
});

Deno.test("order_workflow: restoring mid-payment asks the gateway again for the same attempt", async () => {
  const gateway = scriptedGateway();
  const { order } = start(gateway.charge);
  order.send("SUBMIT");
  const saved = order.snapshot();
  order.stop();
  assert.equal(gateway.calls[0].signal.aborted, true);

  const again = createOrderWorkflow({ chargePayment: gateway.charge }).restore(saved, {
    clock: new VirtualClock(),
  });
  assert.equal(gateway.calls.length, 2);
  assert.deepEqual(gateway.calls[1].request, gateway.calls[0].request);
  gateway.calls[1].resolve({ transactionId: "tx-after-restore" });
  await settle();
  assert.deepEqual(again.configuration, ["shipping"]);
  assert.equal(again.context.transactionId, "tx-after-restore");
});
