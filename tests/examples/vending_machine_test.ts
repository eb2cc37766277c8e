import assert from "node:assert/strict";
import { type MachineInstance, type MonitorRecord, VirtualClock } from "../../mod.ts";
import vendingMachineDefault, {
  COUNT_MS,
  createVendingMachine,
  VEND_MS,
  type VendingContext,
  vendingMachine,
  type VendingReport,
} from "../../examples/vending_machine.ts";

type Vending = MachineInstance<VendingContext>;

function start(): { clock: VirtualClock; vm: Vending } {
  const clock = new VirtualClock();
  return { clock, vm: vendingMachine.start({ clock }) };
}

const coin = (cents: number) => ({ type: "COIN", cents });
const select = (slot: string) => ({ type: "SELECT", slot });

/** Inserts coins and waits until they are counted. */
function pay(clock: VirtualClock, vm: Vending, ...cents: number[]): void {
  for (const c of cents) vm.send(coin(c));
  clock.advance(COUNT_MS);
}

Deno.test("vending_machine: the default export is the named machine", () => {
  assert.equal(vendingMachineDefault, vendingMachine);
  assert.deepEqual(vendingMachine.warnings, []);
});

Deno.test("vending_machine: the three regions are active at once", () => {
  const { vm } = start();
  assert.deepEqual(vm.configuration, [
    "operating",
    "operating.payment",
    "operating.payment.idle",
    "operating.dispenser",
    "operating.dispenser.idle",
    "operating.maintenance",
    "operating.maintenance.in_service",
  ]);
});

Deno.test("vending_machine: pay, select, and the product drops", () => {
  const { clock, vm } = start();
  vm.send(coin(100));
  clock.advance(COUNT_MS - 100);
  vm.send(coin(50)); // restarts the count
  clock.advance(COUNT_MS - 1);
  assert.ok(vm.matches("operating.payment.counting"));
  clock.advance(1);
  assert.ok(vm.matches("operating.payment.ready"));
  assert.equal(vm.context.credit, 150);

  vm.send(select("A1"));
  assert.ok(vm.matches("operating.dispenser.vending"));
  assert.equal(vm.context.credit, 0);
  assert.ok(vm.matches("operating.payment.idle"), "no credit left: payment goes back to idle");
  assert.equal(vm.context.products.A1.stock, 1);
  clock.advance(VEND_MS);
  assert.ok(vm.matches("operating.dispenser.idle"));
  assert.deepEqual(vm.context.dispensed, ["A1"]);
  assert.equal(vm.context.revenue, 150);
  assert.equal(vm.context.display, "Enjoy your Cola");
});

Deno.test("vending_machine: a SELECT pressed while coins are counted waits, then vends", () => {
  const { clock, vm } = start();
  vm.send(coin(100));
  vm.send(select("B2"));
  assert.ok(vm.matches("operating.dispenser.idle"), "not processed yet");
  assert.equal(vm.can(select("B2")), false);
  assert.deepEqual(vm.snapshot().deferred, [select("B2")]);
  assert.equal(vm.context.display, "Credit 1.00", "and not rejected for lack of credit");

  clock.advance(COUNT_MS);
  assert.ok(vm.matches("operating.dispenser.vending"));
  assert.equal(vm.context.selection, "B2");
  assert.deepEqual(vm.snapshot().deferred, []);
});

Deno.test("vending_machine: deferred selections are served in the order pressed", () => {
  const { clock, vm } = start();
  vm.send(coin(200));
  vm.send(coin(100));
  vm.send(select("A1"));
  vm.send(select("C3"));
  vm.send(select("B2"));
  clock.advance(COUNT_MS);
  assert.equal(vm.context.selection, "A1");
  // While A1 drops, the dispenser is busy: C3 and B2 stay deferred, in order.
  assert.deepEqual(vm.snapshot().deferred, [select("C3"), select("B2")]);
  clock.advance(VEND_MS);
  assert.equal(vm.context.selection, "C3");
  clock.advance(VEND_MS);
  // 300 - 150 - 50 leaves 100: exactly enough for B2.
  assert.equal(vm.context.selection, "B2");
  clock.advance(VEND_MS);
  assert.deepEqual(vm.context.dispensed, ["A1", "C3", "B2"]);
  assert.equal(vm.context.credit, 0);
  assert.equal(vm.context.revenue, 300);
});

Deno.test("vending_machine: guards reject a selection with too little credit or no stock", () => {
  const { clock, vm } = start();
  pay(clock, vm, 100);
  vm.send(select("A1"));
  assert.ok(vm.matches("operating.dispenser.idle"));
  assert.equal(vm.context.display, "Insert 0.50 more");
  vm.send(select("D4"));
  assert.equal(vm.context.display, "Sold out");
  vm.send(select("Z9"));
  assert.equal(vm.context.display, "No product Z9");
  assert.equal(vm.context.credit, 100, "nothing was charged");
  assert.deepEqual(vm.context.dispensed, []);
});

Deno.test("vending_machine: nothing is sold before any coin", () => {
  const { vm } = start();
  vm.send(select("C3"));
  assert.ok(vm.matches("operating.dispenser.idle"));
  assert.equal(vm.context.display, "Insert 0.50 more");
});

Deno.test("vending_machine: REFUND returns the credit, and waits for the count", () => {
  const { clock, vm } = start();
  pay(clock, vm, 100);
  vm.send(coin(50));
  vm.send("REFUND");
  assert.ok(vm.matches("operating.payment.counting"), "REFUND deferred during the count");
  clock.advance(COUNT_MS);
  assert.ok(vm.matches("operating.payment.idle"));
  assert.equal(vm.context.credit, 0);
  assert.equal(vm.context.returned, 150);
  assert.equal(vm.context.display, "Take your 1.50");
});

Deno.test("vending_machine: in service mode, In() guards refuse coins and selections", () => {
  const { clock, vm } = start();
  vm.send("SERVICE");
  assert.ok(vm.matches("operating.maintenance.servicing"));
  vm.send(coin(100));
  assert.ok(vm.matches("operating.payment.idle"));
  assert.equal(vm.context.credit, 0);
  assert.equal(vm.context.returned, 100, "the coin was given back");
  vm.send(select("C3"));
  assert.equal(vm.context.display, "Out of service");
  assert.ok(vm.matches("operating.dispenser.idle"));

  vm.send({ type: "RESTOCK", slot: "D4", count: 6 });
  vm.send("SERVICE_DONE");
  pay(clock, vm, 100, 20);
  vm.send(select("D4"));
  assert.ok(vm.matches("operating.dispenser.vending"));
  assert.equal(vm.context.products.D4.stock, 5);
});

Deno.test("vending_machine: the machine cannot be opened mid-purchase", () => {
  const { clock, vm } = start();
  vm.send(coin(100));
  assert.equal(vm.can("SERVICE"), false, "coins being counted");
  clock.advance(COUNT_MS);
  assert.equal(vm.can("SERVICE"), false, "credit in the machine");
  vm.send(select("B2"));
  vm.send("SERVICE");
  assert.ok(vm.matches("operating.maintenance.in_service"), "product dropping");
  clock.advance(VEND_MS);
  assert.equal(vm.can("SERVICE"), true);
});

Deno.test("vending_machine: SHUTDOWN waits for the product in the chute", () => {
  const { clock, vm } = start();
  pay(clock, vm, 200);
  vm.send(select("C3"));
  vm.send("SHUTDOWN");
  assert.ok(vm.matches("operating.dispenser.vending"), "SHUTDOWN deferred during the vend");
  assert.equal(vm.context.credit, 150, "no refund yet");
  clock.advance(VEND_MS);
  assert.deepEqual(vm.context.dispensed, ["C3"]);
  assert.equal(vm.context.credit, 0);
  assert.equal(vm.context.returned, 150, "the rest is refunded on shutdown");
});

Deno.test({
  name: "vending_machine: regions finish one by one; the machine stops when all are final",
  fn() {
    const { clock, vm } = start();
    const doneEvents: string[] = [];
    vm.subscribe((r: MonitorRecord) => {
      if (r.kind === "transition" && r.event.startsWith("done.state.")) doneEvents.push(r.event);
    });
    pay(clock, vm, 100);
    vm.send(select("C3"));
    clock.advance(VEND_MS);
    vm.send("SHUTDOWN");
    // Payment and dispenser are final; the coin box still has to be emptied.
    assert.equal(vm.status, "active");
    assert.deepEqual(vm.configuration, [
      "operating",
      "operating.payment",
      "operating.payment.closed",
      "operating.dispenser",
      "operating.dispenser.off",
      "operating.maintenance",
      "operating.maintenance.collecting",
    ]);
    assert.deepEqual(doneEvents, ["done.state.operating.dispenser"]);
    assert.equal(vm.context.display, "Closed: empty the coin box");

    vm.send("COLLECT");
    assert.equal(vm.status, "done");
    assert.deepEqual(doneEvents, ["done.state.operating.dispenser", "done.state.operating"]);
    const report: VendingReport = { revenue: 50, dispensed: ["C3"], returned: 50 };
    assert.deepEqual(vm.output, report);
  },
});

Deno.test("vending_machine: createVendingMachine stocks the machine it makes", () => {
  const clock = new VirtualClock();
  const vm = createVendingMachine({ X1: { name: "Tea", price: 80, stock: 1 } }).start({ clock });
  pay(clock, vm, 100);
  vm.send(select("X1"));
  clock.advance(VEND_MS);
  vm.send(select("X1"));
  assert.equal(vm.context.display, "Sold out");
  assert.deepEqual(vm.context.dispensed, ["X1"]);
  assert.equal(vm.context.credit, 20);
});
