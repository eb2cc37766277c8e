/** plugin.yaml from issue #14: alias bombs, cycles, deep nesting, huge maps, prototype keys. */
import assert from "node:assert/strict";
import { ManifestError, parseManifest } from "../../lib/plugins/manifest.ts";
import { assertPrototypeUntouched } from "../robustness/_property.ts";

const HEAD = "name: a\nversion: 1.0.0\n";
const noEnv = { env: () => undefined };

function problems(text: string): string[] {
  try {
    parseManifest(text, "plugin.yaml", noEnv);
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    return e.problems.map((p) => `${p.line}:${p.col} ${p.path.join(".")}: ${p.message}`);
  }
  return [];
}

const BOMB = [
  "config:",
  "  a: &a [x, x, x, x, x, x, x, x, x, x]",
  "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
  "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
  "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
  "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
  "  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
  "",
].join("\n");

Deno.test("an alias bomb is refused quickly, at the alias that crosses the limit", () => {
  const started = performance.now();
  const found = problems(HEAD + BOMB);
  assert.ok(performance.now() - started < 2_000);
  assert.equal(found.length, 1);
  assert.match(
    found[0],
    /^8:38 config\.e\.7: YAML: aliases expand the document by more than 100000 values \(an alias bomb\?\); this alias \(\*d, 11111 values\) crosses the limit$/,
  );
});

Deno.test("aliases: unknown anchors and cycles are refused where written; honest reuse is fine", () => {
  assert.deepEqual(problems(HEAD + "config: *nope\n"), [
    "3:9 config: YAML: alias *nope has no anchor &nope before it",
  ]);
  assert.deepEqual(problems(HEAD + "config: &c { self: *c }\n"), [
    "3:20 config.self: YAML: alias *c is inside the value it names (&c): the value would contain itself",
  ]);
  const uses = Array.from({ length: 300 }, (_, i) => `  k${i}: *v`).join("\n");
  const m = parseManifest(`${HEAD}description: &v shared\nconfig:\n${uses}\n`, "p", noEnv);
  assert.equal(m.config.k299, "shared", "an anchor used 300 times is not a bomb");
});

Deno.test("deep nesting is refused with a place, in flow and block style", () => {
  const flow = problems(`${HEAD}config: {x: ${"[".repeat(20_000)}${"]".repeat(20_000)}}\n`);
  assert.equal(flow.length, 1);
  assert.match(flow[0], /^3:\d+ (config.*)?: YAML: nested more than 128 levels deep$/);
  const block = HEAD + "config:\n" +
    Array.from({ length: 200 }, (_, i) => `${" ".repeat(i + 2)}k:`).join("\n") + " 1\n";
  assert.match(
    problems(block)[0],
    /^\d+:\d+ config(\.k)+: YAML: nested more than 128 levels deep$/,
  );
});

Deno.test("a key written twice is named at its line; 20,000 unknown keys stay fast", () => {
  assert.deepEqual(problems(HEAD + "config: {a: 1, a: 2}\n"), [
    '3:16 config.a: YAML: the key "a" is written twice in this map',
  ]);
  const wide = HEAD + Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join("\n") + "\n";
  const started = performance.now();
  const found = problems(wide);
  assert.equal(found.length, 20_000);
  assert.equal(found[19_999], "20002:1 k19999: unknown key");
  assert.ok(performance.now() - started < 4_000, "linear, not quadratic");
});

Deno.test("__proto__ keys are refused at their line; constructor stays data", () => {
  const proto = 'YAML: "__proto__" cannot be a key (the value read from it would lose it or ' +
    "change its prototype)";
  assert.deepEqual(problems(HEAD + "__proto__: {polluted: 1}\nconstructor: 2\n"), [
    `3:1 __proto__: ${proto}`,
  ]);
  assert.deepEqual(problems(HEAD + "requires: {__proto__: ^1.0.0}\n"), [
    `3:12 requires.__proto__: ${proto}`,
  ]);
  assert.deepEqual(problems(HEAD + "config: {<<: {__proto__: {x: 1}}}\n"), [
    `3:15 config.<<.__proto__: ${proto}`,
  ]);
  assert.deepEqual(problems(HEAD + "constructor: 2\n"), ["3:1 constructor: unknown key"]);
  const m = parseManifest(HEAD + "config: {constructor: 1, toString: 2}\n", "p", noEnv);
  assert.equal(Object.getPrototypeOf(m.config), Object.prototype);
  assert.deepEqual(m.config, { constructor: 1, toString: 2 });
  assertPrototypeUntouched("plugin.yaml");
});
