/// <reference lib="dom" />
// The inspector's layout in a real Chromium, at the narrow and the wide end (700 and 1920 px):
// the journal fits its panel (its `by` column and rollback buttons are not cut), the chart
// keeps its width and its edge labels stay readable, and Back/Forward move the selection.
import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@^1.65.1";
import { ARTIFACT_DIR } from "./_browser.ts";
import { inspectorBrowserTest } from "./_inspector_browser.ts";
import type { Served } from "./_inspector_server.ts";

/** Smallest edge label on screen, in CSS pixels. */
const READABLE_PX = 11;

/** A vending machine and a traffic light with journals of every kind, sent over HTTP. */
async function busyInstances(s: Served): Promise<void> {
  const send = async (path: string, body: unknown) => {
    const res = await fetch(new URL(path, s.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`);
  };
  await send("instances", { machine: "vending_machine", id: "vending-1" });
  await send("instances", { machine: "traffic_light", id: "light-1" });
  await send("instances", { machine: "door", id: "door-1" });
  for (const event of examplesEvents) await send("instances/vending-1/events", event);
  await s.time.advance("5s");
  await send("instances/vending-1/events", { type: "COLLECT" });
  await send("instances/vending-1/rollback", { seq: 2 });
  // Timers journal the longest event names (after.<delay>.<state id>).
  await s.time.advance("2m");
  await send("instances/light-1/events", { type: "POWER_OUTAGE" });
  await send("instances/light-1/rollback", { seq: 3 });
}

/** The vending machine's own example events (examples/vending_machine.events.jsonl). */
const examplesEvents = [
  { type: "COIN", cents: 100 },
  { type: "COIN", cents: 100 },
  { type: "SELECT", slot: "A1" },
  { type: "SELECT", slot: "C3" },
];

interface Measured {
  viewport: number;
  pageWidth: number;
  panelRight: number;
  journalRight: number;
  clipped: string[];
  cut: string[];
  rows: number;
  chartWidth: number;
  labels: number;
  smallestLabel: number;
  smallestState: number;
}

function measure(page: Page): Promise<Measured> {
  return page.evaluate(() => {
    const viewport = document.documentElement.clientWidth;
    const panel = document.querySelector("#panel")!.getBoundingClientRect();
    const journal = document.querySelector("#journal")!.getBoundingClientRect();
    // A cell whose content is wider than the cell is cut (or runs into its neighbour).
    const clipped = [...document.querySelectorAll<HTMLElement>("#journal th, #journal td")]
      .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent ?? "");
    // The `by` cells and the rollback buttons lie inside the panel and the window.
    const ends = [
      ...document.querySelectorAll("#journal tr.entry td:nth-child(5), #journal button"),
    ];
    const cut = ends.filter((e) => {
      const r = e.getBoundingClientRect();
      return r.right > panel.right + 0.5 || r.right > viewport + 0.5;
    }).map((e) => e.textContent ?? "");
    type Svg = SVGGraphicsElement;
    const onScreen = (sel: string) =>
      [...document.querySelectorAll<Svg>(sel)].map((t) =>
        parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM()!.a
      );
    const labels = onScreen("#chart g.edge text");
    return {
      viewport,
      pageWidth: document.documentElement.scrollWidth,
      panelRight: panel.right,
      journalRight: journal.right,
      clipped,
      cut,
      rows: document.querySelectorAll("#journal tr.entry").length,
      chartWidth: document.querySelector("#chart")!.getBoundingClientRect().width,
      labels: labels.length,
      smallestLabel: Math.min(...labels),
      smallestState: Math.min(...onScreen("#chart g.state > text")),
    };
  });
}

inspectorBrowserTest(
  "inspector in Chromium at 700 and 1920 px: the journal fits, the chart stays readable",
  async (s, page) => {
    await busyInstances(s);
    await Deno.mkdir(ARTIFACT_DIR, { recursive: true });
    for (const width of [700, 1920]) {
      await page.setViewportSize({ width, height: 900 });
      for (
        const [id, machine] of [["vending-1", "vending_machine"], ["light-1", "traffic_light"]]
      ) {
        const seq = (await s.runtime.get(id))!.seq;
        await page.goto(`${s.url}#${id}`);
        await page.waitForSelector(`#chart svg[data-machine="${machine}"]`);
        await page.waitForSelector(`#journal tr.entry.current[data-seq="${seq}"]`);
        await page.waitForSelector("#chart g.state.active");
        const m = await measure(page);
        const at = `${id} at ${width} px: ${JSON.stringify(m)}`;
        await page.screenshot({
          path: `${ARTIFACT_DIR}/layout_${id}_${width}.png`,
          fullPage: true,
        });
        assert.ok(m.rows >= 5, `a journal of several entries, ${at}`);
        assert.ok(m.pageWidth <= m.viewport, `no horizontal scroll of the page, ${at}`);
        assert.ok(m.journalRight <= m.panelRight + 0.5, `the journal fits its panel, ${at}`);
        assert.ok(m.panelRight <= m.viewport + 0.5, `the panel fits the window, ${at}`);
        assert.deepEqual(m.clipped, [], `no journal cell is cut, ${at}`);
        assert.deepEqual(m.cut, [], `the by column and rollback buttons show, ${at}`);
        assert.ok(m.chartWidth >= 0.55 * width, `the chart keeps its width, ${at}`);
        assert.ok(m.labels > 0, at);
        assert.ok(m.smallestLabel >= READABLE_PX - 0.01, `edge labels readable, ${at}`);
        assert.ok(m.smallestState >= READABLE_PX - 0.01, `state names readable, ${at}`);
      }
    }
    console.log(`inspector layout screenshots: ${ARTIFACT_DIR}/layout_*.png`);
  },
);

inspectorBrowserTest(
  "inspector in Chromium: Back and Forward move the selection with the URL",
  async (s, page) => {
    await s.runtime.spawn("door", "door-1");
    await s.runtime.spawn("vending_machine", "vending-1");
    await s.runtime.spawn("traffic_light", "light-1");
    const selected = async (id: string, machine: string) => {
      await page.waitForSelector(`#instances button.selected[data-instance="${id}"]`);
      await page.waitForSelector(`#instance-title:text-is("${id}")`);
      await page.waitForSelector(`#chart svg[data-machine="${machine}"]`);
      assert.equal(new URL(page.url()).hash, `#${id}`);
    };
    await page.goto(`${s.url}#door-1`);
    await selected("door-1", "door");
    await page.click('#instances button[data-instance="vending-1"]');
    await selected("vending-1", "vending_machine");
    await page.click('#instances button[data-instance="light-1"]');
    await selected("light-1", "traffic_light");
    await page.goBack();
    await selected("vending-1", "vending_machine");
    await page.goBack();
    await selected("door-1", "door");
    await page.goForward();
    await selected("vending-1", "vending_machine");
    // An address edited by hand selects its instance too.
    await page.evaluate(() => location.hash = "#light-1");
    await selected("light-1", "traffic_light");
  },
);
