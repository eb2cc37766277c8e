/** SCXML documents from issue #14: endless scripts, deep nesting, prototype names. */
import assert from "node:assert/strict";
import { runCli, withTempScript } from "../cli/_run_cli.ts";
import { fromSCXML, ScxmlError } from "../../lib/scxml/mod.ts";
import { exportSCXML, toSCXML } from "../../lib/scxml/export.ts";
import { defineMachine, type Machine } from "../../lib/core/machine.ts";
import { assertPrototypeUntouched } from "../robustness/_property.ts";

const NS = `xmlns="http://www.w3.org/2005/07/scxml"`;

Deno.test("run doc.scxml: a <script>while(true){}</script> is stopped at its time limit", async () => {
  const doc = `<scxml ${NS} initial="a">\n  <state id="a">\n    <onentry>\n` +
    `      <script>while(true){}</script>\n    </onentry>\n  </state>\n</scxml>\n`;
  await withTempScript("loop.scxml", doc, async (path) => {
    const r = await runCli("run", path, "--time-limit", "300ms");
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /loop\.scxml:4:7 <script> ran for more than 300ms \(the time limit of untrusted documents; --time-limit changes it\); the document was stopped/,
    );
  });
});

Deno.test("run doc.scxml: an endless cond is stopped and named", async () => {
  const doc = `<scxml ${NS} initial="a">\n  <state id="a">\n` +
    `    <transition event="go" cond="(()=>{while(1){}})()" target="b"/>\n  </state>\n` +
    `  <state id="b"/>\n</scxml>\n`;
  await withTempScript("cond.scxml", doc, async (path) => {
    const r = await runCli("run", path, "--events", "go", "--time-limit", "300ms");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /start: a/);
    assert.match(r.stderr, /cond\.scxml:3:5 <transition> ran for more than 300ms/);
  });
});

Deno.test("run doc.scxml: --time-limit refuses what is not a duration", async () => {
  const r = await runCli("run", "examples/microwave.scxml", "--time-limit", "soon");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--time-limit: "soon" is not a duration/);
});

Deno.test("a 20,000-deep document is refused at the element too deep, not a stack overflow", () => {
  const n = 20_000;
  const xml = `<scxml ${NS}>` +
    Array.from({ length: n }, (_, i) => `<state id="s${i}">`).join("\n") +
    "</state>".repeat(n) + "</scxml>";
  assert.throws(
    () => fromSCXML(xml, { source: "deep.scxml" }),
    (e: unknown) =>
      e instanceof ScxmlError && e.line === 1000 && e.column === 1 &&
      /deep\.scxml:1000:1 <state> is nested 1001 elements deep/.test(e.message),
  );
  // Deep executable content is refused the same way.
  const ifs = `<scxml ${NS}><state id="a"><onentry>` + '<if cond="true">'.repeat(n) +
    "</if>".repeat(n) + "</onentry></state></scxml>";
  assert.throws(() => fromSCXML(ifs), (e: unknown) => e instanceof ScxmlError && e.line === 1);
});

Deno.test("states deeper than the engine takes are refused at the state's line", () => {
  const n = 600;
  const xml = `<scxml ${NS}>\n` +
    Array.from({ length: n }, (_, i) => `<state id="s${i}">`).join("\n") +
    "</state>".repeat(n) + "</scxml>";
  assert.throws(
    () => fromSCXML(xml, { source: "d.scxml" }),
    (e: unknown) =>
      e instanceof ScxmlError && e.line === 502 && /nest more than 500/.test(e.message),
  );
});

Deno.test("toSCXML of a deeply invoked machine does not recurse", () => {
  // deno-lint-ignore no-explicit-any
  let m: Machine<any, any> = defineMachine({ id: "m0", initial: "a", states: { a: {} } });
  for (let i = 1; i < 3_000; i++) {
    m = defineMachine({ id: `m${i}`, initial: "s", states: { s: { invoke: { src: m } } } });
  }
  const { xml } = exportSCXML(m);
  assert.equal(xml.split("<scxml ").length - 1, 3_000);
  assert.ok(xml.length < 5_000_000, "indentation stops growing");
  // And a chart as deep as the engine allows comes back as itself.
  let st: Record<string, unknown> = { type: "final" };
  for (let i = 0; i < 498; i++) st = { initial: "x", states: { x: st } };
  const deep = defineMachine({ id: "d", initial: "x", states: { x: st } });
  assert.equal(fromSCXML(toSCXML(deep)).start().configuration.length, 499);
});

Deno.test("ids, events, data and params named __proto__ or constructor stay data", () => {
  const xml = `<scxml ${NS} initial="__proto__">
    <datamodel>
      <data id="__proto__" expr="({ polluted: 1 })"/>
      <data id="constructor" expr="2"/>
    </datamodel>
    <state id="__proto__">
      <transition event="constructor" target="toString">
        <send event="hasOwnProperty" target="#_internal">
          <param name="__proto__" expr="{ isAdmin: true }"/>
          <param name="valueOf" expr="3"/>
        </send>
      </transition>
    </state>
    <state id="toString">
      <transition event="hasOwnProperty" cond="_event.data.valueOf === 3 &amp;&amp; _event.data.__proto__.isAdmin" target="constructor"/>
    </state>
    <state id="constructor"/>
  </scxml>`;
  const m = fromSCXML(xml);
  const i = m.start();
  assert.deepEqual([...i.configuration], ["__proto__"]);
  assert.equal(Object.getPrototypeOf(i.context), Object.prototype);
  assert.deepEqual(Object.keys(i.context).sort(), ["__proto__", "constructor"]);
  i.send("constructor");
  assert.deepEqual([...i.configuration], ["constructor"]);
  assertPrototypeUntouched("the document");
  const restored = m.restore(JSON.parse(JSON.stringify(i.snapshot())));
  assert.deepEqual([...restored.configuration], ["constructor"]);
  assertPrototypeUntouched("the restored instance");
});

Deno.test("elements and attributes named like Object.prototype members are unknown", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.throws(
      () => fromSCXML(`<scxml ${NS}><state id="a"/>\n  <${name}/></scxml>`),
      (e: unknown) =>
        e instanceof ScxmlError && e.line === 2 &&
        e.detail === `unknown element <${name}>`,
      name,
    );
    assert.throws(
      () => fromSCXML(`<scxml ${NS}><state id="a" ${name}="x"/></scxml>`),
      (e: unknown) =>
        e instanceof ScxmlError && e.detail === `unknown attribute "${name}" on <state>`,
      name,
    );
  }
});

Deno.test("transitions keep document order across many alternating events, quickly", () => {
  const n = 20_000;
  const ts = Array.from({ length: n }, (_, i) => `<transition event="${i % 2 ? "a" : "b"}"/>`);
  const xml = `<scxml ${NS}><state id="s">${ts.join("")}</state></scxml>`;
  const started = performance.now();
  const m = fromSCXML(xml);
  assert.ok(performance.now() - started < 5_000, "linear in the number of transitions");
  const i = m.start();
  i.send("a");
  assert.deepEqual([...i.configuration], ["s"]);
});
