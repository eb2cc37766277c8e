/** statecraft.yaml from issue #14: alias bombs and deep nesting are refused at their place. */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/runtime/config.ts";
import { DocumentError } from "../../lib/config/problems.ts";
import { assertPrototypeUntouched } from "../robustness/_property.ts";

function problems(text: string): string[] {
  try {
    parseConfig(text, "statecraft.yaml", () => undefined);
  } catch (e) {
    if (!(e instanceof DocumentError)) throw e;
    return e.problems.map((p) => `${p.line}:${p.col} ${p.path.join(".")}: ${p.message}`);
  }
  return [];
}

Deno.test("statecraft.yaml: an alias bomb names the alias's line and column", () => {
  const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (const [prev, name] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"]]) {
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
  }
  const found = problems(levels.join("\n") + "\n");
  assert.equal(found.length, 1, found.join("\n"));
  assert.match(found[0], /^5:36 e\.7: YAML: aliases expand the document by more than 100000/);
});

Deno.test("statecraft.yaml: deep nesting and prototype keys", () => {
  assert.match(
    problems(`machines: ${"[".repeat(5_000)}${"]".repeat(5_000)}\n`)[0],
    /^1:\d+ (machines.*)?: YAML: nested more than 128 levels deep$/,
  );
  assert.deepEqual(problems("__proto__: {polluted: true}\nconstructor: 1\n"), [
    '1:1 __proto__: YAML: "__proto__" cannot be a key (the value read from it would lose it ' +
    "or change its prototype)",
  ]);
  assert.deepEqual(problems("constructor: 1\n"), ["1:1 constructor: unknown key"]);
  assertPrototypeUntouched("statecraft.yaml");
});
