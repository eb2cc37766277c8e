/**
 * The one duration parser (issue #13): every input that either of the two former parsers
 * accepted (the engine's and SCXML's `<send delay>`) still means the same milliseconds.
 */
import assert from "node:assert/strict";
import { parseDuration } from "../../lib/core/duration.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";
import { defineMachine, VirtualClock } from "../../mod.ts";

const ACCEPTED: [string | number, number][] = [
  // CSS2 time (SCXML)
  ["500ms", 500],
  ["2s", 2000],
  ["1.5s", 1500],
  [".5s", 500],
  ["0", 0],
  ["0s", 0],
  ["250", 250],
  [" 3 s ", 3000],
  // Statecraft's long units
  ["2m", 120_000],
  ["1.5h", 5_400_000],
  ["1d", 86_400_000], // SCXML's parser had `d`; the engine's now has it too
  // Numbers of milliseconds
  [250, 250],
  [0, 0],
  [1.5, 1.5],
];

const REJECTED: unknown[] = [
  "soon",
  "1 week",
  "-1s",
  "1.s",
  "s",
  "",
  "1e3",
  -1,
  NaN,
  Infinity,
  null,
  {},
];

Deno.test("parseDuration: CSS2 time, m/h/d and milliseconds; nothing else", () => {
  for (const [input, ms] of ACCEPTED) assert.equal(parseDuration(input), ms, String(input));
  for (const input of REJECTED) assert.equal(parseDuration(input), undefined, String(input));
});

Deno.test("the same delays in an SCXML <send delay> and a machine's `after`", () => {
  for (const delay of ["1.5s", ".5s", "250ms", "2m", "1d"]) {
    const ms = parseDuration(delay)!;
    const clock = new VirtualClock();
    const doc = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="a">
      <state id="a"><onentry><send event="t" delay="${delay}"/></onentry>
        <transition event="t" target="b"/></state>
      <final id="b"/></scxml>`).start({ clock });
    const ts = defineMachine({
      id: "t",
      initial: "a",
      states: { a: { after: { [delay]: "b" } }, b: { type: "final" } },
    }).start({ clock });
    clock.advance(ms - 1);
    assert.deepEqual([doc.status, ts.status], ["active", "active"], delay);
    clock.advance(1);
    assert.deepEqual([doc.status, ts.status], ["done", "done"], delay);
  }
});
