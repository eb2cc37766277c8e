// Hostile REPL lines (issue #14): random and mutated command lines (every command of the REPL,
// with ids, events and JSON that are odd, nested deep, named after Object.prototype, with NUL
// bytes and lone surrogates) and code lines that throw now or later, fed to one ReplSession on
// an in-memory runtime. Each line gives output or a clear error (no stack, no internal message
// from a command), the session goes on, what fails later is reported as one line, and
// Object.prototype is untouched. More cases: STATECRAFT_FUZZ_RUNS=2000.
import assert from "node:assert/strict";
import fc from "fast-check";
import { door } from "../../examples/door.ts";
import { COMMANDS, findCommand } from "../../lib/repl/commands.ts";
import { tally } from "../fixtures/server/machines.ts";
import { memorySession } from "../repl/_memory_session.ts";
import { waitFor } from "../_wait.ts";
import { INTERNAL, nameArb, outcome, params, PROTO_NAMES } from "./_property.ts";

/** Text a user should not be able to break anything with. */
const oddArb = fc.oneof(
  fc.constantFrom("\0", "a\0b", "\ud800", "x\udfff", "\u2028", "\x7f", "\x1b[31m", "é😀", "\t"),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("d1", "d2", "t1", "t2") },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 2, arbitrary: nameArb },
  { weight: 1, arbitrary: oddArb },
);
const eventArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("OPEN", "CLOSE", "LOCK", "UNLOCK", "ADD", "STOP") },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: nameArb },
  { weight: 1, arbitrary: oddArb },
);
const keyArb = fc.oneof(
  fc.constantFrom("code", "n", "a"),
  fc.constantFrom(...PROTO_NAMES),
  oddArb,
);

const deep = (n: number, open: string, close: string) => open.repeat(n) + "1" + close.repeat(n);
/** JSON text: objects with odd keys, deep nesting around the limit, the wrong kinds, junk. */
const jsonArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(fc.tuple(keyArb, fc.jsonValue({ maxDepth: 2 })), { maxLength: 4 }).map(
      (entries) =>
        `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`,
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom('{"code":"0000"}', '{"code":"12"}', '{"code":1}') },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 95, max: 3_000 }).chain((n) =>
      fc.constantFrom(deep(n, '{"a":', "}"), deep(n, "[", "]"), deep(n, '{"__proto__":', "}"))
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"str"', "[1,2]", "null", "1e400", "{", "'{\"a\":1}'", "{}x"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A command of the REPL with arguments that fit its shape, or do not. */
const commandArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom("door", "tally", "nope", ...PROTO_NAMES), idArb, fc.option(jsonArb))
    .map(([m, id, json]) => `spawn ${m} ${id}${json === null ? "" : ` ${json}`}`),
  fc.tuple(fc.constantFrom("door", "tally"), jsonArb).map(([m, json]) => `spawn ${m} ${json}`),
  fc.tuple(idArb, eventArb, fc.option(jsonArb))
    .map(([id, e, json]) => `send ${id} ${e}${json === null ? "" : ` ${json}`}`),
  fc.tuple(
    fc.constantFrom("state", "history", "undo", "watch", "diagram", "checkpoint", "rollback"),
    idArb,
    fc.option(fc.oneof(nameArb, oddArb, fc.integer().map(String), fc.constant("--mermaid"))),
  ).map(([c, id, arg]) => `${c} ${id}${arg === null ? "" : ` ${arg}`}`),
  fc.tuple(nameArb, nameArb, fc.option(jsonArb))
    .map(([p, a, json]) => `call ${p} ${a}${json === null ? "" : ` ${json}`}`),
  fc.tuple(
    fc.constantFrom(...COMMANDS.map((c) => c.name).filter((n) => n !== "reload")),
    fc.option(fc.oneof(nameArb, oddArb)),
  ).map(([c, arg]) => arg === null ? c : `${c} ${arg}`),
);

/** A change to a line: a character in, a piece out, a word swapped for a prototype name. */
const mutationArb = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom("{", "}", "[", '"', " ", "\0", "\ud800", "=", "(", "`")).map(
    ([at, c]) => (line: string) =>
      line.slice(0, at % (line.length + 1)) + c + line.slice(at % (line.length + 1)),
  ),
  fc.tuple(fc.nat(), fc.nat({ max: 6 })).map(([at, n]) => (line: string) => {
    const i = at % (line.length + 1);
    return line.slice(0, i) + line.slice(i + n);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...PROTO_NAMES)).map(([at, name]) => (line: string) => {
    const parts = line.split(" ");
    parts[at % parts.length] = name;
    return parts.join(" ");
  }),
);
const mutatedArb = fc.tuple(commandArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
  .map(([line, changes]) => changes.reduce((l, change) => change(l), line));

/** Code that throws after its line has ended, exactly once (counted by the property). */
const laterArb = fc.tuple(
  fc.constantFrom(
    (m: string) => `setTimeout(() => { throw new Error(${m}) }, 0); 0`,
    (m: string) => `void Promise.reject(new Error(${m}))`,
    (m: string) => `queueMicrotask(() => { throw ${m} }); 0`,
    (m: string) => `void d1?.send?.(${m})?.then(() => { throw new Error("after") })`,
  ),
  fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...PROTO_NAMES)),
).map(([template, message]) => template(JSON.stringify(message)));

/** Code lines: values, throws now, handles, declarations, TypeScript, syntax errors, nesting. */
const codeArb = fc.oneof(
  fc.constantFrom(
    "1 + 1",
    "({ __proto__: { polluted: 1 } }).polluted",
    'JSON.parse(\'{"__proto__":{"polluted":1}}\')',
    "(() => { throw new Error('now') })()",
    "throw 1",
    "throw undefined",
    "Promise.reject(new Error('awaited'))",
    "await Promise.reject(null)",
    "nope.x",
    "d1.state",
    "await d1.send('OPEN')",
    "(await $('__proto__')).state",
    "const constructor = 1",
    "let __proto__ = { polluted: 1 }; __proto__",
    "var toString = 2; toString + 1",
    "const n: number = 1; n",
    "enum E { A, B }; E.B",
    "type T = { a: 1 }",
    "interface I { a: number }",
    "1 +",
    "}{",
    "runtime.machines.size",
    "[..." + "'x'.repeat(3)]",
  ),
  fc.string({ maxLength: 20 }),
  fc.integer({ min: 1, max: 5_000 }).chain((n) =>
    fc.constantFrom(
      deep(n, "(", ")"),
      deep(n, "[", "]"),
      "let x: " + "Array<".repeat(Math.min(n, 600)) + "number" + ">".repeat(Math.min(n, 600)),
      "x=>".repeat(Math.min(n, 1_300)) + "1 +",
    )
  ),
);

type Line = { text: string; later: boolean; code: boolean };
const lineArb: fc.Arbitrary<Line> = fc.oneof(
  { weight: 6, arbitrary: commandArb.map((text) => ({ text, later: false, code: false })) },
  { weight: 3, arbitrary: mutatedArb.map((text) => ({ text, later: false, code: false })) },
  { weight: 3, arbitrary: codeArb.map((text) => ({ text, later: false, code: true })) },
  { weight: 2, arbitrary: laterArb.map((text) => ({ text, later: true, code: true })) },
);

/** Whether the session takes the line as a command (its own rule), not as code. */
function isCommand(line: string): boolean {
  const m = /^([a-z]+)(?:\s+([\s\S]*))?$/.exec(line.trim());
  return m !== null && findCommand(m[1]) !== undefined && !/^[=(.[`]/.test(m[2] ?? "");
}

const LATER = "error: later, from an earlier line: ";
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;

Deno.test("REPL lines: output or a clear error, the session goes on, later errors reported", async () => {
  // `load` resolves against an empty folder: a random name loads nothing of the repository's.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_prop_" });
  await using t = await memorySession([door, tally], { cwd: dir, debug: false });
  const { session, lines, errors } = t;
  let expectedLater = 0;
  const later = () => errors.filter((e) => e.startsWith(LATER)).length;
  const stats = { lines: 0, ok: 0, failed: 0, later: 0 };
  try {
    await session.execute("spawn door d1");
    await session.execute("spawn tally t1");
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 6 }), async (batch) => {
        for (const line of batch) {
          const before = errors.length;
          const result = await outcome(
            `line ${JSON.stringify(line.text.slice(0, 200))}`,
            () => session.execute(line.text),
          );
          assert.ok("ok" in result, `the session threw on ${JSON.stringify(line.text)}`);
          assert.ok(["ok", "failed", "exit"].includes(result.ok), String(result.ok));
          stats.lines++;
          stats[result.ok === "ok" ? "ok" : "failed"]++;
          const said = errors.slice(before).filter((e) => !e.startsWith(LATER));
          const what = `${JSON.stringify(line.text.slice(0, 200))} printed ${said.join("\n")}`;
          if (result.ok === "failed") {
            assert.ok(said.length > 0 && said[0].startsWith("error: "), what);
          }
          assert.doesNotMatch(said.join("\n"), STACK_FRAME, what);
          assert.ok(said.every((e) => e.length < 2_600), what);
          if (!line.code && isCommand(line.text)) {
            for (const re of INTERNAL) assert.doesNotMatch(said.join("\n"), re, what);
          }
          if (line.later && result.ok === "ok") expectedLater++;
        }
        // Whatever the lines left behind has failed and been reported, once each, one line.
        await waitFor(`${expectedLater} later errors reported`, () => later() >= expectedLater);
        assert.equal(later(), expectedLater, errors.filter((e) => e.startsWith(LATER)).join("\n"));
        // The session goes on.
        lines.length = 0;
        assert.equal(await session.execute("1 + 1"), "ok");
        assert.equal(lines.at(-1), "2");
      }),
      params(300, 10_000),
    );
    stats.later = later();
    assert.equal(await session.execute("ls"), "ok");
    console.log(`repl property: ${JSON.stringify(stats)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
