/** W3C manual tests: a person would read their logs; these tests read them instead. */
import assert from "node:assert/strict";
import { runLogged } from "./_manual.ts";

Deno.test("test178: both values of a repeated param key reach the event", async () => {
  const { logs, status } = await runLogged("test178");
  assert.equal(status, "done");
  assert.equal(logs.length, 1);
  assert.match(logs[0], /Var1=2/);
  assert.match(logs[0], /Var1=3/);
});

Deno.test("test230: an autoforwarded event has the same fields in parent and child", async () => {
  const { logs } = await runLogged("test230");
  assert.equal(logs.length, 14);
  assert.deepEqual(logs.slice(0, 7), logs.slice(7));
  assert.ok(logs.includes("name is : childToParent"));
});

Deno.test("test250: a cancelled child runs its onexit handlers", async () => {
  const { logs } = await runLogged("test250");
  assert.deepEqual(logs, ["Exiting sub01", "Exiting sub0"]);
});

Deno.test("test307: late-bound and missing values read the same, without errors", async () => {
  const { logs } = await runLogged("test307");
  assert.deepEqual(logs, [
    "entering s0 value of Var 1 is: : undefined",
    "no error in s0",
    "entering s1, value of non-existent substructure of Var 1 is: : undefined",
    "No error in s1",
  ]);
});

Deno.test("test415: the machine halts in its initial final state", async () => {
  const { entered, status } = await runLogged("test415");
  assert.equal(status, "done");
  assert.deepEqual(entered, ["final"]);
});
