/** Code lines of the REPL: JavaScript with top-level await, TypeScript stripped, variables kept. */
import assert from "node:assert/strict";
import { Evaluator, isBindableName } from "../../lib/repl/evaluate.ts";

function evaluator(): Evaluator {
  return new Evaluator(() => new Map<string, unknown>([["answer", 42], ["box", { n: 1 }]]));
}

Deno.test("evaluate: expressions return their awaited value; declarations persist", async () => {
  const ev = evaluator();
  assert.deepEqual(await ev.evaluate("answer + 1"), {
    value: 43,
    hasValue: true,
    typescript: false,
  });
  assert.equal((await ev.evaluate("await Promise.resolve(answer)")).value, 42);
  assert.equal((await ev.evaluate("let x = 2")).hasValue, false);
  assert.equal((await ev.evaluate("x * answer")).value, 84);
  assert.equal((await ev.evaluate("const { n } = box")).hasValue, false);
  assert.equal((await ev.evaluate("n")).value, 1);
  await ev.evaluate("function twice(v) { return v * 2 }");
  assert.equal((await ev.evaluate("twice(n)")).value, 2);
  assert.equal((await ev.evaluate("y = 5; y + 1")).value, 6);
  assert.equal((await ev.evaluate("_")).value, 6);
  assert.equal((await ev.evaluate("({ a: 1 })")).hasValue, true);
  assert.equal((await ev.evaluate("typeof Deno")).value, "object");
});

Deno.test("evaluate: TypeScript lines have their types stripped", async () => {
  const ev = evaluator();
  const r = await ev.evaluate("const total: number = answer as number + 1");
  assert.equal(r.typescript, true);
  assert.equal((await ev.evaluate("total")).value, 43);
  assert.equal((await ev.evaluate("interface P { a: number }")).typescript, true);
  assert.deepEqual((await ev.evaluate("[1, 2].map((v: number): number => v * 10)")).value, [
    10,
    20,
  ]);
  await ev.evaluate("enum Color { Red, Green }");
  assert.equal((await ev.evaluate("Color.Green")).value, 1);
});

Deno.test("evaluate: unknown names, bindings and syntax errors throw", async () => {
  const ev = evaluator();
  await assert.rejects(() => ev.evaluate("nothing + 1"), ReferenceError);
  await assert.rejects(() => ev.evaluate("answer = 1"), /cannot be assigned/);
  await assert.rejects(() => ev.evaluate("let = = 1"), SyntaxError);
  await assert.rejects(() => ev.evaluate("await Promise.reject(new RangeError('no'))"), RangeError);
  assert.equal(isBindableName("front"), true);
  assert.equal(isBindableName("front-door"), false);
  assert.equal(isBindableName("class"), false);
  assert.equal(isBindableName("console"), false);
});
