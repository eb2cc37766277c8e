/**
 * The data model's fast path for simple expressions (issue #13) means what the general
 * `with` path means: the same values, the same ReferenceErrors, no host global in reach.
 */
import assert from "node:assert/strict";
import { compileSimple, rewriteSimple } from "../../lib/scxml/expression.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";

const data: Record<string, unknown> = { n: 2, s: "ab", o: { x: [1, 2] }, f: null };
const lookup = (k: string): unknown => {
  if (Object.hasOwn(data, k)) return data[k];
  if (k === "Math") return Math;
  throw new ReferenceError(`${k} is not defined`);
};
/** The same expression through `with` over a scope that resolves names the same way. */
const general = (expr: string): unknown =>
  new Function("$s", `with ($s) { return (${expr}); }`)(
    new Proxy({}, {
      has: () => true,
      get: (_t, k) => typeof k === "string" ? lookup(k) : undefined,
    }),
  );

Deno.test("simple expressions: the same value on both paths", () => {
  for (
    const expr of [
      "n >= 0",
      "n + 1",
      "s === 'ab' && n !== 3",
      "o.x[1] * 2 / n",
      "o?.x?.length ?? 0",
      "typeof missing === 'undefined' ? 1 : 2",
      "Math.max(n, 5)",
      "'a\\'b' + \"c\"",
      "f == null",
      "(-n) ** 2 > 3 ? 'yes' : 'no'",
    ]
  ) {
    const fast = compileSimple(expr);
    if (fast === undefined) throw new Error(`"${expr}" should be on the fast path`);
    let want: unknown, got: unknown;
    try {
      want = general(expr);
    } catch (e) {
      want = String(e);
    }
    try {
      got = fast(lookup);
    } catch (e) {
      got = String(e);
    }
    assert.deepEqual(got, want, expr);
  }
});

Deno.test("anything that is not simple keeps the general path", () => {
  for (
    const expr of [
      "n = 1",
      "n += 1",
      "n++",
      "f()",
      "[...o.x]",
      "({ a: 1 })",
      "`t${n}`",
      "/a/.test(s)",
      "x => x",
      "this.n",
      "new Date()",
      "n // comment",
      "delete o.x",
    ]
  ) assert.equal(rewriteSimple(expr), undefined, expr);
});

Deno.test("a document's simple expressions reach no host global", () => {
  const m = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="a">
    <datamodel><data id="r" expr="''"/></datamodel>
    <state id="a"><onentry>
      <if cond="typeof Deno === 'object'"><assign location="r" expr="'Deno'"/></if>
    </onentry><transition event="error.execution" target="b">
      <assign location="r" expr="_event.data.message"/></transition></state>
    <state id="b"/></scxml>`);
  const i = m.start();
  assert.deepEqual(i.configuration, ["b"]);
  assert.equal(i.context.r, "ReferenceError: Deno is not defined");
});
