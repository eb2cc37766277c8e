import assert from "node:assert/strict";
import { assign, defineMachine } from "../../core.ts";
import { type Chart, chartOf } from "../../lib/server/inspector.ts";
import { door } from "../../examples/door.ts";
import { ARTIFACT_DIR } from "./_browser.ts";
import { inspectorBrowserTest } from "./_inspector_browser.ts";
import { DOOR_EVENTS, serveInspector } from "./_inspector_server.ts";

/** A media player: nested states, a parallel state with two regions, history, a final state. */
const player = defineMachine({
  id: "player",
  initial: "stopped",
  context: { plays: 0 },
  states: {
    stopped: {
      on: {
        PLAY: { target: "playing", actions: assign({ plays: ({ context }) => context.plays + 1 }) },
        EJECT: "ejected",
      },
    },
    playing: {
      type: "parallel",
      states: {
        track: {
          initial: "normal",
          states: { normal: { on: { FAST: "fast" } }, fast: { on: { NORMAL: "normal" } } },
        },
        volume: {
          initial: "loud",
          states: { loud: { on: { MUTE: "muted" } }, muted: { on: { UNMUTE: "loud" } } },
        },
      },
      on: { STOP: "stopped", PAUSE: "paused" },
    },
    paused: { on: { PLAY: "playing", STOP: "stopped" }, after: { "5m": "stopped" } },
    ejected: { type: "final" },
  },
});

/** A kiosk: the machine itself has a transition (`on` at the top level). */
const kiosk = defineMachine({
  id: "kiosk",
  initial: "idle",
  on: { RESET: ".idle" },
  states: { idle: { on: { TOUCH: "menu" } }, menu: { on: { BACK: "idle" } } },
});

Deno.test("chartOf: a transition of the machine itself comes from the machine's id", () => {
  const chart = chartOf(kiosk);
  assert.deepEqual(chart.transitions.find((t) => t.event === "RESET"), {
    from: "kiosk",
    to: "idle",
    event: "RESET",
  });
});

Deno.test("chartOf: nested and parallel states, initial states, transitions with events", () => {
  const chart = chartOf(player);
  assert.equal(chart.id, "player");
  assert.equal(chart.kind, "compound");
  assert.deepEqual(chart.initial, ["stopped"]);
  assert.deepEqual(chart.states.map((s) => [s.id, s.kind]), [
    ["stopped", "atomic"],
    ["playing", "parallel"],
    ["paused", "atomic"],
    ["ejected", "final"],
  ]);
  const playing = chart.states[1];
  assert.deepEqual(playing.children.map((r) => [r.id, r.kind, r.initial]), [
    ["playing.track", "compound", ["playing.track.normal"]],
    ["playing.volume", "compound", ["playing.volume.loud"]],
  ]);
  assert.deepEqual(playing.children[0].children.map((s) => s.key), ["normal", "fast"]);
  const edges = chart.transitions.map((t) => `${t.from} -${t.event}-> ${t.to}`);
  assert.deepEqual(edges.sort(), [
    "paused -PLAY-> playing",
    "paused -STOP-> stopped",
    "paused -after 5m-> stopped",
    "playing -PAUSE-> paused",
    "playing -STOP-> stopped",
    "playing.track.fast -NORMAL-> playing.track.normal",
    "playing.track.normal -FAST-> playing.track.fast",
    "playing.volume.loud -MUTE-> playing.volume.muted",
    "playing.volume.muted -UNMUTE-> playing.volume.loud",
    "stopped -EJECT-> ejected",
    "stopped -PLAY-> playing",
  ]);
  // Plain JSON: what the route sends is what chartOf returns.
  assert.deepEqual(JSON.parse(JSON.stringify(chart)), chart);
});

Deno.test("chartOf: every event the machine knows, with its payload's JSON Schema", () => {
  const events = new Map(chartOf(door).events.map((e) => [e.type, e]));
  assert.deepEqual([...events.keys()].sort(), DOOR_EVENTS);
  // zod schemas say their JSON Schema (Standard JSON Schema): the inspector builds a form.
  const lock = events.get("LOCK")!;
  assert.equal(lock.checked, true);
  assert.deepEqual(lock.payload?.properties, { code: { type: "string", pattern: "^\\d{4}$" } });
  assert.deepEqual(lock.payload?.required, ["code"]);
  assert.deepEqual(events.get("OPEN"), { type: "OPEN" });
  // `after` events are the engine's own: not listed.
  assert.ok(!chartOf(player).events.some((e) => e.type.startsWith("after")));
});

Deno.test("chartOf: guards, history states and targetless transitions", () => {
  const chart = chartOf(door);
  const find = (id: string, states = chart.states): Chart["states"][number] | undefined => {
    for (const s of states) {
      if (s.id === id) return s;
      const inner = find(id, s.children);
      if (inner !== undefined) return inner;
    }
  };
  const history = chart.transitions.filter((t) => t.kind === "history");
  assert.ok(history.length > 0, "a history state's default transition is drawn");
  for (const t of history) assert.equal(find(t.from)?.kind, "history");
  assert.ok(chart.transitions.some((t) => t.guard !== undefined), "guards are named");
  assert.ok(chart.transitions.some((t) => t.targetless === true), "targetless loops are kept");
  // Every endpoint is a state of the chart.
  for (const t of chart.transitions) {
    assert.ok(find(t.from) !== undefined, t.from);
    assert.ok(find(t.to) !== undefined, t.to);
  }
});

// ---------------------------------------------------------------------------------------------
// The inspector on the HTTP API (lib/server/app.ts), as `statecraft serve` mounts it.

Deno.test("inspector: GET / and every asset it loads come from the runtime", async () => {
  const s = await serveInspector([player, kiosk]);
  try {
    const page = await fetch(s.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const html = await page.text();
    assert.match(html, /<title>Statecraft inspector<\/title>/);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
      .filter((ref) => ref !== "data:,"); // the empty favicon: no request for /favicon.ico
    assert.deepEqual(refs.sort(), [
      "assets/elk.bundled.js",
      "assets/inspector.css",
      "assets/inspector.js",
      "assets/schedules.js",
    ]);
    for (const ref of refs) {
      // Relative, so nothing comes from elsewhere (no CDN): the page works offline.
      assert.doesNotMatch(ref, /^(https?:)?\/\//);
      const res = await fetch(new URL(ref, s.url));
      assert.equal(res.status, 200, ref);
      const type = res.headers.get("content-type")!;
      const body = await res.text();
      if (ref.endsWith(".js")) assert.match(type, /^text\/javascript/);
      else assert.match(type, /^text\/css/);
      if (ref.endsWith("elk.bundled.js")) {
        assert.ok(body.length > 1_000_000, "the whole elkjs bundle");
        assert.match(body, /Eclipse Layout Kernel|ELK/);
      }
    }
    const missing = await fetch(new URL("assets/nope.js", s.url));
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await s.close();
  }
});

Deno.test("inspector: GET /machines/:id/chart is chartOf, 404 for an unknown machine", async () => {
  const s = await serveInspector([player, kiosk]);
  try {
    const res = await fetch(new URL("machines/player/chart", s.url));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(chartOf(player))));
    const unknown = await fetch(new URL("machines/nope/chart", s.url));
    assert.equal(unknown.status, 404);
    assert.match(
      (await unknown.json()).error,
      /unknown machine "nope" \(known: door, kiosk, player/,
    );
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// In a real browser

inspectorBrowserTest(
  "inspector in Chromium: draws the chart, sends an accepted event, follows SSE, rolls back",
  async (s, page) => {
    await s.runtime.spawn("door", "door-1");
    await s.runtime.spawn("vending_machine", "vending-1");
    const inst = await s.runtime.spawn("player", "player-1");
    assert.deepEqual(inst.configuration, ["stopped"]);

    await page.goto(`${s.url}#player-1`);
    // The chart is laid out and drawn, the active state highlighted.
    await page.waitForSelector('#chart g.state.active[data-state="stopped"]');
    await page.waitForSelector("#live:not(.off)");
    const drawn = await page.$$eval(
      "#chart g.state",
      (gs) => gs.map((g) => g.getAttribute("data-state")),
    );
    for (const id of ["stopped", "playing", "playing.track", "playing.volume.muted", "ejected"]) {
      assert.ok(drawn.includes(id), `state ${id} is drawn`);
    }
    assert.ok(
      await page.$('#chart g.state.region[data-state="playing.track"]') !== null,
      "a parallel state's regions are drawn as regions",
    );
    const labels = await page.$$eval("#chart g.edge text", (ts) => ts.map((t) => t.textContent));
    for (const label of ["PLAY", "STOP", "MUTE", "after 5m"]) {
      assert.ok(labels.includes(label), `edge label ${label}`);
    }
    // Every state box lies inside its parent's box: the layout nests them.
    const boxes = await page.$$eval("#chart g.state", (gs) =>
      gs.map((g) => {
        type Shape = { getBBox(): { x: number; y: number; width: number; height: number } };
        const shape = g.querySelector(":scope > rect, :scope > circle, :scope > polygon");
        const r = (shape as unknown as Shape).getBBox();
        return { id: g.getAttribute("data-state")!, x: r.x, y: r.y, w: r.width, h: r.height };
      }));
    const byId = new Map(boxes.map((b) => [b.id, b]));
    for (const b of boxes) {
      const parentId = b.id.includes(".") ? b.id.slice(0, b.id.lastIndexOf(".")) : null;
      const p = parentId === null ? undefined : byId.get(parentId);
      if (p === undefined) continue;
      assert.ok(
        b.x >= p.x && b.y >= p.y && b.x + b.w <= p.x + p.w && b.y + b.h <= p.y + p.h,
        `${b.id} inside ${p.id}`,
      );
    }

    // Every event the machine knows has a button; those accepted now are marked.
    const buttons = await page.$$eval("#events button", (bs) => bs.map((b) => b.textContent));
    assert.deepEqual(buttons.sort(), [
      "EJECT",
      "FAST",
      "MUTE",
      "NORMAL",
      "PAUSE",
      "PLAY",
      "STOP",
      "UNMUTE",
    ]);
    const accepted = await page.$$eval(
      "#events button.accepted",
      (bs) => bs.map((b) => b.textContent),
    );
    assert.deepEqual(accepted.sort(), ["EJECT", "PLAY"]);

    // Click PLAY: the highlight moves into the parallel state's regions.
    await page.click('#events button[data-event="PLAY"]');
    await page.waitForSelector('#chart g.state.active[data-state="playing.volume.loud"]');
    const active = await page.$$eval(
      "#chart g.state.active",
      (gs) => gs.map((g) => g.getAttribute("data-state")),
    );
    assert.deepEqual(active.sort(), [
      "playing",
      "playing.track",
      "playing.track.normal",
      "playing.volume",
      "playing.volume.loud",
    ]);
    assert.ok(
      await page.$('#chart g.edge.enabled[data-event="MUTE"]') !== null,
      "the transitions enabled now are marked",
    );
    await page.waitForSelector(`#context:has-text('"plays": 1')`);

    // An event sent by someone else arrives over SSE and moves the highlight.
    await s.runtime.send("player-1", "MUTE", { by: "test" });
    await page.waitForSelector('#chart g.state.active[data-state="playing.volume.muted"]');
    assert.equal(await page.$('#chart g.state.active[data-state="playing.volume.loud"]'), null);
    await page.waitForSelector('#journal tr[data-seq="2"]');

    const screenshot = `${ARTIFACT_DIR}/inspector.png`;
    await Deno.mkdir(ARTIFACT_DIR, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok((await Deno.stat(screenshot)).size > 10_000, "a real picture");
    console.log(`inspector screenshot: ${screenshot}`);

    // Roll back to the journal entry before PLAY.
    await page.click('#journal button.rollback[data-seq="0"]');
    await page.waitForSelector('#chart g.state.active[data-state="stopped"]');
    assert.equal(await page.$('#chart g.state.active[data-state="playing"]'), null);
    const after = await s.runtime.get("player-1");
    assert.deepEqual(after?.configuration, ["stopped"]);
    await page.screenshot({ path: `${ARTIFACT_DIR}/inspector_rollback.png`, fullPage: true });

    // The other machines draw too (door: history and guards; vending: three regions).
    await page.click('#instances button[data-instance="door-1"]');
    await page.waitForSelector('#chart svg[data-machine="door"]');
    await page.waitForSelector("#chart g.state.active");
    await page.screenshot({ path: `${ARTIFACT_DIR}/inspector_door.png`, fullPage: true });
    await page.click('#instances button[data-instance="vending-1"]');
    await page.waitForSelector('#chart svg[data-machine="vending_machine"]');
    await page.waitForSelector('#chart g.state.active[data-state="operating.payment.idle"]');
    await page.screenshot({ path: `${ARTIFACT_DIR}/inspector_vending.png`, fullPage: true });
    // A machine with transitions of its own is drawn as a box around its states.
    await s.runtime.spawn("kiosk", "kiosk-1");
    await page.waitForSelector('#instances button[data-instance="kiosk-1"]'); // heard over SSE
    await page.click('#instances button[data-instance="kiosk-1"]');
    await page.waitForSelector('#chart svg[data-machine="kiosk"]');
    await page.waitForSelector('#chart g.edge.enabled[data-from="kiosk"][data-event="RESET"]');
    await page.waitForSelector('#chart g.state.active[data-state="idle"]');
    await page.waitForSelector('#chart g.state.active[data-state="kiosk"]');
    await page.screenshot({ path: `${ARTIFACT_DIR}/inspector_kiosk.png`, fullPage: true });
  },
  { machines: [player, kiosk] },
);
