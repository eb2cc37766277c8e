import assert from "node:assert/strict";
import { fromSCXML, ScxmlError } from "../../lib/scxml/mod.ts";
import { VirtualClock } from "../../lib/core/clock.ts";

const NS = `xmlns="http://www.w3.org/2005/07/scxml"`;

const microwave = `<scxml ${NS} datamodel="ecmascript">
  <datamodel><data id="cookTime" expr="5"/><data id="timer" expr="0"/></datamodel>
  <parallel id="microwave">
    <state id="oven" initial="off">
      <state id="off"><transition event="turn.on" target="on"/></state>
      <state id="on" initial="idle">
        <transition event="turn.off" target="off"/>
        <transition cond="timer &gt;= cookTime" target="off"/>
        <state id="idle"><transition cond="In('closed')" target="cooking"/></state>
        <state id="cooking">
          <transition event="time"><assign location="timer" expr="timer + 1"/></transition>
        </state>
      </state>
    </state>
    <state id="door" initial="closed">
      <state id="closed"><transition event="door.open" target="open"/></state>
      <state id="open"><transition event="door.close" target="closed"/></state>
    </state>
  </parallel>
</scxml>`;

Deno.test("fromSCXML: state ids are the document's, and the machine API works", () => {
  const m = fromSCXML(`<scxml ${NS} initial="a">
    <state id="a"><transition event="go" target="b"/></state>
    <state id="b" initial="b1"><state id="b1"/><state id="b2"/></state>
  </scxml>`);
  const i = m.start();
  assert.deepEqual(i.configuration, ["a"]);
  i.send("go");
  assert.deepEqual(i.configuration, ["b", "b1"]);
  assert.deepEqual(i.atomicConfiguration, ["b1"]);
  const snap = i.snapshot();
  const j = m.restore(snap);
  assert.deepEqual(j.configuration, ["b", "b1"]);
});

Deno.test("fromSCXML: data model, guards and assign", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s">
    <datamodel><data id="n" expr="0"/></datamodel>
    <state id="s">
      <transition event="inc" cond="n &lt; 2"><assign location="n" expr="n + 1"/></transition>
      <transition event="inc" target="done"/>
    </state>
    <final id="done"/>
  </scxml>`);
  const i = m.start();
  i.send("inc");
  i.send("inc");
  assert.equal(i.context.n, 2);
  i.send("inc");
  assert.equal(i.status, "done");
});

Deno.test("fromSCXML: delayed send on a virtual clock, and cancel", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s">
    <state id="s">
      <onentry><send event="tick" delay="1s" id="t"/><send event="boom" delay="2s" id="b"/></onentry>
      <transition event="tick"><cancel sendid="b"/></transition>
      <transition event="boom" target="bad"/>
    </state>
    <final id="bad"/>
  </scxml>`);
  const clock = new VirtualClock();
  const i = m.start({ clock });
  clock.advance(5000);
  assert.deepEqual(i.configuration, ["s"]);
});

Deno.test("fromSCXML: a bigger document (microwave) runs", () => {
  const m = fromSCXML(microwave);
  const i = m.start();
  i.send("turn.on");
  assert.deepEqual(i.atomicConfiguration, ["cooking", "closed"]);
  for (let k = 0; k < 5; k++) i.send("time");
  assert.deepEqual(i.atomicConfiguration, ["off", "closed"]);
});

Deno.test("data model: host globals are out of reach of expressions", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s">
    <datamodel><data id="r" expr="0"/></datamodel>
    <state id="s">
      <onentry>
        <script>leaked = 1;</script>
        <assign location="r" expr="typeof Math.max"/>
      </onentry>
      <transition event="probe" cond="Deno.pid &gt; 0" target="bad"/>
      <transition event="error.execution" target="ok"/>
    </state>
    <final id="ok"/><final id="bad"/>
  </scxml>`);
  const errors: string[] = [];
  const i = m.start({ listener: (r) => r.kind === "error" && errors.push(r.error) });
  assert.equal((globalThis as Record<string, unknown>).leaked, undefined);
  assert.equal(i.context.leaked, 1);
  assert.equal(i.context.r, "function");
  i.send("probe");
  assert.equal(i.status, "done");
  assert.match(errors.join("\n"), /Deno is not defined/);
});

Deno.test("data model: system variables are read-only", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s" name="sys">
    <state id="s">
      <onentry><assign location="_sessionid" expr="'x'"/></onentry>
      <transition event="error.execution" cond="_name === 'sys'" target="ok"/>
    </state>
    <final id="ok"/>
  </scxml>`);
  assert.equal(m.start().status, "done");
});

Deno.test("invalid expressions are error.execution at run time, never an exception", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s">
    <state id="s">
      <onentry><log expr="1 +* 2"/></onentry>
      <transition event="x" cond="((("/>
      <transition event="error.execution" target="t"/>
    </state>
    <state id="t">
      <transition event="x" cond="(((" target="s"/>
      <transition event="error.execution" target="ok"/>
    </state>
    <final id="ok"/>
  </scxml>`);
  const i = m.start();
  assert.deepEqual(i.configuration, ["t"]);
  i.send("x");
  assert.equal(i.status, "done");
});

Deno.test("bad input: malformed XML names line and column", () => {
  const err = assertThrowsScxml(() => fromSCXML(`<scxml ${NS}>\n  <state id="a">\n</scxml>`));
  assert.equal(err.line, 3);
  assert.ok(err.column !== undefined);
  assert.match(err.message, /malformed XML/);
});

Deno.test("bad input: unknown elements and attributes are named with their line", () => {
  const e1 = assertThrowsScxml(() =>
    fromSCXML(`<scxml ${NS}>\n<state id="a">\n  <blink/>\n</state></scxml>`, { source: "d.scxml" })
  );
  assert.match(e1.message, /^d\.scxml:3:\d+ unknown element <blink>/);
  const e2 = assertThrowsScxml(() =>
    fromSCXML(`<scxml ${NS}>\n<state id="a" colour="red"/></scxml>`)
  );
  assert.equal(e2.line, 2);
  assert.match(e2.message, /unknown attribute "colour" on <state>/);
  const e3 = assertThrowsScxml(() =>
    fromSCXML(`<scxml ${NS}><state id="a"><transition target="nowhere"/></state></scxml>`)
  );
  assert.match(e3.message, /nowhere/);
});

Deno.test("bad input: a script that cannot be loaded rejects the document", () => {
  const e = assertThrowsScxml(() =>
    fromSCXML(`<scxml ${NS}><script src="file:///nonexistent/x.js"/><state id="a"/></scxml>`)
  );
  assert.match(e.message, /cannot load src/);
});

function assertThrowsScxml(fn: () => unknown): ScxmlError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScxmlError) return e;
    // Definition errors (bad targets) come from the engine's checks.
    if (e instanceof Error) {
      return Object.assign(e, { line: undefined, column: undefined }) as never;
    }
    throw e;
  }
  throw new Error("expected an error");
}

Deno.test("snapshot and restore carry the data model; a restored session is a new session", () => {
  const m = fromSCXML(`<scxml ${NS} initial="s">
    <datamodel><data id="n" expr="0"/><data id="sid" expr="_sessionid"/></datamodel>
    <state id="s">
      <transition event="inc"><assign location="n" expr="n + 1"/></transition>
      <transition event="who"><assign location="sid" expr="_sessionid"/></transition>
    </state>
  </scxml>`);
  const a = m.start();
  a.send("inc");
  const first = a.context.sid;
  const b = m.restore(a.snapshot());
  b.send("inc");
  b.send("who");
  assert.equal(b.context.n, 2);
  assert.notEqual(b.context.sid, first);
  assert.equal(a.context.n, 1);
});

Deno.test("a child document invoked inline talks to its parent", () => {
  const m = fromSCXML(`<scxml ${NS} initial="p">
    <datamodel><data id="got" expr="null"/></datamodel>
    <state id="p">
      <invoke id="kid">
        <param name="x" expr="41"/>
        <content>
          <scxml initial="c">
            <datamodel><data id="x" expr="0"/></datamodel>
            <state id="c">
              <onentry><send target="#_parent" event="hello"><param name="v" expr="x + 1"/></send></onentry>
              <transition event="bye" target="end"/>
            </state>
            <final id="end"/>
          </scxml>
        </content>
        <finalize><assign location="got" expr="_event.data.v"/></finalize>
      </invoke>
      <transition event="hello" cond="_event.invokeid === 'kid'"><send target="#_kid" event="bye"/></transition>
      <transition event="done.invoke.kid" target="done"/>
    </state>
    <final id="done"/>
  </scxml>`);
  const i = m.start();
  assert.equal(i.status, "done");
  assert.equal(i.context.got, 42);
});
