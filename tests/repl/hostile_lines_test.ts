/**
 * REPL lines from issue #14, each a clear error or a valid result, in bounded time, the session
 * going on: JSON nested 100,000 deep, a 10 MB line, NUL bytes and lone surrogates, ids and
 * contexts named after `Object.prototype`, a string where a context goes, and code nested so
 * deep that a parser recursing on it would run out of stack (the TypeScript stripper's does in
 * native code, which aborts the process).
 */
import assert from "node:assert/strict";
import { door } from "../../examples/door.ts";
import { memorySession } from "./_memory_session.ts";

const open = () => memorySession([door]);

const deep = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

Deno.test("JSON nested 100,000 deep: refused, saying how deep and where", async () => {
  await using t = await open();
  await t.run("spawn door x");
  const send = await t.run(`send x E ${deep(100_000)}`);
  assert.equal(send.result, "failed");
  assert.equal(
    send.err,
    "error: the payload nests deeper than 100 levels (level 101 at (root).a.a.a.a.a...)",
  );
  // Deep enough to fail in the store, shallow enough for its size limit: refused the same.
  for (const n of [3_000, 5_000]) {
    const spawn = await t.run(`spawn door d${n} ${deep(n)}`);
    assert.equal(spawn.result, "failed");
    assert.match(spawn.err, /^error: the context nests deeper than 100 levels/);
    assert.equal((await t.run(`state d${n}`)).result, "failed", "nothing was created");
  }
  assert.match((await t.run(`call p a ${deep(100_000)}`)).err, /payload nests deeper than 100/);
  assert.equal((await t.run(`spawn door ok ${deep(99)}`)).result, "ok");
  assert.equal((await t.run("ls")).result, "ok");
});

Deno.test("a 10 MB line: a clear error of bounded length, quickly", async () => {
  await using t = await open();
  await t.run("spawn door x");
  const big = "a".repeat(10_000_000);
  for (const line of [big, `send x ${big}`, `send x OPEN {"s":"${big}"}`, `spawn door x ${big}`]) {
    const started = performance.now();
    const r = await t.run(line);
    assert.equal(r.result, "failed", line.slice(0, 30));
    assert.ok(r.err.length < 2_500, `${r.err.length} characters of error`);
    assert.ok(performance.now() - started < 5_000, "bounded time");
  }
  assert.equal((await t.run("send x OPEN")).result, "ok");
});

Deno.test("NUL bytes and lone surrogates: refused in ids and labels, data elsewhere", async () => {
  await using t = await open();
  const nul = await t.run("spawn door n\0ul");
  assert.equal(nul.result, "failed");
  assert.equal(
    nul.err,
    'error: spawn: the id "n\\u0000ul" has a control character (U+0000) at character 2',
  );
  const lone = await t.run("spawn door \ud800x");
  assert.equal(
    lone.err,
    'error: spawn: the id "\\ud800x" has a lone surrogate (U+D800) at character 1',
  );
  await t.run("spawn door x");
  assert.match((await t.run("checkpoint x l\ud800")).err, /the label "l\\ud800" has a lone/);
  // An event name or a string in code is data: a valid result.
  assert.equal((await t.run("send x \0")).result, "ok");
  assert.equal((await t.run("'\0\ud800'.length")).out, "2");
  const code = await t.run("\ud800");
  assert.equal(code.result, "failed");
  assert.match(code.err, /^error: SyntaxError: /);
  assert.equal((await t.run("ls")).out, "x  door  active  secure.closed");
});

Deno.test("Object.prototype names as ids, contexts and payloads stay data", async () => {
  await using t = await open();
  const str = await t.run('spawn door a "str"');
  assert.equal(
    str.err,
    'error: the context must be a JSON object like {"code":"1234"}, not a string: "str"',
  );
  assert.equal((await t.run('spawn door b {"__proto__":{"polluted":1}}')).result, "ok");
  assert.equal((await t.run('send b OPEN {"__proto__":{"polluted":1}}')).result, "ok");
  for (const id of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    assert.equal((await t.run(`spawn door ${id} {"${id}":1}`)).result, "ok", id);
    assert.match(
      (await t.run(`state ${id}`)).out,
      new RegExp(`^context: .*(${id}|\\['${id}'\\]): 1`, "m"),
    );
  }
  const b = await t.session.runtime.get("b");
  assert.deepEqual(Object.keys(b!.context as object).includes("__proto__"), true);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.match((await t.run("help constructor")).err, /no command "constructor"/);
  assert.match((await t.run("spawn toString")).err, /unknown machine "toString"/);
});

Deno.test("code nested past any parser's stack: a SyntaxError, the process lives", async () => {
  await using t = await open();
  const lines = [
    "[".repeat(100_000) + "]".repeat(100_000),
    "(".repeat(100_000) + "1" + ")".repeat(100_000),
    "-".repeat(100_000) + "1",
    // TypeScript nested this deep aborts the stripper (native stack overflow) if it sees it.
    "let x: " + "Array<".repeat(10_000) + "number" + ">".repeat(10_000) + " = []",
    "(x=>".repeat(5_000) + "1" + ")".repeat(5_000),
    "x=>".repeat(5_000) + "1 +",
  ];
  for (const line of lines) {
    const r = await t.run(line);
    assert.equal(r.result, "failed", line.slice(0, 20));
    assert.match(r.err, /^error: SyntaxError: /, line.slice(0, 20));
    assert.doesNotMatch(r.err, /Maximum call stack/);
  }
  // Short TypeScript still runs.
  assert.equal((await t.run("const n: Array<number> = [1, 2]; n.length")).out, "2");
  // A syntax error far into a long line is shown around its column.
  const far = await t.run("1 + ".repeat(2_000) + ")");
  assert.match(far.err, /^error: SyntaxError: /);
  assert.ok(far.err.length < 2_500);
});
