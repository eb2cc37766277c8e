// The clocks: VirtualClock order and cancels (a heap since issue #14), SystemClock delays longer
// than web timers take.
import assert from "node:assert/strict";
import { SystemClock, VirtualClock } from "../../mod.ts";

Deno.test("VirtualClock: due order, ties in setting order, cancels, timers set while firing", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  const handles = [5, 1, 3, 1, 2, 5].map((ms, k) =>
    clock.setTimer(() => fired.push(`${ms}/${k}`), ms)
  );
  clock.clearTimer(handles[2]);
  clock.clearTimer(handles[2]); // twice: no effect
  clock.setTimer(() => clock.setTimer(() => fired.push("late"), 0), 2);
  assert.equal(clock.pending, 6);
  assert.equal(clock.nextDue(), 1);
  clock.advance(5);
  assert.deepEqual(fired, ["1/1", "1/3", "2/4", "late", "5/0", "5/5"]);
  assert.equal(clock.pending, 0);
  assert.equal(clock.nextDue(), undefined);
  // Many cancels compact the heap; the rest still fire in order.
  const many = Array.from(
    { length: 1_000 },
    (_, k) => clock.setTimer(() => fired.push(`m${k}`), k),
  );
  for (let k = 0; k < 1_000; k++) if (k % 10 !== 0) clock.clearTimer(many[k]);
  assert.equal(clock.pending, 100);
  fired.length = 0;
  clock.runAll();
  assert.deepEqual(fired, Array.from({ length: 100 }, (_, k) => `m${k * 10}`));
});

Deno.test("SystemClock: a delay past 2^31 - 1 ms waits instead of firing at once", async () => {
  const clock = new SystemClock();
  const fired: string[] = [];
  const long = clock.setTimer(() => fired.push("long"), 2 ** 31 + 1_000);
  await new Promise<void>((resolve) => clock.setTimer(resolve, 1));
  assert.deepEqual(fired, []);
  clock.clearTimer(long); // and it can be cancelled (the test would not end otherwise)
});

Deno.test("SystemClock: a cleared timer does not fire, whatever setTimeout returns", async () => {
  const clock = new SystemClock();
  const fired: string[] = [];
  clock.clearTimer(clock.setTimer(() => fired.push("cleared"), 1));
  await new Promise<void>((resolve) => clock.setTimer(resolve, 20));
  assert.deepEqual(fired, []);
});
