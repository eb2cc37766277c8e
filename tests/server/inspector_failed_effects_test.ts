// The inspector's Failed effects section in a real Chromium: sends to a plugin that is down
// wait in the outbox and are listed (effect id, event, target, attempts, the last error cut
// short with the whole of it in a tooltip, when it last failed); a row's redrive runs that
// effect alone: failed again, one more attempt; delivered once the plugin is back, and the
// row leaves the list; with none left the section is hidden.
import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@^1.65.1";
import { defineMachine } from "../../mod.ts";
import { loadPlugins } from "../../lib/plugins/loader.ts";
import { waitFor } from "../_wait.ts";
import { inspectorBrowserTest } from "./_inspector_browser.ts";

/** The mailer plugin (tests/fixtures/inspector_effects/mailer): down until `recover`. */
const PLUGINS = new URL("../fixtures/inspector_effects/", import.meta.url).pathname;

/** On PING, sends a receipt to the mailer plugin (after the commit, through the outbox). */
const notifier = defineMachine({
  id: "notifier",
  initial: "idle",
  states: {
    idle: {
      on: {
        PING: {
          actions: ({ send }) => send({ type: "receipt" }, { to: "plugin:mailer.send" }),
        },
      },
    },
  },
});

const row = (effectId: string) => `#failed-effects tr.effect[data-effect="${effectId}"]`;
const detail = (effectId: string) => `#failed-effects tr.effect-detail[data-effect="${effectId}"]`;

/** An effect's rows: effect id, attempts, failed at; then what was sent where, and the error. */
function cells(page: Page, effectId: string): Promise<string[]> {
  return page.$$eval(
    `${row(effectId)} td, ${detail(effectId)} td > div`,
    (tds) =>
      tds.filter((td) => td.tagName === "DIV" || !td.querySelector("button"))
        .map((td) => td.textContent ?? ""),
  );
}

/** A time as the page shows it (the browser's locale, 24-hour clock). */
function shown(page: Page, at: number): Promise<string> {
  return page.evaluate((t) => new Date(t).toLocaleTimeString([], { hour12: false }), at);
}

inspectorBrowserTest(
  "inspector in Chromium: failed effects are listed and redriven one at a time",
  async (s, page) => {
    const report = await loadPlugins({ dirs: [PLUGINS], supervisor: s.runtime.plugins });
    assert.deepEqual(report.failed, []);
    await s.runtime.spawn("door", "door-1");
    await s.runtime.spawn("notifier", "n1");
    await s.runtime.send("n1", { type: "PING" });
    await s.runtime.send("n1", { type: "PING" });
    const failed = await waitFor("both deliveries to fail", async () => {
      const f = (await s.runtime.get("n1"))?.failedEffects ?? [];
      return f.length === 2 ? f : undefined;
    });
    const [first, second] = failed.map((f) => f.effectId);
    assert.deepEqual([first, second], ["n1:send:1:0", "n1:send:2:0"]);

    // An instance without failed effects: no section.
    await page.goto(`${s.url}#door-1`);
    await page.waitForSelector('#journal tr.entry[data-seq="0"]');
    assert.equal(await page.isHidden("#failed"), true);

    await page.click('[data-instance="n1"]');
    await page.waitForSelector(row(second));
    assert.equal(await page.isVisible("#failed"), true);
    // Between Context and Journal.
    const headings = await page.$$eval("#panel h3", (hs) => hs.map((h) => h.textContent));
    assert.deepEqual(headings.slice(-3), ["Context", "Failed effects", "Journal"]);
    const at = failed[0].at;
    const error = failed[0].error;
    assert.match(error, /SMTP relay .* down for maintenance/);
    const [id, attempts, when, sent, text] = await cells(page, first);
    assert.deepEqual([id, attempts, when, sent], [
      first,
      "1",
      await shown(page, at),
      "receipt → plugin:mailer.send",
    ]);
    // The error, cut short; the whole of it in the tooltip.
    assert.ok(text.startsWith('✕ plugin "mailer": Error: SMTP relay'), text);
    assert.ok(text.endsWith("…") && text.length < error.length, text);
    assert.equal(await page.getAttribute(`${detail(first)} .error`, "title"), error);
    // The operator bar's redrive (all of them) points to the list.
    assert.equal(await page.isDisabled("#op-redrive"), false);
    assert.match((await page.getAttribute("#op-redrive", "title"))!, /the 2 failed effects again/);

    // Redriven while the mailer is still down: failed again, on the message line as an
    // error, one more attempt, failed later (the clock moved).
    await s.time.advance("90s");
    await page.click(`${row(first)} button.redrive`);
    await page.waitForSelector("#message.error");
    assert.match(
      (await page.textContent("#message"))!,
      /n1:send:1:0 failed \(plugin "mailer": Error: SMTP relay/,
    );
    await page.waitForSelector(`${row(first)} td.attempts:text-is("2")`);
    const again = (await s.runtime.get("n1"))!.failedEffects!.find((f) => f.effectId === first)!;
    assert.equal(again.at, at + 90_000);
    assert.equal((await cells(page, first))[2], await shown(page, again.at));
    assert.equal((await cells(page, second))[1], "1", "the other effect did not run");

    // The mailer is back: a redrive delivers the first, which leaves the list; the other stays.
    const before = await s.runtime.plugins.call("mailer", "recover");
    assert.deepEqual(before, []);
    await page.click(`${row(first)} button.redrive`);
    await page.waitForSelector('#message:text-is("redriven n1: n1:send:1:0 delivered")');
    assert.equal(await page.getAttribute("#message", "class"), "");
    await page.waitForSelector(row(first), { state: "detached" });
    assert.equal(await page.isVisible(row(second)), true);
    assert.deepEqual(await s.runtime.plugins.call("mailer", "recover"), [`receipt@${first}`]);
    assert.deepEqual((await s.runtime.get("n1"))?.failedEffects?.map((f) => f.effectId), [
      second,
    ]);

    // The last one delivered: the section is hidden.
    await page.click(`${row(second)} button.redrive`);
    await page.waitForSelector(`#message:text-is("redriven n1: ${second} delivered")`);
    await page.waitForSelector("#failed", { state: "hidden" });
    assert.equal(await page.locator("#failed-effects tbody tr").count(), 0);
    // Each redrive is a journal entry, by the HTTP API.
    await page.waitForSelector('#journal tr.entry[data-seq="5"]');
    const kinds = await page.$$eval(
      "#journal tr.entry",
      (trs) => trs.map((tr) => [tr.children[2].textContent, tr.children[4].textContent]),
    );
    assert.deepEqual(kinds.slice(0, 3), [["redrive", "http"], ["redrive", "http"], [
      "redrive",
      "http",
    ]]);
  },
  { machines: [notifier] },
);
