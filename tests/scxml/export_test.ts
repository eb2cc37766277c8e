import assert from "node:assert/strict";
import { defineMachine } from "../../lib/core/machine.ts";
import { VirtualClock } from "../../lib/core/clock.ts";
import { exportSCXML, fromSCXML, toSCXML } from "../../lib/scxml/mod.ts";

const player = defineMachine({
  id: "player",
  initial: "stopped",
  context: { volume: 5, tracks: ["a", "b"] },
  states: {
    stopped: { on: { PLAY: "playing" } },
    playing: {
      initial: "normal",
      states: {
        normal: { on: { FF: "fast" } },
        fast: { after: { 2000: "normal" } },
        hist: { type: "history", history: "deep" },
      },
      on: { STOP: "stopped", PAUSE: "paused" },
    },
    paused: { on: { PLAY: "playing.hist", EJECT: "ejected" } },
    ejected: { type: "final", output: { ejected: true } },
  },
});

Deno.test("toSCXML: a plain machine round-trips through SCXML with the same behaviour", () => {
  const { xml, unsupported } = exportSCXML(player);
  assert.deepEqual(unsupported, []);
  const back = fromSCXML(xml);
  const clockA = new VirtualClock();
  const clockB = new VirtualClock();
  const a = player.start({ clock: clockA });
  const b = back.start({ clock: clockB });
  const steps: Array<string | number> = ["PLAY", "FF", "PAUSE", "PLAY", 2500, "PAUSE", "EJECT"];
  for (const step of steps) {
    if (typeof step === "number") {
      clockA.advance(step);
      clockB.advance(step);
    } else {
      a.send(step);
      b.send(step);
    }
    assert.deepEqual(b.configuration, a.configuration, `after ${step}`);
  }
  assert.equal(b.status, "done");
  assert.deepEqual(b.context.tracks, ["a", "b"]);
});

Deno.test("exportSCXML: TypeScript functions are listed and marked, not silently dropped", () => {
  const m = defineMachine({
    id: "m",
    initial: "a",
    states: {
      a: {
        entry: () => {},
        on: { GO: { target: "b", guard: () => true, actions: () => {} } },
      },
      b: { invoke: { src: () => Promise.resolve(1) } },
    },
  });
  const { xml, unsupported } = exportSCXML(m);
  assert.equal(unsupported.length, 4);
  assert.match(unsupported.join("\n"), /entry action/);
  assert.match(unsupported.join("\n"), /guard/);
  assert.match(unsupported.join("\n"), /TypeScript function/);
  assert.match(xml, /<!-- statecraft: not expressible in SCXML/);
  fromSCXML(xml); // still a valid document
});

Deno.test("toSCXML: an imported document is written back as it was", () => {
  const doc = `<scxml xmlns="http://www.w3.org/2005/07/scxml"><state id="x"/></scxml>`;
  assert.equal(toSCXML(fromSCXML(doc)), doc);
});
